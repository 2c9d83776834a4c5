package data

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Document is one unit of a plain-text corpus: a file, or one line of a JSONL file.
type Document struct {
	Text   string
	Source string // the file, or "file:line" for JSONL
}

// textExts are the file names a folder walk reads as corpora.
var textExts = []string{".txt", ".text", ".md", ".jsonl"}

// EachDocument reads plain-text corpora from files and folders and calls fn for
// each document, in order. A *.jsonl file holds one document a line as
// {"text": "..."} (other fields are ignored); any other file is one document.
// Folders contribute their *.txt, *.text, *.md and *.jsonl files (each possibly
// .gz or .zst), in lexical order. Empty documents are skipped.
func EachDocument(paths []string, opts LoadOptions, fn func(Document) error) (LoadStats, error) {
	files, err := expandPaths(paths, textExts...)
	if err != nil {
		return LoadStats{}, err
	}
	var total LoadStats
	for _, path := range files {
		st, err := readFile(path, func(r io.Reader) (LoadStats, error) {
			if hasExt(path, ".jsonl") {
				return readTextJSONL(r, path, opts, fn)
			}
			raw, err := io.ReadAll(r)
			if err != nil {
				return LoadStats{Files: 1}, fmt.Errorf("%s: %w", path, err)
			}
			st := LoadStats{Files: 1}
			if text := NormalizeText(string(raw)); text != "" {
				st.Records++
				return st, fn(Document{Text: text, Source: path})
			}
			return st, nil
		})
		total.add(st)
		if err != nil {
			return total, err
		}
	}
	return total, nil
}

func readTextJSONL(r io.Reader, name string, opts LoadOptions, fn func(Document) error) (LoadStats, error) {
	return eachLine(r, name, opts, func(line []byte, at string) (bool, error) {
		var rec struct {
			Text *string `json:"text"`
		}
		if err := json.Unmarshal(line, &rec); err != nil {
			return false, jsonError(err)
		}
		if rec.Text == nil {
			return false, errors.New(`no "text" field`)
		}
		text := NormalizeText(*rec.Text)
		if text == "" {
			return false, nil
		}
		if err := fn(Document{Text: text, Source: at}); err != nil {
			return true, errCallback{err}
		}
		return true, nil
	})
}

// NormalizeText makes text regular without changing its words: it drops a
// byte-order mark, turns CRLF and CR line ends into LF, removes trailing spaces
// on each line, keeps at most one blank line between paragraphs and trims the
// ends.
func NormalizeText(s string) string {
	s = strings.TrimPrefix(s, "\ufeff")
	s = strings.ReplaceAll(s, "\r\n", "\n")
	s = strings.ReplaceAll(s, "\r", "\n")
	lines := strings.Split(s, "\n")
	out := lines[:0]
	blank := 0
	for _, l := range lines {
		l = strings.TrimRight(l, " \t\v\f")
		if l == "" {
			blank++
			continue
		}
		if len(out) > 0 && blank > 0 {
			out = append(out, "")
		}
		blank = 0
		out = append(out, l)
	}
	return strings.Join(out, "\n")
}

// UnwrapParagraphs joins the hard-wrapped lines of each paragraph (paragraphs are
// separated by blank lines) with single spaces, as books from plain-text archives
// need: a line break inside a sentence is noise to a language model.
func UnwrapParagraphs(s string) string {
	paras := strings.Split(NormalizeText(s), "\n\n")
	for i, p := range paras {
		paras[i] = strings.Join(strings.Fields(p), " ")
	}
	return strings.Join(paras, "\n\n")
}
