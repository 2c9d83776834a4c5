package lladamoe

import (
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

// The cache's first step is the full pass: the same keys and values, the
// same experts for the block's rows.
func TestBlockCacheFirstStep(t *testing.T) {
	m := randomModel(t, lladaMoEConfig(), 16)
	rng := rand.New(rand.NewPCG(17, 18))
	const seq = 10
	ids := make([]int32, 2*seq)
	for i := range ids {
		ids[i] = int32(rng.IntN(47))
	}
	mask := []int32{1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0}
	starts, width := []int{4, 2}, 3
	var rows []int32
	for b, s := range starts {
		for k := range width {
			rows = append(rows, int32(b*seq+s+k))
		}
	}
	want, err := m.Logits(ids, 2, seq, mask, rows)
	require.NoError(t, err)
	cache, first, err := m.BeginBlock(ids, 2, seq, mask, starts, width, rows)
	require.NoError(t, err)
	defer cache.Release()
	require.InDeltaSlice(t, want, first, 1e-5)
	step, err := cache.Logits(ids, rows)
	require.NoError(t, err)
	require.InDeltaSlice(t, want, step, 1e-4)
	_, err = cache.Logits(ids, []int32{0})
	require.ErrorContains(t, err, "outside the cached blocks")
}
