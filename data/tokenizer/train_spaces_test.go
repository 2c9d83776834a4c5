package tokenizer

import (
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
)

// With IsolateSpaces a word is one token whether or not a space precedes
// it, and the text still round-trips through encode and decode.
func TestTrainIsolateSpaces(t *testing.T) {
	texts := []string{}
	for range 50 {
		texts = append(texts, "Repeat exactly: green egg night\ngreen egg night", "the cloud  and\tthe  rain cloud")
	}
	tok, err := Train(slices.Values(texts), TrainConfig{VocabSize: 400, IsolateSpaces: true})
	require.NoError(t, err)
	green, ok := tok.TokenToID("green")
	require.True(t, ok, "green is a token")
	ids := tok.Encode("x green\ngreen", false)
	require.Equal(t, 2, count(ids, green), "both greens are the same token: %v", ids)
	_, glued := tok.TokenToID("Ġgreen")
	require.False(t, glued, "no token glues a space to a word")
	for _, s := range append(texts, "  two  spaces ", "tab\t x", "") {
		require.Equal(t, s, tok.Decode(tok.Encode(s, false), false))
	}
	// The saved file reloads to the same tokenizer.
	js, err := tok.MarshalJSON()
	require.NoError(t, err)
	again, err := FromJSON(js)
	require.NoError(t, err)
	require.Equal(t, tok.Encode(texts[1], true), again.Encode(texts[1], true))
}

func count(ids []int, id int) int {
	n := 0
	for _, x := range ids {
		if x == id {
			n++
		}
	}
	return n
}
