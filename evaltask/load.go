package evaltask

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/dllmgo/dllm/data"
)

// LambadaItem is one passage: Context is the passage without its last word,
// Target that word (with no surrounding space).
type LambadaItem struct {
	Context, Target string
	Source          string // file:line
}

// GSM8KItem is one problem: the question and the reference's final number.
type GSM8KItem struct {
	Question, Answer string
	Source           string
}

// ChoiceItem is one multiple-choice question: option i is scored as the
// continuation Continuations[i] of Contexts[i].
type ChoiceItem struct {
	Contexts, Continuations []string
	// Answer is the index of the right option.
	Answer int
	Source string
}

// eachLine calls fn with every non-blank line of a JSONL file (gzip or
// zstd read transparently) and its "file:line".
func eachLine(path string, fn func(line []byte, where string) error) error {
	f, err := data.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<16), 64<<20)
	n := 0
	for sc.Scan() {
		n++
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		if err := fn(line, fmt.Sprintf("%s:%d", path, n)); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

func decode(line []byte, where string, v any) error {
	dec := json.NewDecoder(bytes.NewReader(line))
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%s: not a JSON object: %v", where, err)
	}
	return nil
}

// LoadLambada reads {"text": ...} lines (the last whitespace-separated
// word is the target) or {"context": ..., "target": ...} lines.
func LoadLambada(path string) ([]LambadaItem, error) {
	var items []LambadaItem
	err := eachLine(path, func(line []byte, where string) error {
		var l struct {
			Text    *string `json:"text"`
			Context *string `json:"context"`
			Target  *string `json:"target"`
		}
		if err := decode(line, where, &l); err != nil {
			return err
		}
		var it LambadaItem
		switch {
		case l.Text != nil:
			t := strings.TrimRightFunc(*l.Text, isSpace)
			i := strings.LastIndexFunc(t, isSpace)
			if i < 0 {
				return fmt.Errorf("%s: \"text\" has no word before its last one", where)
			}
			it = LambadaItem{Context: t[:i], Target: strings.TrimSpace(t[i:])}
		case l.Context != nil && l.Target != nil:
			it = LambadaItem{Context: strings.TrimRightFunc(*l.Context, isSpace), Target: strings.TrimSpace(*l.Target)}
		default:
			return fmt.Errorf("%s: want {\"text\": ...} or {\"context\": ..., \"target\": ...}", where)
		}
		if it.Context == "" || it.Target == "" {
			return fmt.Errorf("%s: empty context or target word", where)
		}
		it.Source = where
		items = append(items, it)
		return nil
	})
	return items, err
}

// LoadGSM8K reads {"question": ..., "answer": "... #### N"} lines.
func LoadGSM8K(path string) ([]GSM8KItem, error) {
	var items []GSM8KItem
	err := eachLine(path, func(line []byte, where string) error {
		var l struct {
			Question string `json:"question"`
			Answer   string `json:"answer"`
		}
		if err := decode(line, where, &l); err != nil {
			return err
		}
		if strings.TrimSpace(l.Question) == "" {
			return fmt.Errorf("%s: no \"question\"", where)
		}
		i := strings.LastIndex(l.Answer, "####")
		if i < 0 {
			return fmt.Errorf("%s: \"answer\" has no \"#### N\" final answer", where)
		}
		want, ok := ExtractNumber(l.Answer[i:])
		if !ok {
			return fmt.Errorf("%s: no number after \"####\" in \"answer\"", where)
		}
		items = append(items, GSM8KItem{Question: l.Question, Answer: want, Source: where})
		return nil
	})
	return items, err
}

// LoadChoice reads {"context", "choices", "answer"} lines, or Winogrande's
// {"contexts", "continuation", "answer"}; "answer" is an index from 0 or a
// letter ("A" is the first option).
func LoadChoice(path string) ([]ChoiceItem, error) {
	var items []ChoiceItem
	err := eachLine(path, func(line []byte, where string) error {
		var l struct {
			Context      *string         `json:"context"`
			Choices      []string        `json:"choices"`
			Contexts     []string        `json:"contexts"`
			Continuation *string         `json:"continuation"`
			Answer       json.RawMessage `json:"answer"`
		}
		if err := decode(line, where, &l); err != nil {
			return err
		}
		var it ChoiceItem
		switch {
		case l.Context != nil && len(l.Choices) > 0:
			for _, c := range l.Choices {
				it.Contexts = append(it.Contexts, *l.Context)
				it.Continuations = append(it.Continuations, c)
			}
		case len(l.Contexts) > 0 && l.Continuation != nil:
			for _, c := range l.Contexts {
				it.Contexts = append(it.Contexts, c)
				it.Continuations = append(it.Continuations, *l.Continuation)
			}
		default:
			return fmt.Errorf("%s: want {\"context\", \"choices\", \"answer\"} or {\"contexts\", \"continuation\", \"answer\"}", where)
		}
		n := len(it.Continuations)
		if n < 2 {
			return fmt.Errorf("%s: %d options; a choice needs at least 2", where, n)
		}
		for _, c := range it.Continuations {
			if c == "" {
				return fmt.Errorf("%s: an empty option", where)
			}
		}
		a, err := parseAnswer(l.Answer, n)
		if err != nil {
			return fmt.Errorf("%s: \"answer\": %v", where, err)
		}
		it.Answer, it.Source = a, where
		items = append(items, it)
		return nil
	})
	return items, err
}

func parseAnswer(raw json.RawMessage, n int) (int, error) {
	if len(raw) == 0 {
		return 0, fmt.Errorf("missing")
	}
	var i int
	if err := json.Unmarshal(raw, &i); err == nil {
		if i < 0 || i >= n {
			return 0, fmt.Errorf("index %d outside the %d options", i, n)
		}
		return i, nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return 0, fmt.Errorf("want an index or a letter, got %s", raw)
	}
	s = strings.TrimSpace(s)
	if len(s) == 1 && s[0] >= 'A' && s[0] <= 'Z' && int(s[0]-'A') < n {
		return int(s[0] - 'A'), nil
	}
	return 0, fmt.Errorf("want an index or a letter A..%c, got %q", 'A'+n-1, s)
}

func isSpace(r rune) bool { return r == ' ' || r == '\t' || r == '\n' || r == '\r' }
