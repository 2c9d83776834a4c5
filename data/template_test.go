package data

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestBertChatRender(t *testing.T) {
	sys := Message{RoleSystem, "  Be brief.\n"}
	u1 := Message{RoleUser, "What is 2+2?"}
	a1 := Message{RoleAssistant, "\t4 "}
	u2 := Message{RoleUser, "And 3+3?"}
	cases := []struct {
		name string
		msgs []Message
		gen  bool
		want string
	}{
		{"user only", []Message{u1}, false,
			"[Question]\nWhat is 2+2?\n[/Question]\n\n"},
		{"user with generation prompt", []Message{u1}, true,
			"[Question]\nWhat is 2+2?\n[/Question]\n\n[Answer]\n"},
		{"system first", []Message{sys, u1, a1}, false,
			"[SYS]\nBe brief.\n[/SYS]\n\n[Question]\nWhat is 2+2?\n[/Question]\n\n[Answer]\n4\n[/Answer]\n\n"},
		{"ends with assistant: no generation prompt", []Message{u1, a1}, true,
			"[Question]\nWhat is 2+2?\n[/Question]\n\n[Answer]\n4\n[/Answer]\n\n"},
		{"multi-turn", []Message{sys, u1, a1, u2}, true,
			"[SYS]\nBe brief.\n[/SYS]\n\n[Question]\nWhat is 2+2?\n[/Question]\n\n[Answer]\n4\n[/Answer]\n\n" +
				"[Question]\nAnd 3+3?\n[/Question]\n\n[Answer]\n"},
		{"system only", []Message{sys}, true, "[SYS]\nBe brief.\n[/SYS]\n\n[Answer]\n"},
		{"late system is dropped", []Message{u1, sys}, false, "[Question]\nWhat is 2+2?\n[/Question]\n\n"},
		{"unknown role is dropped", []Message{{"tool", "x"}, u1}, false, "[Question]\nWhat is 2+2?\n[/Question]\n\n"},
		{"unknown role last still asks", []Message{u1, a1, {"tool", "x"}}, true,
			"[Question]\nWhat is 2+2?\n[/Question]\n\n[Answer]\n4\n[/Answer]\n\n[Answer]\n"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := BertChat.Render(c.msgs, c.gen)
			require.NoError(t, err)
			assert.Equal(t, c.want, got)
		})
	}
	_, err := BertChat.Render(nil, true)
	assert.ErrorIs(t, err, ErrNoMessages)
}

// TestBertChatMatchesJinjaGolden compares the native rendering with jinja2's
// rendering of ChatTemplateJinja (testdata/gen_chat_golden.py) on 300 random
// conversations with odd whitespace, unicode, unknown roles and late system turns.
func TestBertChatMatchesJinjaGolden(t *testing.T) {
	f, err := os.Open("testdata/chat_golden.jsonl")
	require.NoError(t, err)
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	n, errs := 0, 0
	for sc.Scan() {
		var row struct {
			Messages []Message `json:"messages"`
			Gen      bool      `json:"add_generation_prompt"`
			Text     *string   `json:"text"`
			Error    string    `json:"error"`
		}
		require.NoError(t, json.Unmarshal(sc.Bytes(), &row))
		got, err := BertChat.Render(row.Messages, row.Gen)
		if row.Text == nil {
			require.Error(t, err, "line %d: jinja2 failed with %s", n+1, row.Error)
			errs++
		} else {
			require.NoError(t, err, "line %d", n+1)
			require.Equal(t, *row.Text, got, "line %d: %+v", n+1, row.Messages)
		}
		n++
	}
	require.NoError(t, sc.Err())
	require.Equal(t, 300, n)
	require.Positive(t, errs, "the golden file should exercise the empty conversation")
}

// TestPyTrimMatchesPython checks the whitespace set against the one Python
// reported (testdata/py_whitespace.json), over every code point.
func TestPyTrimMatchesPython(t *testing.T) {
	raw, err := os.ReadFile("testdata/py_whitespace.json")
	require.NoError(t, err)
	var spaces []rune
	require.NoError(t, json.Unmarshal(raw, &spaces))
	want := map[rune]bool{}
	for _, r := range spaces {
		want[r] = true
	}
	require.Len(t, want, 29)
	for r := rune(0); r <= utf8.MaxRune; r++ {
		if isPySpace(r) != want[r] {
			t.Fatalf("U+%04X: isPySpace=%v, Python isspace=%v", r, isPySpace(r), want[r])
		}
	}
	assert.Equal(t, "a b", pyTrim("\x1c\u3000 a b\u2009\x1f"))
}

// TestJinjaTextFile keeps testdata/bert_chat_template.jinja (read by the golden
// generator) equal to ChatTemplateJinja. DLLM_UPDATE_GOLDEN=1 rewrites it.
func TestJinjaTextFile(t *testing.T) {
	path := filepath.Join("testdata", "bert_chat_template.jinja")
	if os.Getenv("DLLM_UPDATE_GOLDEN") == "1" {
		require.NoError(t, os.WriteFile(path, []byte(ChatTemplateJinja), 0o644))
	}
	raw, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Equal(t, ChatTemplateJinja, string(raw))
}

func TestAnswerCutsAtEndOfTurn(t *testing.T) {
	cases := []struct{ in, want string }{
		{"42\n[/Answer]\n\n[Question]", "42"},
		{" 42 ", "42"},
		{"no marker at all", "no marker at all"},
		{"[/Answer]", ""},
		{"a [/Answer] b [/Answer]", "a"},
	}
	for _, c := range cases {
		assert.Equal(t, c.want, BertChat.Answer(c.in), "%q", c.in)
	}
}
