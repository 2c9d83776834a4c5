package tokenizer

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// trainingCorpus is the fixed text the committed trained.json was learned from.
func trainingCorpus() []string {
	docs := makeProse(200_000, 3)
	return append(docs,
		"Crème brûlée, naïve café, Zürich. 日本語のテキスト. Ελληνικά и русский.\n",
		"[Question]\nWhat is 2+2?\n[/Question]\n\n[Answer]\n4\n[/Answer]\n\n",
	)
}

func trainFixture(t testing.TB) *Tokenizer {
	t.Helper()
	tok, err := Train(slices.Values(trainingCorpus()), TrainConfig{VocabSize: 1200})
	require.NoError(t, err)
	return tok
}

func savedJSON(t testing.TB, tok *Tokenizer) []byte {
	t.Helper()
	path := filepath.Join(t.TempDir(), "tokenizer.json")
	require.NoError(t, tok.Save(path))
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	return data
}

// TestTrainMatchesFixture retrains on the fixed corpus and compares with the
// committed testdata/trained.json, whose HF outputs the parity test checks.
// DLLM_WRITE_TRAINED=1 rewrites the fixture (then rerun generate.js).
func TestTrainMatchesFixture(t *testing.T) {
	got := savedJSON(t, trainFixture(t))
	path := filepath.Join("testdata", "trained.json")
	if os.Getenv("DLLM_WRITE_TRAINED") != "" {
		require.NoError(t, os.WriteFile(path, got, 0o644))
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err)
	require.True(t, bytes.Equal(want, got), "training is no longer deterministic or has changed; see the test's comment")
}

func TestTrainShape(t *testing.T) {
	tok := trainFixture(t)
	require.Equal(t, 1200, tok.VocabSize())
	for i, name := range DefaultSpecials {
		id, ok := tok.SpecialID(name)
		require.True(t, ok, name)
		assert.Equal(t, i, id, name)
	}
	assert.Equal(t, Specials{Pad: 0, Unk: 1, Cls: 2, Sep: 3, Mask: 4}, tok.Specials())
	// Every byte has a symbol, so any text round-trips.
	for _, text := range []string{"hello world", "Crème brûlée 日本語 👍🏽", "\x00\xff invalid", "The answer is [MASK]."} {
		ids := tok.Encode(text, true)
		assert.Equal(t, 2, ids[0])
		assert.Equal(t, 3, ids[len(ids)-1])
		want := text
		if text == "\x00\xff invalid" {
			want = "\x00\uFFFD invalid"
		}
		if text == "The answer is [MASK]." {
			want = "The answer is[MASK]." // [MASK] swallows the space before it
		}
		assert.Equal(t, want, tok.Decode(ids[1:len(ids)-1], false), text)
	}
	// Frequent words of the corpus became single tokens.
	for _, w := range []string{"the", " the", " of", " and"} {
		ids := tok.Encode(w, false)
		assert.Len(t, ids, 1, w)
	}
}

func TestTrainValidatesConfig(t *testing.T) {
	texts := slices.Values([]string{"a b c"})
	_, err := Train(texts, TrainConfig{VocabSize: 100})
	assert.ErrorContains(t, err, "vocab size")
	_, err = Train(texts, TrainConfig{VocabSize: 300, Specials: []string{"[A]", "[A]"}})
	assert.ErrorContains(t, err, "repeated")
	_, err = Train(slices.Values([]string(nil)), TrainConfig{VocabSize: 300})
	assert.ErrorContains(t, err, "no text")
}

// The trained file is what HF expects: merges as pairs, the vocabulary in id
// order, specials both in the vocabulary and among the added tokens.
func TestTrainedJSONShape(t *testing.T) {
	var f struct {
		AddedTokens []AddedToken `json:"added_tokens"`
		Model       struct {
			Vocab  map[string]int `json:"vocab"`
			Merges [][2]string    `json:"merges"`
		} `json:"model"`
	}
	require.NoError(t, json.Unmarshal(savedJSON(t, trainFixture(t)), &f))
	assert.Len(t, f.AddedTokens, 5)
	assert.True(t, f.AddedTokens[4].LStrip)
	assert.Equal(t, 4, f.Model.Vocab["[MASK]"])
	assert.Equal(t, 1200-5-256, len(f.Model.Merges))
	first := f.Model.Merges[0]
	assert.Contains(t, f.Model.Vocab, first[0]+first[1])
}
