package main

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dllmgo/dllm/data/tokenizer"
)

// A small tokenizer trained by dllm and checked against Hugging Face.
var tokenizeFixture = filepath.Join("..", "..", "data", "tokenizer", "testdata", "trained.json")

func runTokenizeCmd(t *testing.T, input string, args ...string) (int, string, string) {
	t.Helper()
	in := filepath.Join(t.TempDir(), "input.jsonl")
	require.NoError(t, os.WriteFile(in, []byte(input), 0o644))
	var stdout, stderr bytes.Buffer
	code := run(append(args, "--input", in), &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

func TestTokenizeEncodeDecode(t *testing.T) {
	tok, err := tokenizer.Load(tokenizeFixture)
	require.NoError(t, err)
	texts := []string{"Hello world", "", "The answer is [MASK].", "[Question]\nWhat is 2+2?\n[/Question]\n\n[Answer]\n", "Crème <s> & 日本"}
	var input strings.Builder
	for _, s := range texts {
		b, _ := json.Marshal(s)
		input.Write(b)
		input.WriteByte('\n')
	}
	for _, special := range []bool{true, false} {
		args := []string{"tokenize", "--tokenizer", tokenizeFixture}
		if !special {
			args = append(args, "--no-special")
		}
		code, out, errOut := runTokenizeCmd(t, input.String(), args...)
		require.Equal(t, 0, code, errOut)
		lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
		require.Len(t, lines, len(texts))
		var idLines strings.Builder
		for i, line := range lines {
			var ids []int
			require.NoError(t, json.Unmarshal([]byte(line), &ids))
			want := tok.Encode(texts[i], special)
			if want == nil {
				want = []int{}
			}
			assert.Equal(t, want, ids, texts[i])
			idLines.WriteString(line + "\n")
		}
		// Decoding gives the texts back (the specials skipped).
		code, out, errOut = runTokenizeCmd(t, idLines.String(), "tokenize", "--tokenizer", tokenizeFixture, "--decode", "--skip-special")
		require.Equal(t, 0, code, errOut)
		for i, line := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
			var text string
			require.NoError(t, json.Unmarshal([]byte(line), &text))
			want := texts[i]
			if strings.Contains(want, "[MASK]") {
				want = "The answer is." // [MASK] took the space before it and is skipped
			}
			assert.Equal(t, want, text)
		}
	}
}

func TestTokenizeDecodeKeepsSpecials(t *testing.T) {
	code, out, errOut := runTokenizeCmd(t, "[2, 4, 3]\n", "tokenize", "--tokenizer", tokenizeFixture, "--decode")
	require.Equal(t, 0, code, errOut)
	assert.Equal(t, "\"[CLS][MASK][SEP]\"\n", out)
}

func TestTokenizeBadInput(t *testing.T) {
	cases := []struct {
		name, input string
		args        []string
		want        string
	}{
		{"not a string", "\"ok\"\n[1,2]\n", nil, "input.jsonl:2: want a JSON string"},
		{"blank line", "\"ok\"\n\n", nil, "input.jsonl:2"},
		{"two values", "\"a\" \"b\"\n", nil, "input.jsonl:1"},
		{"decode a string", "\"hi\"\n", []string{"--decode"}, "input.jsonl:1: want a JSON array"},
		{"id out of range", "[1, 999999]\n", []string{"--decode"}, "input.jsonl:1: token id 999999"},
		{"negative id", "[-1]\n", []string{"--decode"}, "token id -1"},
		{"skip without decode", "\"a\"\n", []string{"--skip-special"}, "--skip-special"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			args := append([]string{"tokenize", "--tokenizer", tokenizeFixture}, c.args...)
			code, out, errOut := runTokenizeCmd(t, c.input, args...)
			assert.Equal(t, 2, code)
			if c.name == "not a string" {
				assert.Equal(t, 1, strings.Count(out, "\n"), "the good first line is answered")
			}
			assert.Contains(t, errOut, c.want)
			assert.Equal(t, 1, strings.Count(errOut, "\n"), "one line: %q", errOut)
		})
	}
	code, _, errOut := runTokenizeCmd(t, "\"a\"\n", "tokenize", "--tokenizer", "no-such-tokenizer.json")
	assert.Equal(t, 2, code)
	assert.Contains(t, errOut, "no-such-tokenizer.json")
	code, _, errOut = runTokenizeCmd(t, "\"a\"\n", "tokenize")
	assert.Equal(t, 2, code)
	assert.Contains(t, errOut, "--tokenizer is required")
}

func TestTokenizerTrainCommand(t *testing.T) {
	dir := t.TempDir()
	text := strings.Repeat("the cat sat on the mat. the dog ate the bone.\nthe end of the story.\n", 200)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "plain.txt"), []byte(text), 0o644))
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	_, _ = zw.Write([]byte(strings.Repeat("zebras graze; zebras run.\n", 5)))
	require.NoError(t, zw.Close())
	sub := filepath.Join(dir, "more")
	require.NoError(t, os.Mkdir(sub, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(sub, "b.txt.gz"), gz.Bytes(), 0o644))
	enc, err := zstd.NewWriter(nil)
	require.NoError(t, err)
	zst := enc.EncodeAll([]byte(strings.Repeat("quokkas smile, quokkas hop.\n", 5)), nil)
	require.NoError(t, os.WriteFile(filepath.Join(sub, "c.txt.zst"), zst, 0o644))

	out := filepath.Join(dir, "tok.json")
	var stdout, stderr bytes.Buffer
	code := run([]string{"tokenizer", "train", "--data", filepath.Join(dir, "plain.txt"), "--data", sub,
		"--vocab-size", "400", "--min-frequency", "2", "--out", out}, &stdout, &stderr)
	require.Equal(t, 0, code, stderr.String())
	assert.Contains(t, stdout.String(), "wrote "+out)
	tok, err := tokenizer.Load(out)
	require.NoError(t, err)
	// Training stops at 400 tokens or when no pair repeats, whichever comes first.
	assert.LessOrEqual(t, tok.VocabSize(), 400)
	assert.Greater(t, tok.VocabSize(), 5+256+20)
	assert.Equal(t, tokenizer.Specials{Pad: 0, Unk: 1, Cls: 2, Sep: 3, Mask: 4}, tok.Specials())
	// Words from the compressed files were learned too.
	assert.Len(t, tok.Encode(" zebras", false), 1)
	assert.Len(t, tok.Encode(" quokkas", false), 1)
	assert.Equal(t, "the cat", tok.Decode(tok.Encode("the cat", true), true))

	// Bad input: exit 2, one line naming the file.
	bad := filepath.Join(dir, "bad.gz")
	require.NoError(t, os.WriteFile(bad, []byte("not gzip"), 0o644))
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--data", bad, "--vocab-size", "300"}, "bad.gz"},
		{[]string{"--data", filepath.Join(dir, "missing.txt"), "--vocab-size", "300"}, "missing.txt"},
		{[]string{"--data", filepath.Join(dir, "plain.txt"), "--vocab-size", "10"}, "--vocab-size 10"},
		{[]string{"--vocab-size", "300"}, "--data is required"},
	} {
		stdout.Reset()
		stderr.Reset()
		args := append([]string{"tokenizer", "train", "--out", filepath.Join(dir, "never.json")}, c.args...)
		assert.Equal(t, 2, run(args, &stdout, &stderr), c.want)
		assert.Contains(t, stderr.String(), c.want)
		assert.NoFileExists(t, filepath.Join(dir, "never.json"))
	}
}
