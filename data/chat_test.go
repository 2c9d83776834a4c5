package data

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// compress returns raw compressed as named: "" (none), "gz" or "zst".
func compress(t *testing.T, raw []byte, how string) []byte {
	t.Helper()
	var buf bytes.Buffer
	switch how {
	case "":
		return raw
	case "gz":
		w := gzip.NewWriter(&buf)
		_, err := w.Write(raw)
		require.NoError(t, err)
		require.NoError(t, w.Close())
	case "zst":
		w, err := zstd.NewWriter(&buf)
		require.NoError(t, err)
		_, err = w.Write(raw)
		require.NoError(t, err)
		require.NoError(t, w.Close())
	default:
		t.Fatalf("unknown compression %q", how)
	}
	return buf.Bytes()
}

func writeFile(t *testing.T, path string, raw []byte) string {
	t.Helper()
	require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
	require.NoError(t, os.WriteFile(path, raw, 0o644))
	return path
}

// randomText draws words of random letters, with unicode now and then.
func randomText(rng *rand.Rand, words int) string {
	alphabet := []rune("abcdefghijklmnopqrstuvwxyzé日ß0123456789")
	parts := make([]string, words)
	for i := range parts {
		w := make([]rune, 1+rng.IntN(8))
		for j := range w {
			w[j] = alphabet[rng.IntN(len(alphabet))]
		}
		parts[i] = string(w)
	}
	return strings.Join(parts, " ")
}

// randomConversation draws an optional system message, then alternating turns
// ending with the assistant's.
func randomConversation(rng *rand.Rand) []Message {
	var msgs []Message
	if rng.IntN(3) == 0 {
		msgs = append(msgs, Message{RoleSystem, randomText(rng, 1+rng.IntN(5))})
	}
	for range 1 + rng.IntN(3) {
		msgs = append(msgs, Message{RoleUser, randomText(rng, 1+rng.IntN(10))},
			Message{RoleAssistant, randomText(rng, 1+rng.IntN(10))})
	}
	return msgs
}

func chatLines(t *testing.T, convs [][]Message) []byte {
	var b bytes.Buffer
	for _, c := range convs {
		line, err := json.Marshal(map[string]any{"messages": c, "source": "test"})
		require.NoError(t, err)
		b.Write(line)
		b.WriteByte('\n')
	}
	return b.Bytes()
}

func TestLoadChatRoundTripCompressed(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, how := range []string{"", "gz", "zst"} {
		t.Run("compression="+how, func(t *testing.T) {
			want := make([][]Message, 20+rng.IntN(20))
			for i := range want {
				want[i] = randomConversation(rng)
			}
			name := "train.jsonl"
			if how != "" {
				name += "." + how
			}
			path := writeFile(t, filepath.Join(t.TempDir(), name), compress(t, chatLines(t, want), how))
			convs, st, err := LoadChat([]string{path}, LoadOptions{})
			require.NoError(t, err)
			require.Equal(t, LoadStats{Files: 1, Records: len(want)}, st)
			require.Len(t, convs, len(want))
			for i, c := range convs {
				assert.Equal(t, want[i], c.Messages)
				assert.Equal(t, fmt.Sprintf("%s:%d", path, i+1), c.Source)
			}
		})
	}
}

func TestOpenSniffsCompressionNotName(t *testing.T) {
	// A zstd stream named .txt and a gzip stream named .zst both read back.
	raw := []byte(randomText(rand.New(rand.NewPCG(3, 4)), 200))
	dir := t.TempDir()
	for name, how := range map[string]string{"a.txt": "zst", "b.zst": "gz", "c.gz": ""} {
		path := writeFile(t, filepath.Join(dir, name), compress(t, raw, how))
		rc, err := Open(path)
		require.NoError(t, err)
		var got bytes.Buffer
		_, err = got.ReadFrom(rc)
		require.NoError(t, err)
		require.NoError(t, rc.Close())
		assert.Equal(t, raw, got.Bytes(), name)
	}
}

func TestChatAdapters(t *testing.T) {
	cases := []struct {
		name string
		line string
		want []Message
		task string
	}{
		{"messages with extra fields", `{"id":"x","messages":[{"role":"user","content":"hi"},{"role":"assistant","content":"yo"}],"source":"s"}`,
			[]Message{{RoleUser, "hi"}, {RoleAssistant, "yo"}}, ""},
		{"task field kept", `{"task":"add","messages":[{"role":"user","content":"1+1"},{"role":"assistant","content":"2"}]}`,
			[]Message{{RoleUser, "1+1"}, {RoleAssistant, "2"}}, "add"},
		{"alpaca without input", `{"instruction":"Name a color.","input":"","output":"Blue."}`,
			[]Message{{RoleUser, "Name a color."}, {RoleAssistant, "Blue."}}, ""},
		{"alpaca with input", `{"instruction":"Translate.","input":"chat","output":"cat"}`,
			[]Message{{RoleUser, "Translate.\n\nchat"}, {RoleAssistant, "cat"}}, ""},
		{"alpaca without input field", `{"instruction":"Say hi.","output":"hi"}`,
			[]Message{{RoleUser, "Say hi."}, {RoleAssistant, "hi"}}, ""},
		{"prompt/response", `{"prompt":"2*3?","response":"6"}`,
			[]Message{{RoleUser, "2*3?"}, {RoleAssistant, "6"}}, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var got []Conversation
			st, err := ReadChatJSONL(strings.NewReader(c.line+"\n"), "x.jsonl", LoadOptions{}, func(cv Conversation) error {
				got = append(got, cv)
				return nil
			})
			require.NoError(t, err)
			require.Equal(t, 1, st.Records)
			require.Len(t, got, 1)
			assert.Equal(t, c.want, got[0].Messages)
			assert.Equal(t, c.task, got[0].Task)
			assert.Equal(t, "x.jsonl:1", got[0].Source)
		})
	}
}

func TestMalformedLines(t *testing.T) {
	good := `{"messages":[{"role":"user","content":"q"},{"role":"assistant","content":"a"}]}`
	cases := []struct {
		name string
		bad  string
		msg  string
	}{
		{"broken JSON", `{"messages": [`, "invalid JSON"},
		{"not an object", `[1,2]`, "invalid record"},
		{"content not a string", `{"messages":[{"role":"user","content":["q"]},{"role":"assistant","content":"a"}]}`, "invalid record"},
		{"no known field", `{"text":"hello"}`, `no "messages"`},
		{"empty messages", `{"messages":[]}`, "no messages"},
		{"unknown role", `{"messages":[{"role":"tool","content":"q"},{"role":"assistant","content":"a"}]}`, `unknown role "tool"`},
		{"late system", `{"messages":[{"role":"user","content":"q"},{"role":"system","content":"s"},{"role":"assistant","content":"a"}]}`, "system message may only come first"},
		{"ends with user", `{"messages":[{"role":"user","content":"q"}]}`, "must be the assistant's reply"},
		{"half alpaca", `{"instruction":"x"}`, `"instruction" and "output"`},
		{"half prompt", `{"response":"x"}`, `"prompt" and "response"`},
	}
	rng := rand.New(rand.NewPCG(5, 6))
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			// The bad line sits at a random place among good ones and blank lines.
			before := 1 + rng.IntN(20)
			var b strings.Builder
			for i := range before {
				if i == 3 {
					b.WriteString("\n") // blank lines count as lines but are not records
				} else {
					b.WriteString(good + "\n")
				}
			}
			b.WriteString(c.bad + "\n" + good + "\n")
			path := writeFile(t, filepath.Join(t.TempDir(), "train.jsonl"), []byte(b.String()))

			_, _, err := LoadChat([]string{path}, LoadOptions{})
			require.Error(t, err)
			assert.Contains(t, err.Error(), fmt.Sprintf("train.jsonl:%d: ", before+1))
			assert.Contains(t, err.Error(), c.msg)
			var le *LineError
			require.True(t, errors.As(err, &le))
			assert.Equal(t, before+1, le.Line)

			convs, st, err := LoadChat([]string{path}, LoadOptions{SkipBad: true})
			require.NoError(t, err)
			wantGood := before + 1
			if before > 3 {
				wantGood-- // one of the lines before was blank
			}
			assert.Len(t, convs, wantGood)
			assert.Equal(t, 1, st.Skipped)
			assert.Contains(t, st.FirstSkipped, fmt.Sprintf("train.jsonl:%d: ", before+1))
		})
	}
}

func TestLoadChatFolderAndCallbackError(t *testing.T) {
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(7, 8))
	var want [][]Message
	for i, name := range []string{"b/two.jsonl.zst", "a.jsonl", "c/three.jsonl.gz"} {
		convs := [][]Message{randomConversation(rng), randomConversation(rng)}
		how := []string{"zst", "", "gz"}[i]
		writeFile(t, filepath.Join(dir, name), compress(t, chatLines(t, convs), how))
		want = append(want, convs...)
	}
	writeFile(t, filepath.Join(dir, "notes.txt"), []byte("not read"))
	// Lexical order: a.jsonl, b/two.jsonl.zst, c/three.jsonl.gz.
	order := [][]Message{want[2], want[3], want[0], want[1], want[4], want[5]}
	convs, st, err := LoadChat([]string{dir}, LoadOptions{})
	require.NoError(t, err)
	assert.Equal(t, 3, st.Files)
	require.Len(t, convs, 6)
	for i := range convs {
		assert.Equal(t, order[i], convs[i].Messages)
	}

	stop := errors.New("stop here")
	n := 0
	_, err = EachChat([]string{dir}, LoadOptions{SkipBad: true}, func(Conversation) error {
		n++
		if n == 3 {
			return stop
		}
		return nil
	})
	assert.ErrorIs(t, err, stop, "a callback error is not a malformed line, even with SkipBad")
	assert.Equal(t, 3, n)

	_, _, err = LoadChat([]string{filepath.Join(dir, "missing.jsonl")}, LoadOptions{})
	assert.Error(t, err)
	empty := filepath.Join(dir, "empty")
	require.NoError(t, os.Mkdir(empty, 0o755))
	_, _, err = LoadChat([]string{empty}, LoadOptions{})
	assert.ErrorContains(t, err, "no .jsonl files")
}
