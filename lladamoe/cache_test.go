package lladamoe

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dllmgo/dllm/nn"
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

// In BF16 the projections round, the router does not: the logits stay
// close to float32's.
func TestBF16Logits(t *testing.T) {
	m := randomModel(t, rnd1Config(), 5)
	ids := []int32{3, 17, 8, 30, 2, 11, 40, 9}
	rows := []int32{0, 1, 2, 3, 4, 5, 6, 7}
	want, err := m.Logits(ids, 1, 8, nil, rows)
	require.NoError(t, err)
	m.SetPrecision(nn.PrecisionBF16)
	got, err := m.Logits(ids, 1, 8, nil, rows)
	require.NoError(t, err)
	require.NotEqual(t, want, got)
	var d, a float64
	for i := range want {
		d = max(d, math.Abs(float64(got[i]-want[i])))
		a = max(a, math.Abs(float64(want[i])))
	}
	require.Less(t, d/a, 3e-2)
}
