package tokenizer

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The expected outputs in testdata/expected were produced by Hugging Face's
// tokenizers (npm package, Rust core) with tools/tokenizer-parity/generate.js.

type expectedFile struct {
	Tokenizer string `json:"tokenizer"`
	VocabSize int    `json:"vocab_size"`
	Encode    []struct {
		Text         string `json:"text"`
		IDs          []int  `json:"ids"`
		IDsNoSpecial []int  `json:"ids_no_special"`
		Decoded      string `json:"decoded"`
		DecodedSkip  string `json:"decoded_skip"`
	} `json:"encode"`
	Decode []struct {
		IDs      []int  `json:"ids"`
		Text     string `json:"text"`
		TextSkip string `json:"text_skip"`
	} `json:"decode"`
	Batch struct {
		Texts []string `json:"texts"`
		IDs   [][]int  `json:"ids"`
	} `json:"batch"`
}

func loadExpected(t testing.TB, name string) (*expectedFile, *Tokenizer) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "expected", name+".json"))
	require.NoError(t, err)
	var exp expectedFile
	require.NoError(t, json.Unmarshal(data, &exp))
	tok, err := Load(filepath.Join("testdata", exp.Tokenizer))
	require.NoError(t, err)
	return &exp, tok
}

// parityTokenizers lists every tokenizer with expected outputs.
func parityTokenizers(t testing.TB) []string {
	files, err := filepath.Glob(filepath.Join("testdata", "expected", "*.json"))
	require.NoError(t, err)
	require.NotEmpty(t, files)
	var names []string
	for _, f := range files {
		names = append(names, strings.TrimSuffix(filepath.Base(f), ".json"))
	}
	return names
}

func TestParityWithHuggingFace(t *testing.T) {
	for _, name := range parityTokenizers(t) {
		t.Run(name, func(t *testing.T) {
			exp, tok := loadExpected(t, name)
			assert.Equal(t, exp.VocabSize, tok.VocabSize(), "vocab size")
			for _, c := range exp.Encode {
				assert.Equal(t, c.IDs, orEmpty(tok.Encode(c.Text, true)), "ids of %q", c.Text)
				assert.Equal(t, c.IDsNoSpecial, orEmpty(tok.Encode(c.Text, false)), "ids without specials of %q", c.Text)
				assert.Equal(t, c.Decoded, tok.Decode(c.IDs, false), "decode of %q", c.Text)
				assert.Equal(t, c.DecodedSkip, tok.Decode(c.IDs, true), "decode skipping specials of %q", c.Text)
			}
			for _, c := range exp.Decode {
				assert.Equal(t, c.Text, tok.Decode(c.IDs, false), "decode of %v", c.IDs)
				assert.Equal(t, c.TextSkip, tok.Decode(c.IDs, true), "decode skipping specials of %v", c.IDs)
			}
			got := tok.EncodeBatch(exp.Batch.Texts, true)
			for i := range got {
				got[i] = orEmpty(got[i])
			}
			assert.Equal(t, exp.Batch.IDs, got, "batch")
		})
	}
}

func orEmpty(ids []int) []int {
	if ids == nil {
		return []int{}
	}
	return ids
}
