package kernels

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dllmgo/dllm/bert"
	"github.com/dllmgo/dllm/nn"
	"github.com/dllmgo/dllm/tensor"
)

// smallModelConfig is the ModernBERT of the model-level GPU tests: 97
// tokens, width 64, 2 heads of 32, 3 layers (one global, two sliding with
// local_attention 16, so |i−j| ≤ 8), GeGLU 96.
func smallModelConfig(t *testing.T) bert.Config {
	t.Helper()
	cfg, err := bert.Preset("tiny")
	require.NoError(t, err)
	cfg.VocabSize, cfg.HiddenSize, cfg.NumHeads, cfg.IntermediateSize = 97, 64, 2, 96
	cfg.NumLayers, cfg.LayerTypes, cfg.LocalAttention = 3, bert.LayersEvery(3, 3), 16
	cfg.PadTokenID, cfg.BOSTokenID, cfg.EOSTokenID, cfg.CLSTokenID, cfg.SEPTokenID, cfg.MaskTokenID = 0, 1, 2, 1, 2, 3
	require.NoError(t, cfg.Validate())
	return cfg
}

// TestGPUModelGradients runs a small ModernBERT forward and backward on the
// GPU and on the CPU from the same weights and batch, and compares the loss
// and every parameter's gradient: the ops in the order and shapes the model
// really uses them (views, packed QKV, RoPE on Q and K only, a sliding-window
// layer, key padding, selected logit rows, the tied decoder), which the op
// by op suite does not show. In f32 the two agree to float32 rounding; under
// bf16 autocast the GPU also runs the tensor-core attention, so they agree
// to bf16 rounding.
func TestGPUModelGradients(t *testing.T) {
	g := requireGPU(t)
	cfg := smallModelConfig(t)

	const bsz, seq = 2, 40
	rng := rand.New(rand.NewPCG(5, 8))
	ids, mask := make([]int32, bsz*seq), make([]int32, bsz*seq)
	for i := range ids {
		ids[i] = int32(rng.IntN(cfg.VocabSize))
		mask[i] = 1
	}
	for j := 29; j < seq; j++ { // the second sequence is padded at the end
		mask[seq+j] = 0
	}
	var rows, targets []int32 // the loss reads a random third of the real positions
	for i := range ids {
		if mask[i] == 1 && rng.IntN(3) == 0 {
			rows = append(rows, int32(i))
			targets = append(targets, int32(rng.IntN(cfg.VocabSize)))
		}
	}

	type result struct {
		loss  float32
		grads map[string][]float32
	}
	run := func(b tensor.Backend, prec nn.Precision) result {
		m := bert.New(cfg, b)
		m.Init(rand.New(rand.NewPCG(1, 2)))
		tp := nn.NewTape(b)
		tp.Precision = prec
		up := func(v []int32, shape ...int) *tensor.Tensor { return b.FromHost(tensor.FromI32(v, shape...)) }
		out := m.Forward(tp, bert.Input{IDs: up(ids, bsz, seq), KeyMask: up(mask, bsz, seq), Rows: up(rows, len(rows))})
		loss := tp.CrossEntropy(out.Logits, up(targets, len(targets)), nil, -100)
		tp.Backward(loss)
		r := result{loss: b.ToHost(loss.Value).F32()[0], grads: map[string][]float32{}}
		for _, p := range m.Params() {
			require.NotNil(t, p.Grad, "%s has no gradient", p.Name)
			r.grads[p.Name] = b.ToHost(p.Grad).F32()
		}
		return r
	}

	for _, c := range []struct {
		prec nn.Precision
		tol  float64
	}{{nn.PrecisionF32, 1e-4}, {nn.PrecisionBF16, 2e-2}} {
		t.Run(c.prec.String(), func(t *testing.T) {
			want, got := run(tensor.CPU(), c.prec), run(g, c.prec)
			assert.InDelta(t, want.loss, got.loss, c.tol*float64(want.loss), "loss")
			worst, at := 0.0, ""
			for name, w := range want.grads {
				e := relErr(got.grads[name], w)
				assert.Less(t, e, c.tol, fmt.Sprintf("%s gradient", name))
				if e > worst {
					worst, at = e, name
				}
			}
			t.Logf("loss %.6f (CPU %.6f); worst gradient error %.2g (%s)", got.loss, want.loss, worst, at)
		})
	}
	require.NoError(t, g.Sync())
}

// TestGPULogitsGraphs samples-style calls of bert's Logits through recorded
// CUDA graphs against the same calls run eagerly: new ids, masks and row sets
// every call, row counts on both sides of the 32-row quantum, so that graphs
// are recorded, replayed with fresh inputs, and kept apart by shape.
func TestGPULogitsGraphs(t *testing.T) {
	g := requireGPU(t)
	cfg := smallModelConfig(t)
	m := bert.New(cfg, g)
	m.Init(rand.New(rand.NewPCG(1, 2)))

	rng := rand.New(rand.NewPCG(9, 9))
	const bsz, seq = 2, 40
	for call := range 6 {
		ids := make([]int32, bsz*seq)
		for i := range ids {
			ids[i] = int32(rng.IntN(cfg.VocabSize))
		}
		var mask []int32
		if call%2 == 1 { // the second row padded from a random point
			mask = make([]int32, bsz*seq)
			cut := seq/2 + rng.IntN(seq/2)
			for i := range mask {
				if i < seq || i-seq < cut {
					mask[i] = 1
				}
			}
		}
		nrows := []int{5, 40, 32}[call%3]
		rows := make([]int32, nrows)
		for i := range rows {
			rows[i] = int32(rng.IntN(bsz * seq))
		}
		m.NoGraphs = true
		want, err := m.Logits(ids, bsz, seq, mask, rows)
		require.NoError(t, err)
		m.NoGraphs = false
		got, err := m.Logits(ids, bsz, seq, mask, rows)
		require.NoError(t, err)
		require.Len(t, got, len(want))
		assert.Less(t, relErr(got, want), 1e-5, "call %d: %d rows, masked %v", call, nrows, mask != nil)
	}
	// Calls 0-5 ask for 32u, 64m, 32u, 32m, 64u, 32m (rows rounded up to 32;
	// masked or not): four shapes, two of them replayed with new inputs.
	assert.Equal(t, 4, m.LogitsGraphs(), "recorded graphs")
	m.ReleaseGraphs()
	assert.Equal(t, 0, m.LogitsGraphs())
	require.NoError(t, g.Sync())
}

// TestGPUBlockCache runs Fast-dLLM's cached block steps (bert.BeginBlock and
// BlockCache.Logits) on the GPU and on the CPU from the same weights: the
// cache is built from gathers, batched products and a masked softmax, other
// shapes than the forward pass uses.
func TestGPUBlockCache(t *testing.T) {
	g := requireGPU(t)
	cfg := smallModelConfig(t)

	rng := rand.New(rand.NewPCG(4, 4))
	const bsz, seq, width = 2, 40, 8
	ids := make([]int32, bsz*seq)
	for i := range ids {
		ids[i] = int32(rng.IntN(cfg.VocabSize))
	}
	mask := make([]int32, bsz*seq)
	for i := range mask {
		mask[i] = 1
	}
	for j := 35; j < seq; j++ { // the second sequence ends early
		mask[seq+j] = 0
	}
	starts := []int{20, 27}
	var rows []int32
	for bi, s := range starts {
		for j := s; j < s+width; j++ {
			rows = append(rows, int32(bi*seq+j))
		}
	}
	step := append([]int32(nil), ids...) // the block's tokens change, as a sampler's do
	for bi, s := range starts {
		step[bi*seq+s+1] = int32(rng.IntN(cfg.VocabSize))
	}

	run := func(b tensor.Backend) (first, cached []float32) {
		m := bert.New(cfg, b)
		m.Init(rand.New(rand.NewPCG(1, 2)))
		c, first, err := m.BeginBlock(ids, bsz, seq, mask, starts, width, rows)
		require.NoError(t, err)
		defer c.Release()
		cached, err = c.Logits(step, rows)
		require.NoError(t, err)
		return first, cached
	}
	wantFirst, wantCached := run(tensor.CPU())
	gotFirst, gotCached := run(g)
	assert.Less(t, relErr(gotFirst, wantFirst), 1e-5, "BeginBlock logits")
	assert.Less(t, relErr(gotCached, wantCached), 1e-5, "cached step logits")
	require.NoError(t, g.Sync())
}

// TestGPUBlockCacheGraphs runs several cached steps of one block through
// recorded CUDA graphs against the same steps run eagerly: the first cached
// step records, the later ones replay with new block tokens and fewer rows,
// as a sampler's steps do.
func TestGPUBlockCacheGraphs(t *testing.T) {
	g := requireGPU(t)
	cfg := smallModelConfig(t)
	rng := rand.New(rand.NewPCG(5, 5))
	const bsz, seq, width, steps = 2, 40, 8, 4
	ids := make([]int32, bsz*seq)
	for i := range ids {
		ids[i] = int32(rng.IntN(cfg.VocabSize))
	}
	starts := []int{8, 16}
	var rows []int32
	for bi, s := range starts {
		for j := s; j < s+width; j++ {
			rows = append(rows, int32(bi*seq+j))
		}
	}
	var canvases [][]int32
	for range steps {
		step := append([]int32(nil), ids...)
		for bi, s := range starts {
			step[bi*seq+s+rng.IntN(width)] = int32(rng.IntN(cfg.VocabSize))
		}
		canvases = append(canvases, step)
	}

	m := bert.New(cfg, g)
	m.Init(rand.New(rand.NewPCG(1, 2)))
	run := func(noGraphs bool) ([][]float32, int) {
		m.NoGraphs = noGraphs
		c, _, err := m.BeginBlock(ids, bsz, seq, nil, starts, width, nil)
		require.NoError(t, err)
		defer c.Release()
		var out [][]float32
		for i, step := range canvases {
			logits, err := c.Logits(step, rows[:len(rows)-2*i])
			require.NoError(t, err)
			out = append(out, logits)
		}
		return out, c.(*bert.BlockCache).Graphs()
	}
	want, eagerGraphs := run(true)
	got, recorded := run(false)
	assert.Equal(t, 0, eagerGraphs)
	assert.Equal(t, 1, recorded, "one graph for every step of the block")
	for i := range want {
		require.Len(t, got[i], len(want[i]))
		assert.Less(t, relErr(got[i], want[i]), 1e-5, "cached step %d", i)
	}
	require.NoError(t, g.Sync())
}
