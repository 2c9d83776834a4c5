package tokenizer

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"unicode"

	"github.com/stretchr/testify/require"
)

// numberCorpus is prose with many numbers: the same few numbers recur, so
// a trainer that may merge digits does merge them.
func numberCorpus() []string {
	docs := makeProse(30_000, 5)
	rng := rand.New(rand.NewPCG(17, 18))
	for i := range 400 {
		docs = append(docs, fmt.Sprintf("Order %d shipped in 2024 for $%d,%03d.%02d (item %d of 12).",
			1000+rng.IntN(9000), rng.IntN(10), rng.IntN(1000), rng.IntN(100), i%40))
	}
	return append(docs, "In 2024, 2024 and 2024 again: ٣٤ and ½ and ①②.")
}

// digitFixtures are the trained tokenizers with digits split whose Hugging
// Face outputs testdata/expected holds (the parity test compares them):
// tokenizer train's default, and sft's and pretrain's (spaces isolated).
var digitFixtures = []struct {
	file string
	cfg  TrainConfig
}{
	{"trained-digits.json", TrainConfig{VocabSize: 500, SplitDigits: true}},
	{"trained-digits-spaces.json", TrainConfig{VocabSize: 500, SplitDigits: true, IsolateSpaces: true}},
}

// With SplitDigits no token of the vocabulary holds a digit beside
// anything else, every digit of a number encodes as its own token, the
// file says so in HF's words, and the tokenizer round-trips and reloads
// the same. Without it, the same corpus merges "2024" into one token: the
// test can tell the two apart.
func TestTrainSplitDigits(t *testing.T) {
	corpus := numberCorpus()
	for _, fx := range digitFixtures {
		t.Run(fx.file, func(t *testing.T) {
			tok, err := Train(slices.Values(corpus), fx.cfg)
			require.NoError(t, err)
			for id := range tok.VocabSize() {
				if b := tokenBytes(tok, id); bytes.ContainsAny(b, "0123456789") {
					require.Len(t, b, 1, "token %d %q holds a digit beside something else", id, b)
				}
			}
			text := "Order 58213 shipped in 2024 for $3,141.59 ٣٤½ ①"
			ids := tok.Encode(text, false)
			require.Equal(t, text, tok.Decode(ids, false))
			require.Empty(t, digitsSharingTokens(tok, text), "every numeric character is cut out on its own: %v", ids)

			js, err := tok.MarshalJSON()
			require.NoError(t, err)
			require.Contains(t, string(js), `{"individual_digits":true,"type":"Digits"}`)
			again, err := FromJSON(js)
			require.NoError(t, err)
			for _, s := range corpus[len(corpus)-3:] {
				require.Equal(t, tok.Encode(s, true), again.Encode(s, true))
			}

			path := filepath.Join("testdata", fx.file)
			got := savedJSON(t, tok)
			if os.Getenv("DLLM_WRITE_TRAINED") != "" {
				require.NoError(t, os.WriteFile(path, got, 0o644))
			}
			want, err := os.ReadFile(path)
			require.NoError(t, err)
			require.True(t, bytes.Equal(want, got), "%s changed: rewrite it with DLLM_WRITE_TRAINED=1, then rerun generate.js", path)
		})
	}
	merged, err := Train(slices.Values(corpus), TrainConfig{VocabSize: 500})
	require.NoError(t, err)
	require.NotEmpty(t, digitsSharingTokens(merged, "shipped in 2024"), "without SplitDigits the corpus merges 2024")
}

// tokenBytes is the text of a byte-level token, as bytes (nil for an added
// token).
func tokenBytes(tok *Tokenizer, id int) []byte {
	s, _ := tok.IDToToken(id)
	var b []byte
	for _, r := range s {
		c, ok := runeToByte[r]
		if !ok {
			return nil
		}
		b = append(b, c)
	}
	return b
}

// digitsSharingTokens lists the numeric characters of text whose bytes
// share a token with other characters' bytes (text must have no added
// tokens).
func digitsSharingTokens(tok *Tokenizer, text string) []string {
	cut := map[int]bool{0: true}
	at := 0
	for _, id := range tok.Encode(text, false) {
		at += len(tokenBytes(tok, id))
		cut[at] = true
	}
	var bad []string
	for i, r := range text {
		end := i + len(string(r))
		// The character's bytes may be split among tokens (a byte-level
		// BPE spells it byte by byte), but no token may reach past them.
		if unicode.IsNumber(r) && (!cut[i] || !cut[end]) {
			bad = append(bad, string(r))
		}
	}
	return bad
}
