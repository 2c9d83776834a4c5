package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/dllmgo/dllm/data/tokenizer"
)

func init() {
	register(&command{
		name:    "tokenize",
		summary: "encode JSON strings to token ids, or decode ids back (HF tokenizer.json)",
		run:     runTokenize,
	})
}

// maxTokenizeLine bounds one input line (a whole document may be one line).
const maxTokenizeLine = 256 << 20

func runTokenize(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("tokenize", stderr)
	tokPath := fs.String("tokenizer", "", "tokenizer.json `file` (required)")
	noSpecial := fs.Bool("no-special", false, "encode without the post-processor's special tokens ([CLS] ... [SEP])")
	decode := fs.Bool("decode", false, "decode: read JSON arrays of ids, write JSON strings")
	skipSpecial := fs.Bool("skip-special", false, "with --decode, leave special tokens out of the text")
	input := fs.String("input", "-", "read from this `file` instead of stdin")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: dllm tokenize --tokenizer FILE [--no-special] [--decode [--skip-special]] < lines")
		fmt.Fprintln(stderr, "\nEncode: each input line is a JSON string; each output line the JSON array of its ids.")
		fmt.Fprintln(stderr, "Decode: each input line is a JSON array of ids; each output line the JSON string.")
		fmt.Fprintln(stderr, "\nFlags:")
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return badInput("unexpected argument %q", fs.Arg(0))
	}
	if *tokPath == "" {
		return badInput("--tokenizer is required")
	}
	if *skipSpecial && !*decode {
		return badInput("--skip-special only applies with --decode")
	}
	tok, err := tokenizer.Load(*tokPath)
	if err != nil {
		return badInput("%v", err)
	}
	in, name := io.Reader(os.Stdin), "stdin"
	if *input != "-" {
		f, err := os.Open(*input)
		if err != nil {
			return badInput("%v", err)
		}
		defer f.Close()
		in, name = f, *input
	}

	out := bufio.NewWriter(stdout)
	// Lines before a bad one are answered: flush them even when stopping early.
	defer out.Flush()
	enc := json.NewEncoder(out)
	enc.SetEscapeHTML(false) // keep "<s>" readable
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 64<<10), maxTokenizeLine)
	for line := 1; sc.Scan(); line++ {
		if *decode {
			var ids []int
			if err := strictJSON(sc.Bytes(), &ids); err != nil {
				return badInput("%s:%d: want a JSON array of token ids: %v", name, line, err)
			}
			for _, id := range ids {
				if id < 0 || id >= tok.VocabSize() {
					return badInput("%s:%d: token id %d is outside the vocabulary (size %d)", name, line, id, tok.VocabSize())
				}
			}
			err = enc.Encode(tok.Decode(ids, *skipSpecial))
		} else {
			var text string
			if err := strictJSON(sc.Bytes(), &text); err != nil {
				return badInput("%s:%d: want a JSON string: %v", name, line, err)
			}
			ids := tok.Encode(text, !*noSpecial)
			if ids == nil {
				ids = []int{}
			}
			err = enc.Encode(ids)
		}
		if err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return badInput("%s: a line is longer than %d MB", name, maxTokenizeLine>>20)
		}
		return fmt.Errorf("%s: %w", name, err)
	}
	return out.Flush()
}

// strictJSON decodes exactly one JSON value of v's type from line.
func strictJSON(line []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(line))
	if err := dec.Decode(v); err != nil {
		if errors.Is(err, io.EOF) {
			return errors.New("empty line")
		}
		return err
	}
	if dec.More() {
		return errors.New("more than one value on the line")
	}
	return nil
}
