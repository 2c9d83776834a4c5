package bert

import (
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dllmgo/dllm/lm"
	"github.com/dllmgo/dllm/mdlm"
	"github.com/dllmgo/dllm/nn"
	"github.com/dllmgo/dllm/optim"
	"github.com/dllmgo/dllm/tensor"
)

// TestKeepPackedIsBitIdentical: a model whose weights are kept packed
// (lm.KeepPacked, what generate and serve do) samples exactly as one that
// packs them on every product: the same logits bit for bit, without and
// with the block cache, the same tokens; after an optimizer step the packed
// copies follow the new weights.
func TestKeepPackedIsBitIdentical(t *testing.T) {
	plain, packed := newCacheTestModel(t, 3, 7), newCacheTestModel(t, 3, 7)
	lm.KeepPacked(packed)
	rng := rand.New(rand.NewPCG(8, 9))
	const batch, seq = 2, 40
	ids := make([]int32, batch*seq)
	for i := range ids {
		ids[i] = int32(4 + rng.IntN(90))
	}
	rows := []int32{3, 17, 39, 41, 60, 79}
	logits := func(m *Model) []float32 {
		out, err := m.Logits(ids, batch, seq, nil, rows)
		require.NoError(t, err)
		return out
	}
	require.Equal(t, logits(plain), logits(packed))
	require.NotZero(t, lm.PackedBytes(packed), "the first forward packed the weights")
	require.Equal(t, logits(plain), logits(packed), "reused")

	cached := func(m *Model) []float32 {
		c, _, err := m.BeginBlock(ids, batch, seq, nil, []int{16, 8}, 8, rows[:1])
		require.NoError(t, err)
		defer c.Release()
		out, err := c.Logits(ids, []int32{17, 20, 50, 55})
		require.NoError(t, err)
		return out
	}
	require.Equal(t, cached(plain), cached(packed))

	cfg := mdlm.SamplerConfig{MaxNewTokens: 16, Steps: 8, BlockSize: 8, MaskID: 3, PadID: 0, Cache: true}
	gen := func(m *Model) []mdlm.Sample {
		out, err := mdlm.Generate(m, [][]int32{ids[:10]}, cfg, mdlm.NewRand(1))
		require.NoError(t, err)
		return out.Samples
	}
	require.Equal(t, gen(plain), gen(packed))

	// One training step on both: the packed copies must not go stale.
	for _, m := range []*Model{plain, packed} {
		opt := optim.NewAdamW(m.Params(), 0.9, 0.999, 1e-8, 0.01)
		tp := nn.NewTape(m.Backend())
		in := lm.Input{IDs: tensor.FromI32(ids, batch, seq), Rows: tensor.FromI32(rows, len(rows))}
		loss := tp.Sum(m.Forward(tp, in).Logits)
		tp.Backward(loss)
		opt.Step(0.05)
	}
	require.Equal(t, logits(plain), logits(packed))
}
