package chattemplate

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/ardanlabs/jinja"

	"github.com/dllmgo/dllm/data"
)

// DefaultTimeout bounds one rendering where Template.Timeout is zero (it
// is read when a rendering starts); a chat template renders in
// microseconds, so a rendering this slow is a template that loops.
var DefaultTimeout = 5 * time.Second

// MaxRange is the most items range() makes, jinja2's sandbox limit.
const MaxRange = 100000

// ErrTimeout is wrapped by a rendering that did not finish in time.
var ErrTimeout = errors.New("the template did not finish (does it loop?)")

// Template is a compiled chat template with the variables every rendering
// gets (the tokenizer's special tokens by name).
type Template struct {
	src  string
	tpl  *jinja.Template
	vars map[string]jinja.Value
	eot  string
	// Timeout bounds one rendering (DefaultTimeout when zero).
	Timeout time.Duration
}

// Conversation is what one rendering reads: the messages (a JSON array of
// objects with role and content, and whatever else the template reads, such
// as tool_calls or reasoning_content), the tools (a JSON array, or empty),
// add_generation_prompt, and extra variables (enable_thinking).
type Conversation struct {
	Messages            jinja.Value
	Tools               jinja.Value
	AddGenerationPrompt bool
	Vars                map[string]jinja.Value
}

// Parse compiles Jinja text. vars are the variables every rendering gets:
// the special tokens, as transformers passes the tokenizer's
// special_tokens_map (bos_token, eos_token, ...). A template that does not
// compile, whose macros recurse, or whose probe rendering does not finish
// is an error.
func Parse(text string, vars map[string]any) (*Template, error) {
	tpl, err := jinja.Compile(text)
	if err != nil {
		return nil, err
	}
	if err := checkRecursion(text); err != nil {
		return nil, err
	}
	t := &Template{src: text, tpl: tpl, vars: map[string]jinja.Value{}}
	for k, v := range vars {
		t.vars[k] = jinja.FromGoValue(v)
	}
	if err := t.probe(); err != nil {
		return nil, err
	}
	return t, nil
}

// Jinja implements data.Template: the text it was parsed from.
func (t *Template) Jinja() string { return t.src }

// Execute renders a conversation.
func (t *Template) Execute(c Conversation) (string, error) {
	env := map[string]jinja.Value{
		"range":                 jinja.NewCallable("range", cappedRange),
		"raise_exception":       jinja.NewCallable("raise_exception", raiseException),
		"strftime_now":          jinja.NewCallable("strftime_now", strftimeNow),
		"messages":              c.Messages,
		"add_generation_prompt": jinja.NewBool(c.AddGenerationPrompt),
		"tools":                 jinja.None(),
		"documents":             jinja.None(),
	}
	if c.Messages.IsUndefined() {
		env["messages"] = jinja.NewList([]jinja.Value{})
	}
	if !c.Tools.IsUndefined() && !c.Tools.IsNone() && !(c.Tools.IsList() && len(c.Tools.AsList().Items) == 0) {
		env["tools"] = c.Tools
	}
	for k, v := range t.vars {
		env[k] = v
	}
	for k, v := range c.Vars {
		env[k] = v
	}
	type result struct {
		s   string
		err error
	}
	done := make(chan result, 1)
	go func() {
		defer func() {
			if r := recover(); r != nil {
				done <- result{err: fmt.Errorf("the template failed: %v", r)}
			}
		}()
		s, err := t.tpl.RenderValues(env)
		done <- result{s, err}
	}()
	timeout := t.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case r := <-done:
		return r.s, r.err
	case <-timer.C:
		return "", fmt.Errorf("%w within %v", ErrTimeout, timeout)
	}
}

// Messages turns plain messages into a template value.
func Messages(msgs []data.Message) jinja.Value {
	items := make([]jinja.Value, len(msgs))
	for i, m := range msgs {
		d := jinja.NewDict()
		d.AsDict().Set("role", jinja.NewString(m.Role))
		d.AsDict().Set("content", jinja.NewString(m.Content))
		items[i] = d
	}
	return jinja.NewList(items)
}

// Render implements data.Template. An empty conversation is refused, as
// the built-in templates refuse it (jinja2 fails on it in most templates).
func (t *Template) Render(msgs []data.Message, addGenerationPrompt bool) (string, error) {
	if len(msgs) == 0 {
		return "", data.ErrNoMessages
	}
	return t.Execute(Conversation{Messages: Messages(msgs), AddGenerationPrompt: addGenerationPrompt})
}

// EndOfTurn implements data.Template: the marker the template writes after
// an answer, found by the probe in Parse ("" when it writes none and the
// special tokens name no eos_token).
func (t *Template) EndOfTurn() string { return t.eot }

// Answer implements data.Template: the text up to the first end of turn,
// trimmed.
func (t *Template) Answer(generated string) string {
	if t.eot != "" {
		if i := strings.Index(generated, t.eot); i >= 0 {
			generated = generated[:i]
		}
	}
	return strings.TrimSpace(generated)
}

// probeAnswer stands for an answer in the probe conversations.
const probeAnswer = "\x00probe-answer\x00"

// probe renders a short conversation ending with an answer and reads the
// end of turn from what follows the answer: the eos token when it comes
// first, else the first <...> or [...] piece, else the first word. A
// template that refuses every probe (it may want a system message, or
// none) falls back on the eos token; one that does not finish fails.
func (t *Template) probe() error {
	eos := ""
	if v, ok := t.vars["eos_token"]; ok && v.IsString() {
		eos = v.AsString()
	}
	t.eot = eos
	for _, roles := range [][]string{{"user", "assistant"}, {"system", "user", "assistant"}} {
		msgs := make([]data.Message, len(roles))
		for i, r := range roles {
			msgs[i] = data.Message{Role: r, Content: "probe " + r}
		}
		msgs[len(msgs)-1].Content = probeAnswer
		out, err := t.Render(msgs, false)
		if errors.Is(err, ErrTimeout) {
			return err
		}
		i := strings.Index(out, probeAnswer)
		if err != nil || i < 0 {
			continue
		}
		if e := endOfTurn(out[i+len(probeAnswer):], eos); e != "" {
			t.eot = e
		}
		return nil
	}
	return nil
}

func endOfTurn(after, eos string) string {
	s := strings.TrimSpace(after)
	switch {
	case s == "":
		return ""
	case eos != "" && strings.HasPrefix(s, eos):
		return eos
	case s[0] == '<' && strings.IndexByte(s, '>') > 0:
		return s[:strings.IndexByte(s, '>')+1]
	case s[0] == '[' && strings.IndexByte(s, ']') > 0:
		return s[:strings.IndexByte(s, ']')+1]
	}
	if i := strings.IndexFunc(s, func(r rune) bool { return r == ' ' || r == '\n' || r == '\t' }); i > 0 {
		return s[:i]
	}
	return s
}

// macroDef finds a macro's name; its body runs to the next endmacro.
var (
	macroDef = regexp.MustCompile(`\{%[-+]?\s*macro\s+(\w+)\s*\(`)
	macroEnd = regexp.MustCompile(`\{%[-+]?\s*endmacro\b`)
	callName = regexp.MustCompile(`\b(\w+)\s*\(`)
)

// checkRecursion refuses macros that call themselves, directly or through
// other macros.
func checkRecursion(text string) error {
	calls := map[string][]string{}
	defined := map[string]bool{}
	for _, loc := range macroDef.FindAllStringSubmatchIndex(text, -1) {
		name := text[loc[2]:loc[3]]
		defined[name] = true
		body := text[loc[1]:]
		if end := macroEnd.FindStringIndex(body); end != nil {
			body = body[:end[0]]
		}
		for _, c := range callName.FindAllStringSubmatch(body, -1) {
			calls[name] = append(calls[name], c[1])
		}
	}
	// Depth-first search for a cycle among the macros.
	state := map[string]int{} // 1 on the path, 2 done
	var path []string
	var visit func(string) []string
	visit = func(n string) []string {
		switch state[n] {
		case 1:
			return append(slices.Clone(path[slices.Index(path, n):]), n)
		case 2:
			return nil
		}
		state[n] = 1
		path = append(path, n)
		for _, c := range calls[n] {
			if !defined[c] {
				continue
			}
			if cyc := visit(c); cyc != nil {
				return cyc
			}
		}
		path = path[:len(path)-1]
		state[n] = 2
		return nil
	}
	names := make([]string, 0, len(calls))
	for n := range calls {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		if cyc := visit(n); cyc != nil {
			return fmt.Errorf("macro %s calls itself (%s): recursive templates are refused, the engine has no depth limit", n, strings.Join(cyc, " -> "))
		}
	}
	return nil
}

func raiseException(args []jinja.Value, _ map[string]jinja.Value) (jinja.Value, error) {
	if len(args) == 0 {
		return jinja.Undefined(), errors.New("raise_exception: no message")
	}
	return jinja.Undefined(), fmt.Errorf("%s", plain(args[0]))
}

func strftimeNow(args []jinja.Value, _ map[string]jinja.Value) (jinja.Value, error) {
	if len(args) != 1 || !args[0].IsString() {
		return jinja.Undefined(), errors.New("strftime_now takes one format string")
	}
	return jinja.NewString(strftime(time.Now(), args[0].AsString())), nil
}

// cappedRange is Python's range, refusing more than MaxRange items.
func cappedRange(args []jinja.Value, _ map[string]jinja.Value) (jinja.Value, error) {
	var n [3]int64
	for i, a := range args {
		if i >= 3 || !a.IsInt() {
			return jinja.Undefined(), errors.New("range takes one to three integers")
		}
		n[i] = a.AsInt()
	}
	start, stop, step := int64(0), int64(0), int64(1)
	switch len(args) {
	case 1:
		stop = n[0]
	case 2:
		start, stop = n[0], n[1]
	case 3:
		start, stop, step = n[0], n[1], n[2]
	default:
		return jinja.Undefined(), errors.New("range takes one to three integers")
	}
	if step == 0 {
		return jinja.Undefined(), errors.New("range() arg 3 must not be zero")
	}
	count := int64(0)
	if step > 0 && stop > start {
		count = (stop - start + step - 1) / step
	} else if step < 0 && start > stop {
		count = (start - stop - step - 1) / -step
	}
	if count > MaxRange {
		return jinja.Undefined(), fmt.Errorf("range too big (%d items; the limit is %d)", count, MaxRange)
	}
	items := make([]jinja.Value, count)
	for i := range items {
		items[i] = jinja.NewInt(start + int64(i)*step)
	}
	return jinja.NewList(items), nil
}

func plain(v jinja.Value) string {
	if v.IsString() {
		return v.AsString()
	}
	return fmt.Sprint(v)
}
