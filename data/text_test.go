package data

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestNormalizeText(t *testing.T) {
	cases := []struct{ in, want string }{
		{"\ufeffHello\r\nworld\r\n", "Hello\nworld"},
		{"a  \t\n\n\n\n b", "a\n\n b"},
		{"old\rmac\rends", "old\nmac\nends"},
		{"\n\n  \n", ""},
		{"keep  inner  spaces", "keep  inner  spaces"},
	}
	for _, c := range cases {
		assert.Equal(t, c.want, NormalizeText(c.in), "%q", c.in)
	}
}

func TestUnwrapParagraphs(t *testing.T) {
	in := "CHAPTER 1. Loomings.\r\n\r\nCall me Ishmael. Some years ago—never\r\nmind how long precisely.\r\n\r\n\r\nSecond  para\nline two.\n"
	want := "CHAPTER 1. Loomings.\n\nCall me Ishmael. Some years ago—never mind how long precisely.\n\nSecond para line two."
	assert.Equal(t, want, UnwrapParagraphs(in))
}

func TestEachDocument(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	dir := t.TempDir()
	var want []Document
	// Lexical order of the walk: a.txt.gz, b/c.jsonl.zst, d.md, then e.bin is skipped.
	aText := randomText(rng, 50)
	want = append(want, Document{aText, filepath.Join(dir, "a.txt.gz")})
	writeFile(t, filepath.Join(dir, "a.txt.gz"), compress(t, []byte(aText+"\n"), "gz"))

	var lines []string
	for i := range 5 {
		text := randomText(rng, 1+rng.IntN(30))
		raw, err := json.Marshal(map[string]any{"text": text, "year": 1790 + i})
		require.NoError(t, err)
		lines = append(lines, string(raw))
		want = append(want, Document{text, fmt.Sprintf("%s:%d", filepath.Join(dir, "b", "c.jsonl.zst"), i+1)})
	}
	lines = append(lines, `{"text":"   "}`) // empty after normalising: skipped, not an error
	writeFile(t, filepath.Join(dir, "b", "c.jsonl.zst"), compress(t, []byte(strings.Join(lines, "\n")), "zst"))

	dText := randomText(rng, 20)
	want = append(want, Document{dText, filepath.Join(dir, "d.md")})
	writeFile(t, filepath.Join(dir, "d.md"), []byte("\r\n"+dText+"\r\n"))
	writeFile(t, filepath.Join(dir, "e.bin"), []byte("skipped"))

	var got []Document
	st, err := EachDocument([]string{dir}, LoadOptions{}, func(d Document) error {
		got = append(got, d)
		return nil
	})
	require.NoError(t, err)
	assert.Equal(t, want, got)
	assert.Equal(t, 3, st.Files)
	assert.Equal(t, 7, st.Records)

	// An explicitly named file of any extension is one document.
	got = nil
	_, err = EachDocument([]string{filepath.Join(dir, "e.bin")}, LoadOptions{}, func(d Document) error {
		got = append(got, d)
		return nil
	})
	require.NoError(t, err)
	require.Len(t, got, 1)
	assert.Equal(t, "skipped", got[0].Text)

	// A JSONL line without "text" names its file and line.
	bad := writeFile(t, filepath.Join(t.TempDir(), "corpus.jsonl"), []byte(`{"text":"ok"}`+"\n"+`{"body":"x"}`+"\n"))
	_, err = EachDocument([]string{bad}, LoadOptions{}, func(Document) error { return nil })
	assert.ErrorContains(t, err, "corpus.jsonl:2: no \"text\" field")
	st, err = EachDocument([]string{bad}, LoadOptions{SkipBad: true}, func(Document) error { return nil })
	require.NoError(t, err)
	assert.Equal(t, 1, st.Skipped)
	assert.Equal(t, 1, st.Records)
}
