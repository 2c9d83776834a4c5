package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dllmgo/dllm/data/tokenizer"
)

const digitsPre = `{"individual_digits":true,"type":"Digits"}`

// Tokenizers trained by `dllm tokenizer train` and by pretrain split digit
// runs into single digits unless --split-digits=false; a tokenizer given
// with --tokenizer is used as it is.
func TestSplitDigitsByDefault(t *testing.T) {
	dir := t.TempDir()
	corpus := filepath.Join(dir, "numbers.txt")
	var text strings.Builder
	for i := range 300 {
		fmt.Fprintf(&text, "In 2024 the mill sold %d sacks of flour, up from %d in 2023.\n", 1000+i*7, 900+i)
	}
	require.NoError(t, os.WriteFile(corpus, []byte(text.String()), 0o644))

	pieces := func(path string) (string, int) {
		raw, err := os.ReadFile(path)
		require.NoError(t, err)
		var compact bytes.Buffer
		require.NoError(t, json.Compact(&compact, raw))
		tok, err := tokenizer.Load(path)
		require.NoError(t, err)
		return compact.String(), len(tok.Encode(" 2024", false))
	}
	for _, c := range []struct {
		name  string
		args  []string
		split bool
	}{
		{"tokenizer train", []string{"tokenizer", "train", "--data", corpus, "--vocab-size", "400"}, true},
		{"tokenizer train off", []string{"tokenizer", "train", "--data", corpus, "--vocab-size", "400", "--split-digits=false"}, false},
		{"pretrain", []string{"pretrain", "--data", corpus, "--steps", "1", "--batch-size", "2", "--max-length", "16", "--vocab-size", "400"}, true},
		{"pretrain off", []string{"pretrain", "--data", corpus, "--steps", "1", "--batch-size", "2", "--max-length", "16", "--vocab-size", "400", "--split-digits=false"}, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "out")
			path := out
			if c.args[0] == "tokenizer" {
				path = out + ".json"
				c.args = append(c.args, "--out", path)
			} else {
				c.args = append(c.args, "--out", out)
				path = filepath.Join(out, "tokenizer.json")
			}
			code, _, stderr := runCLI(c.args...)
			require.Equal(t, 0, code, stderr)
			raw, n := pieces(path)
			if c.split {
				require.Contains(t, raw, digitsPre)
				require.Equal(t, 5, n, "\" 2024\" is a space and four digits")
			} else {
				require.NotContains(t, raw, `"Digits"`)
				require.LessOrEqual(t, n, 2, "2024 is merged")
			}
		})
	}

	// A given tokenizer is used as it is: pretrain writes it back unchanged
	// in what it does (no Digits step added).
	given := filepath.Join(dir, "merged.json")
	code, _, stderr := runCLI("tokenizer", "train", "--data", corpus, "--vocab-size", "400", "--split-digits=false", "--out", given)
	require.Equal(t, 0, code, stderr)
	out := filepath.Join(dir, "withgiven")
	code, _, stderr = runCLI("pretrain", "--data", corpus, "--steps", "1", "--batch-size", "2", "--max-length", "16", "--tokenizer", given, "--out", out)
	require.Equal(t, 0, code, stderr)
	raw, n := pieces(filepath.Join(out, "tokenizer.json"))
	require.NotContains(t, raw, `"Digits"`)
	require.LessOrEqual(t, n, 2)
}
