package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/ardanlabs/jinja"

	"github.com/dllmgo/dllm/chattemplate"
	"github.com/dllmgo/dllm/data"
	"github.com/dllmgo/dllm/modeldir"
)

func init() {
	register(&command{
		name:    "template",
		summary: "print a conversation (JSON on stdin) as the model folder's chat template renders it",
		run: func(args []string, stdout, stderr io.Writer) error {
			return runTemplate(args, os.Stdin, stdout, stderr)
		},
	})
}

// setFlags collects --set name=JSON.
type setFlags map[string]jinja.Value

func (s setFlags) String() string { return "" }

func (s setFlags) Set(v string) error {
	name, val, ok := strings.Cut(v, "=")
	if !ok || name == "" {
		return fmt.Errorf("want name=JSON, got %q", v)
	}
	jv, err := chattemplate.FromJSON([]byte(val))
	if err != nil {
		return fmt.Errorf("%s: %q is not JSON (a string needs quotes)", name, val)
	}
	s[name] = jv
	return nil
}

func runTemplate(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := newFlagSet("template", stderr)
	model := fs.String("model", "", "model `folder` (only tokenizer_config.json is read) (required)")
	gen := fs.Bool("add-generation-prompt", true, "end with the opening of the assistant's answer")
	input := fs.String("input", "-", "read the conversation from this `file` instead of stdin")
	toolsPath := fs.String("tools", "", "a JSON `file` with the tools (an array of function schemas) the template lists")
	vars := setFlags{}
	fs.Var(vars, "set", "pass a variable to the template, `name=JSON` (e.g. enable_thinking=false); repeatable")
	fs.Usage = func() {
		stderr := fs.Output() // parseFlags silences it for errors
		fmt.Fprintln(stderr, "Usage: dllm template --model DIR [--add-generation-prompt=false] [--tools FILE] [--set name=JSON] < conversation.json")
		fmt.Fprintln(stderr, "\nReads a conversation, a JSON array of {\"role\", \"content\"} (other fields, such as")
		fmt.Fprintln(stderr, "tool_calls, pass through to the template), and prints the prompt exactly as the")
		fmt.Fprintln(stderr, "folder's chat template renders it, nothing added: what transformers'")
		fmt.Fprintln(stderr, "apply_chat_template(..., tokenize=False) returns. A folder without a chat_template")
		fmt.Fprintln(stderr, "renders the BERT chat template.")
		fmt.Fprintln(stderr, "\nFlags:")
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	if *model == "" {
		return badInput("--model is required")
	}
	found := false
	for _, f := range []string{modeldir.TokenizerConfigFile, modeldir.TokenizerFile} {
		if _, err := os.Stat(filepath.Join(*model, f)); err == nil {
			found = true
		}
	}
	if !found {
		return badInput("%s: no %s or %s: the chat template comes from the tokenizer files", *model, modeldir.TokenizerConfigFile, modeldir.TokenizerFile)
	}
	tpl, err := modeldir.ReadTemplate(*model, *toolsPath != "")
	if err != nil {
		return badInput("%v", err)
	}

	in, name := stdin, "stdin"
	if *input != "-" {
		f, err := os.Open(*input)
		if err != nil {
			return badInput("%v", err)
		}
		defer f.Close()
		in, name = f, *input
	}
	js, err := io.ReadAll(in)
	if err != nil {
		return badInput("%s: %v", name, err)
	}
	msgs, err := readConversation(js)
	if err != nil {
		return badInput("%s: %v", name, err)
	}
	conv := chattemplate.Conversation{Messages: msgs, AddGenerationPrompt: *gen, Vars: vars}
	if *toolsPath != "" {
		js, err := os.ReadFile(*toolsPath)
		if err != nil {
			return badInput("%v", err)
		}
		if conv.Tools, err = chattemplate.FromJSON(js); err != nil || !conv.Tools.IsList() {
			return badInput("%s: want a JSON array of tools", *toolsPath)
		}
	}
	var text string
	if engine, ok := tpl.(*chattemplate.Template); ok {
		text, err = engine.Execute(conv)
	} else { // the built-in BERT template reads role and content only
		var plain []data.Message
		if plain, err = plainMessages(msgs); err != nil {
			return badInput("%s: %v", name, err)
		}
		text, err = tpl.Render(plain, *gen)
	}
	if err != nil {
		if errors.Is(err, chattemplate.ErrTimeout) {
			return badInput("%s: chat_template: %v", filepath.Join(*model, modeldir.TokenizerConfigFile), err)
		}
		return badInput("the chat template refuses the conversation: %s", strings.Join(strings.Fields(err.Error()), " "))
	}
	_, err = io.WriteString(stdout, text)
	return err
}

// readConversation reads a JSON array of messages, each an object with a
// string role (content, and anything else, is passed through).
func readConversation(js []byte) (jinja.Value, error) {
	v, err := chattemplate.FromJSON(js)
	if err != nil {
		return v, fmt.Errorf("not JSON: %v", err)
	}
	if !v.IsList() {
		return v, fmt.Errorf("want a JSON array of {\"role\", \"content\"} messages")
	}
	for i, m := range v.AsList().Items {
		if !m.IsDict() {
			return v, fmt.Errorf("message %d is not an object", i)
		}
		role, ok := m.AsDict().Get("role")
		if !ok || !role.IsString() {
			return v, fmt.Errorf("message %d has no string \"role\"", i)
		}
		if _, ok := m.AsDict().Get("content"); !ok {
			return v, fmt.Errorf("message %d has no \"content\"", i)
		}
	}
	return v, nil
}

// plainMessages are messages of string role and content.
func plainMessages(v jinja.Value) ([]data.Message, error) {
	var out []data.Message
	for i, m := range v.AsList().Items {
		role, _ := m.AsDict().Get("role")
		content, _ := m.AsDict().Get("content")
		if !content.IsString() {
			return nil, fmt.Errorf("message %d: the BERT chat template takes string content", i)
		}
		out = append(out, data.Message{Role: role.AsString(), Content: content.AsString()})
	}
	return out, nil
}
