package data

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func randomDocs(rng *rand.Rand, n, sep int) [][]int {
	docs := make([][]int, n)
	for i := range docs {
		d := make([]int, rng.IntN(60))
		for j := range d {
			d[j] = 5 + rng.IntN(1000)
		}
		if len(d) > 0 && rng.IntN(4) == 0 {
			d[len(d)-1] = sep // already ends with the separator: not doubled
		}
		docs[i] = d
	}
	return docs
}

func TestPack(t *testing.T) {
	rng := rand.New(rand.NewPCG(31, 32))
	for _, sep := range []int{0, 3, -1} {
		docs := randomDocs(rng, 40, sep)
		// The stream, built independently of AppendDocument.
		var stream []int32
		for _, d := range docs {
			for _, id := range d {
				stream = append(stream, int32(id))
			}
			if sep >= 0 && (len(d) == 0 || d[len(d)-1] != sep) {
				stream = append(stream, int32(sep))
			}
		}
		for _, seqLen := range []int{1, 7, 16 + rng.IntN(50), len(stream) + 1} {
			rows := Pack(docs, seqLen, sep)
			require.Len(t, rows, len(stream)/seqLen, "sep %d seqLen %d", sep, seqLen)
			var joined []int32
			for _, r := range rows {
				require.Len(t, r, seqLen)
				joined = append(joined, r...)
			}
			assert.True(t, slices.Equal(stream[:len(joined)], joined))

			p := NewPacker(seqLen, sep)
			n := 0
			for _, d := range docs {
				n += len(p.Add(d))
			}
			assert.Equal(t, len(rows), n)
			assert.True(t, slices.Equal(stream[len(joined):], p.Tail()), "the tail is what did not fill a row")
		}
	}
}

func TestPackedRowsDoNotAlias(t *testing.T) {
	rows := Pack([][]int{{5, 6, 7, 8, 9, 10, 11}}, 2, 0)
	require.Len(t, rows, 4)
	rows[0][0] = 99
	assert.Equal(t, []int32{7, 8}, rows[1])
}

func TestPretrainBatch(t *testing.T) {
	rng := rand.New(rand.NewPCG(33, 34))
	rows := Pack(randomDocs(rng, 30, 0), 32, 0)
	require.NotEmpty(t, rows)
	b := PretrainBatch(rows)
	assert.Equal(t, len(rows), b.B)
	assert.Equal(t, 32, b.S)
	assert.Equal(t, b.InputIDs, b.Labels)
	assert.Equal(t, b.B*b.S, b.Supervised(), "every token is supervised")
	for i, r := range rows {
		ids, _ := b.Row(i)
		assert.Equal(t, r, ids)
		assert.Zero(t, b.PromptLens[i])
	}
}
