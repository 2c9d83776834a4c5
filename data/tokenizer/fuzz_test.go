package tokenizer

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// FuzzTokenizerJSON reads any bytes as a tokenizer.json (go test -fuzz
// FuzzTokenizerJSON ./data/tokenizer; the seeds in
// testdata/fuzz/FuzzTokenizerJSON are the test files' styles cut to 80
// tokens, and run as a plain test). A file is refused with a one-line error
// or gives a tokenizer that encodes any text to ids inside its vocabulary,
// decodes them, and saves to a file that reads back to the same tokenizer.
func FuzzTokenizerJSON(f *testing.F) {
	f.Fuzz(func(t *testing.T, js []byte, text string) {
		// go test -fuzz has no time limit of its own: an input that runs
		// away (a pattern that backtracks without end) would only stall
		// the fuzzer, so it crashes the process, which keeps the input.
		timer := time.AfterFunc(20*time.Second, func() { panic("one input took over 20s") })
		defer timer.Stop()
		tok, err := FromJSON(js)
		if err != nil {
			require.NotContains(t, err.Error(), "\n", "an error of more than one line")
			return
		}
		ids := tok.Encode(text, true)
		for _, id := range ids {
			require.True(t, id >= 0 && id < tok.VocabSize(), "id %d outside [0, %d)", id, tok.VocabSize())
		}
		tok.Decode(ids, true)
		tok.Decode(ids, false)
		for _, id := range ids {
			tok.DecodeToken(id)
		}
		tok.Specials()
		saved, err := tok.MarshalJSON()
		require.NoError(t, err)
		again, err := FromJSON(saved)
		require.NoError(t, err, "the saved tokenizer does not read back")
		require.Equal(t, ids, again.Encode(text, true), "the saved tokenizer encodes differently")
		require.Equal(t, tok.VocabSize(), again.VocabSize())
	})
}
