package main

import (
	"bufio"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/klauspost/compress/zstd"

	"github.com/dllmgo/dllm/data/tokenizer"
)

func init() {
	register(&command{
		name:    "tokenizer train",
		summary: "train a byte-level BPE tokenizer.json (ModernBERT-style specials) on text files",
		run:     runTokenizerTrain,
	})
}

// pathList is a repeatable flag.
type pathList []string

func (p *pathList) String() string     { return strings.Join(*p, ",") }
func (p *pathList) Set(s string) error { *p = append(*p, s); return nil }

func runTokenizerTrain(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("tokenizer train", stderr)
	var paths pathList
	fs.Var(&paths, "data", "text `path`: a file (.gz and .zst are decompressed) or a folder, read recursively; repeatable, and extra arguments count too")
	vocab := fs.Int("vocab-size", 8192, "vocabulary size, including the 5 special tokens and the 256 byte symbols")
	minFreq := fs.Int("min-frequency", 2, "merge only pairs seen at least this often")
	out := fs.String("out", "tokenizer.json", "output `file` (written atomically)")
	isolate := fs.Bool("isolate-spaces", false, "make every space its own token (a word is then one token wherever it stands)")
	digits := fs.Bool("split-digits", true, "make every digit its own token, as Llama and Qwen2 do (HF's Digits pre-tokenizer, individual_digits); --split-digits=false lets BPE merge digit runs")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: dllm tokenizer train --data PATH [--data PATH ...] --vocab-size N --out tokenizer.json")
		fmt.Fprintln(stderr, "\nLearns byte-level BPE (NFC, digits split, GPT-2 pre-tokenizer) with [PAD] [UNK] [CLS] [SEP] [MASK] at ids 0..4")
		fmt.Fprintln(stderr, "and the template [CLS] $A [SEP]. Deterministic. Hugging Face tokenizers loads the result.")
		fmt.Fprintln(stderr, "\nFlags:")
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	paths = append(paths, fs.Args()...)
	if len(paths) == 0 {
		return badInput("--data is required")
	}
	if *vocab < len(tokenizer.DefaultSpecials)+256 {
		return badInput("--vocab-size %d is too small: it must cover the %d specials and 256 byte symbols", *vocab, len(tokenizer.DefaultSpecials))
	}
	if *minFreq < 1 {
		return badInput("--min-frequency must be at least 1")
	}
	files, err := trainingFiles(paths)
	if err != nil {
		return err
	}

	start := time.Now()
	var readErr error
	var size int64
	lines := func(yield func(string) bool) {
		for _, f := range files {
			n, err := eachLine(f, func(line string) bool { return yield(line) })
			size += n
			if err != nil {
				readErr = err
				return
			}
		}
	}
	tok, err := tokenizer.Train(lines, tokenizer.TrainConfig{VocabSize: *vocab, MinFrequency: *minFreq, IsolateSpaces: *isolate, SplitDigits: *digits})
	if readErr != nil {
		return readErr
	}
	if err != nil {
		return badInput("%v", err)
	}
	if err := tok.Save(*out); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "trained %d tokens on %.1f MB from %d files in %s; wrote %s\n",
		tok.VocabSize(), float64(size)/1e6, len(files), time.Since(start).Round(time.Millisecond), *out)
	if tok.VocabSize() < *vocab {
		fmt.Fprintf(stdout, "note: no pair occurred %d times after that, so the vocabulary is smaller than %d\n", *minFreq, *vocab)
	}
	return nil
}

// trainingFiles expands folders (recursively, in name order) into files.
func trainingFiles(paths []string) ([]string, error) {
	var files []string
	for _, p := range paths {
		info, err := os.Stat(p)
		if err != nil {
			return nil, badInput("%v", err)
		}
		if !info.IsDir() {
			files = append(files, p)
			continue
		}
		var found []string
		err = filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.Type().IsRegular() && !strings.HasPrefix(d.Name(), ".") {
				found = append(found, path)
			}
			return nil
		})
		if err != nil {
			return nil, badInput("%v", err)
		}
		if len(found) == 0 {
			return nil, badInput("%s: folder holds no files", p)
		}
		sort.Strings(found)
		files = append(files, found...)
	}
	return files, nil
}

// eachLine calls fn with every line of the file, newline included (the
// pre-tokenizer sees line breaks, as HF's trainer does), decompressing .gz and
// .zst. It returns the bytes read and a usage error naming the file if it
// cannot be read.
func eachLine(path string, fn func(string) bool) (int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, badInput("%v", err)
	}
	defer f.Close()
	var r io.Reader = f
	switch {
	case strings.HasSuffix(path, ".gz"):
		zr, err := gzip.NewReader(f)
		if err != nil {
			return 0, badInput("%s: not gzip data: %v", path, err)
		}
		defer zr.Close()
		r = zr
	case strings.HasSuffix(path, ".zst"):
		zr, err := zstd.NewReader(f)
		if err != nil {
			return 0, badInput("%s: not zstd data: %v", path, err)
		}
		defer zr.Close()
		r = zr
	}
	br := bufio.NewReaderSize(r, 1<<20)
	var n int64
	for {
		line, err := br.ReadString('\n')
		n += int64(len(line))
		if line != "" && !fn(line) {
			return n, nil
		}
		if errors.Is(err, io.EOF) {
			return n, nil
		}
		if err != nil {
			return n, badInput("%s: %v", path, err)
		}
	}
}
