// Command corpora turns the raw files that scripts/fetch-corpora.sh downloads into
// the project's corpus formats: plain-text corpora as JSONL with one document a
// line ({"text", "source"}), and instruction pairs as chat JSONL.
//
//	go run ./scripts/corpora sotu      PACKAGE_DIR OUT.jsonl   # State of the Union addresses
//	go run ./scripts/corpora moby-dick PACKAGE_DIR OUT.jsonl   # Moby Dick, one chapter a line
//	go run ./scripts/corpora wordnet   WORDNET_DIR OUT.jsonl   # "What does X mean?" pairs
//
// PACKAGE_DIR is an unpacked npm package (its data/ folder holds the text);
// WORDNET_DIR holds WordNet's index.* and data.* files.
package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/dllmgo/dllm/data"
	"github.com/dllmgo/dllm/internal/atomicfile"
)

func main() {
	if len(os.Args) != 4 {
		fmt.Fprintln(os.Stderr, "usage: corpora sotu|moby-dick|wordnet IN_DIR OUT.jsonl")
		os.Exit(2)
	}
	kind, in, out := os.Args[1], os.Args[2], os.Args[3]
	var lines []any
	var err error
	switch kind {
	case "sotu":
		lines, err = sotu(in)
	case "moby-dick":
		lines, err = mobyDick(in)
	case "wordnet":
		lines, err = wordnet(in)
	default:
		err = fmt.Errorf("unknown corpus %q (want sotu, moby-dick or wordnet)", kind)
	}
	if err == nil {
		err = writeJSONL(out, lines)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "corpora:", err)
		os.Exit(1)
	}
	fmt.Printf("%s: %d records\n", out, len(lines))
}

type textLine struct {
	Text   string `json:"text"`
	Source string `json:"source"`
}

// sotu reads one address per data/*.txt file; the names start with the year,
// so their lexical order is chronological.
func sotu(pkg string) ([]any, error) {
	files, err := filepath.Glob(filepath.Join(pkg, "data", "*.txt"))
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("%s: no data/*.txt files", pkg)
	}
	sort.Strings(files)
	var out []any
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		if text := data.NormalizeText(string(raw)); text != "" {
			out = append(out, textLine{text, "sotu/" + strings.TrimSuffix(filepath.Base(f), ".txt")})
		}
	}
	return out, nil
}

// mobyDick reads the chapters in the order data/file_list.json gives, joining
// the book's hard-wrapped lines into paragraphs.
func mobyDick(pkg string) ([]any, error) {
	raw, err := os.ReadFile(filepath.Join(pkg, "data", "file_list.json"))
	if err != nil {
		return nil, err
	}
	var names []string
	if err := json.Unmarshal(raw, &names); err != nil {
		return nil, fmt.Errorf("file_list.json: %w", err)
	}
	var out []any
	for _, n := range names {
		if n == "contents.txt" {
			continue // the table of contents is not prose
		}
		raw, err := os.ReadFile(filepath.Join(pkg, "data", n))
		if err != nil {
			return nil, err
		}
		if text := data.UnwrapParagraphs(string(raw)); text != "" {
			out = append(out, textLine{text, "moby-dick/" + strings.TrimSuffix(n, ".txt")})
		}
	}
	return out, nil
}

type chatLine struct {
	Messages []data.Message `json:"messages"`
	Source   string         `json:"source"`
}

func wordnet(dir string) ([]any, error) {
	glosses, err := data.ReadWordNetGlosses(dir)
	if err != nil {
		return nil, err
	}
	out := make([]any, len(glosses))
	for i, g := range glosses {
		out[i] = chatLine{g.Conversation(), "wordnet/" + g.POS}
	}
	return out, nil
}

func writeJSONL(path string, lines []any) error {
	return atomicfile.Write(path, 0o644, func(w io.Writer) error {
		enc := json.NewEncoder(w)
		enc.SetEscapeHTML(false)
		for _, l := range lines {
			if err := enc.Encode(l); err != nil {
				return err
			}
		}
		return nil
	})
}
