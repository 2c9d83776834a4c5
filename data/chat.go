package data

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
)

// Conversation is one chat example: the messages, and where it came from.
type Conversation struct {
	Messages []Message
	// Task is the optional "task" field of the line (data/synth writes it so that
	// evaluation can report accuracy per task); loaders otherwise ignore it.
	Task string
	// Source is "file:line", for messages about this example.
	Source string
}

// LoadOptions controls how strictly datasets are read.
type LoadOptions struct {
	// SkipBad skips malformed lines and counts them instead of failing.
	SkipBad bool
}

// LoadStats counts what a load read.
type LoadStats struct {
	Files   int // files read
	Records int // records kept
	Skipped int // malformed lines skipped (only with SkipBad)
	// FirstSkipped describes the first skipped line, "file:line: what is wrong".
	FirstSkipped string
}

func (s *LoadStats) add(o LoadStats) {
	s.Files += o.Files
	s.Records += o.Records
	if s.Skipped == 0 {
		s.FirstSkipped = o.FirstSkipped
	}
	s.Skipped += o.Skipped
}

// LineError is a malformed line in an input file.
type LineError struct {
	File string
	Line int
	Err  error
}

func (e *LineError) Error() string { return fmt.Sprintf("%s:%d: %v", e.File, e.Line, e.Err) }
func (e *LineError) Unwrap() error { return e.Err }

// chatRecord is every shape of chat line understood, decoded at once.
type chatRecord struct {
	Messages []Message `json:"messages"`
	// Alpaca shape.
	Instruction *string `json:"instruction"`
	Input       *string `json:"input"`
	Output      *string `json:"output"`
	// Prompt/response shape.
	Prompt   *string `json:"prompt"`
	Response *string `json:"response"`

	Task string `json:"task"`
}

// conversation maps a decoded line to a Conversation, or says what is wrong.
func (r *chatRecord) conversation() (Conversation, error) {
	var msgs []Message
	switch {
	case r.Messages != nil:
		msgs = r.Messages
	case r.Instruction != nil || r.Output != nil:
		if r.Instruction == nil || r.Output == nil {
			return Conversation{}, errors.New(`"instruction" and "output" must come together`)
		}
		user := *r.Instruction
		if r.Input != nil && strings.TrimSpace(*r.Input) != "" {
			user += "\n\n" + *r.Input // the alpaca convention: instruction, blank line, input
		}
		msgs = []Message{{RoleUser, user}, {RoleAssistant, *r.Output}}
	case r.Prompt != nil || r.Response != nil:
		if r.Prompt == nil || r.Response == nil {
			return Conversation{}, errors.New(`"prompt" and "response" must come together`)
		}
		msgs = []Message{{RoleUser, *r.Prompt}, {RoleAssistant, *r.Response}}
	default:
		return Conversation{}, errors.New(`no "messages", "instruction"/"output" or "prompt"/"response" field`)
	}
	if err := ValidateConversation(msgs); err != nil {
		return Conversation{}, err
	}
	return Conversation{Messages: msgs, Task: r.Task}, nil
}

// ValidateConversation checks that a conversation can be trained on: known roles,
// a system message only first, a user message, and the assistant's reply last.
func ValidateConversation(msgs []Message) error {
	if len(msgs) == 0 {
		return errors.New("no messages")
	}
	for i, m := range msgs {
		switch m.Role {
		case RoleUser, RoleAssistant:
		case RoleSystem:
			if i != 0 {
				return fmt.Errorf("messages[%d]: a system message may only come first", i)
			}
		default:
			return fmt.Errorf("messages[%d]: unknown role %q (want system, user or assistant)", i, m.Role)
		}
	}
	if last := msgs[len(msgs)-1]; last.Role != RoleAssistant {
		return fmt.Errorf("the last message is from %q; it must be the assistant's reply", last.Role)
	}
	if !slices.ContainsFunc(msgs, func(m Message) bool { return m.Role == RoleUser }) {
		return errors.New("no user message: nothing to answer")
	}
	return nil
}

// ReadChatJSONL reads chat records from r, one JSON object a line, and calls fn
// for each. name is the file name used in errors ("name:line: ..."). Blank lines
// are skipped.
func ReadChatJSONL(r io.Reader, name string, opts LoadOptions, fn func(Conversation) error) (LoadStats, error) {
	return eachLine(r, name, opts, func(line []byte, at string) (bool, error) {
		var rec chatRecord
		if err := json.Unmarshal(line, &rec); err != nil {
			return false, jsonError(err)
		}
		c, err := rec.conversation()
		if err != nil {
			return false, err
		}
		c.Source = at
		if err := fn(c); err != nil {
			return true, errCallback{err}
		}
		return true, nil
	})
}

// errCallback marks an error returned by the caller's function, which is passed
// through rather than counted as a malformed line.
type errCallback struct{ err error }

func (e errCallback) Error() string { return e.err.Error() }

// eachLine runs parse on every non-blank line. parse returns whether the line gave
// a record, or an error: a malformed line's, or the caller's callback's wrapped in
// errCallback, which stops the reading whatever SkipBad says.
func eachLine(r io.Reader, name string, opts LoadOptions, parse func(line []byte, at string) (bool, error)) (LoadStats, error) {
	st := LoadStats{Files: 1}
	br := bufio.NewReaderSize(r, 1<<20)
	for lineNo := 1; ; lineNo++ {
		line, readErr := br.ReadBytes('\n')
		if readErr != nil && readErr != io.EOF {
			return st, fmt.Errorf("%s:%d: %w", name, lineNo, readErr)
		}
		if trimmed := bytes.TrimSpace(line); len(trimmed) > 0 {
			at := fmt.Sprintf("%s:%d", name, lineNo)
			ok, err := parse(trimmed, at)
			var cb errCallback
			switch {
			case errors.As(err, &cb):
				return st, cb.err
			case err != nil && opts.SkipBad:
				if st.Skipped == 0 {
					st.FirstSkipped = (&LineError{name, lineNo, err}).Error()
				}
				st.Skipped++
			case err != nil:
				return st, &LineError{name, lineNo, err}
			case ok:
				st.Records++
			}
		}
		if readErr == io.EOF {
			return st, nil
		}
	}
}

// jsonError phrases a decoding error for a person reading "file:line: ...".
func jsonError(err error) error {
	var syn *json.SyntaxError
	if errors.As(err, &syn) {
		return fmt.Errorf("invalid JSON: %v (at byte %d)", syn, syn.Offset)
	}
	var typ *json.UnmarshalTypeError
	if errors.As(err, &typ) {
		if typ.Field == "" {
			return fmt.Errorf("invalid record: a JSON %s, want an object", typ.Value)
		}
		want := typ.Type.String()
		switch typ.Type.Kind() {
		case reflect.Slice:
			want = "an array"
		case reflect.Struct:
			want = "an object"
		}
		return fmt.Errorf("invalid record: field %q holds a JSON %s, want %s", typ.Field, typ.Value, want)
	}
	return fmt.Errorf("invalid JSON: %v", err)
}

// LoadChat reads chat JSONL from files and folders (every *.jsonl, *.jsonl.gz and
// *.jsonl.zst below a folder, in lexical order).
func LoadChat(paths []string, opts LoadOptions) ([]Conversation, LoadStats, error) {
	var convs []Conversation
	st, err := EachChat(paths, opts, func(c Conversation) error {
		convs = append(convs, c)
		return nil
	})
	return convs, st, err
}

// EachChat is LoadChat calling fn for each conversation instead of keeping them.
func EachChat(paths []string, opts LoadOptions, fn func(Conversation) error) (LoadStats, error) {
	files, err := expandPaths(paths, ".jsonl")
	if err != nil {
		return LoadStats{}, err
	}
	var total LoadStats
	for _, path := range files {
		st, err := readFile(path, func(r io.Reader) (LoadStats, error) {
			return ReadChatJSONL(r, path, opts, fn)
		})
		total.add(st)
		if err != nil {
			return total, err
		}
	}
	return total, nil
}

func readFile(path string, read func(io.Reader) (LoadStats, error)) (LoadStats, error) {
	rc, err := Open(path)
	if err != nil {
		return LoadStats{}, err
	}
	defer rc.Close()
	return read(rc)
}

// ChatFiles lists the files LoadChat and EachChat read for paths.
func ChatFiles(paths []string) ([]string, error) { return expandPaths(paths, ".jsonl") }

// TextFiles lists the files EachDocument reads for paths.
func TextFiles(paths []string) ([]string, error) { return expandPaths(paths, textExts...) }

// expandPaths lists the files to read: a file as given, a folder's files whose
// names end in one of exts (before any .gz/.zst), in lexical order.
func expandPaths(paths []string, exts ...string) ([]string, error) {
	if len(paths) == 0 {
		return nil, errors.New("no input paths given")
	}
	var files []string
	for _, p := range paths {
		info, err := os.Stat(p)
		if err != nil {
			return nil, err
		}
		if !info.IsDir() {
			files = append(files, p)
			continue
		}
		n := len(files)
		err = filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if !d.IsDir() && hasExt(path, exts...) {
				files = append(files, path)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		if len(files) == n {
			return nil, fmt.Errorf("%s: no %s files in this folder", p, strings.Join(exts, " or "))
		}
	}
	return files, nil
}
