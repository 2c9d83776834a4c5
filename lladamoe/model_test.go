package lladamoe

import (
	"math"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dllmgo/dllm/lm"
	"github.com/dllmgo/dllm/nn"
	"github.com/dllmgo/dllm/tensor"
	"github.com/dllmgo/dllm/tensor/safetensors"
)

// fixtureDir is a forward and backward pass of LLaDA-MoE's own PyTorch
// code on a tiny random model (testdata/tiny_a/README.md).
var fixtureDir = filepath.Join("testdata", "tiny_a")

// golden is the fixture's batch and what the reference computed on it.
type golden struct {
	b, s                int
	ids, mask, targets  []int32
	real                []bool // attention_mask 1: the positions compared
	logits, hidden      []float32
	loss                float32
	grads               map[string][]float32
	supervisedPositions int
}

func readGolden(t *testing.T) golden {
	t.Helper()
	f, err := safetensors.Open(filepath.Join(fixtureDir, "golden.safetensors"))
	require.NoError(t, err)
	i64 := func(name string) ([]int32, []int) {
		v, shape, err := f.I64(name)
		require.NoError(t, err)
		out := make([]int32, len(v))
		for i, x := range v {
			out[i] = int32(x)
		}
		return out, shape
	}
	f32 := func(name string) []float32 {
		v, _, err := f.F32(name)
		require.NoError(t, err)
		return v
	}
	var g golden
	var shape []int
	g.ids, shape = i64("input_ids")
	g.b, g.s = shape[0], shape[1]
	g.mask, _ = i64("attention_mask")
	g.targets, _ = i64("labels")
	for i, m := range g.mask {
		g.real = append(g.real, m == 1)
		if g.targets[i] != -100 {
			g.supervisedPositions++
		}
	}
	g.logits, g.hidden, g.loss = f32("logits"), f32("last_hidden_state"), f32("loss")[0]
	g.grads = map[string][]float32{}
	for _, n := range f.Names() {
		if name, ok := strings.CutPrefix(n, "grad."); ok {
			g.grads[name] = f32(n)
		}
	}
	return g
}

// relErrRows is max|got−want| / max|want| over the rows where keep is true.
func relErrRows(got, want []float32, width int, keep []bool) float64 {
	var maxErr, maxAbs float64
	for r, k := range keep {
		if !k {
			continue
		}
		for j := r * width; j < (r+1)*width; j++ {
			maxErr = math.Max(maxErr, math.Abs(float64(got[j])-float64(want[j])))
			maxAbs = math.Max(maxAbs, math.Abs(float64(want[j])))
		}
	}
	return maxErr / maxAbs
}

func all(n int) []bool {
	k := make([]bool, n)
	for i := range k {
		k[i] = true
	}
	return k
}

// TestFixtureParity runs the fixture through the model: logits and the
// last hidden state to 1e-4 relative at the real positions, the mean
// cross-entropy over the labelled positions to 1e-5, and the gradient of
// every parameter to 1e-3 relative (the fixture README's tolerances).
func TestFixtureParity(t *testing.T) {
	g := readGolden(t)
	m, err := Load(fixtureDir, tensor.CPU())
	require.NoError(t, err)
	n := g.b * g.s
	weights := make([]float32, n)
	for i := range weights {
		weights[i] = 1 / float32(g.supervisedPositions)
	}
	tp := nn.NewTape(tensor.CPU())
	out := m.Forward(tp, lm.Input{IDs: tensor.FromI32(g.ids, g.b, g.s), KeyMask: tensor.FromI32(g.mask, g.b, g.s)})
	loss := tp.CrossEntropy(out.Logits, tensor.FromI32(g.targets, n), tensor.FromF32(weights, n), -100)
	tp.Backward(loss)

	le := relErrRows(out.Logits.Value.F32(), g.logits, m.VocabSize(), g.real)
	he := relErrRows(out.Hidden.Value.F32(), g.hidden, m.Config.HiddenSize, g.real)
	t.Logf("relative error: logits %.2e, hidden %.2e; loss %.7f vs %.7f", le, he, loss.Value.F32()[0], g.loss)
	require.Less(t, le, 1e-4, "logits")
	require.Less(t, he, 1e-4, "last hidden state")
	require.InDelta(t, g.loss, loss.Value.F32()[0], 1e-5, "loss")
	require.Len(t, g.grads, len(m.Params()), "one gradient per parameter")
	worst := 0.0
	for _, p := range m.Params() {
		want, ok := g.grads[p.Name]
		require.True(t, ok, "the fixture has no gradient for %s", p.Name)
		if p.Grad == nil { // an expert no token chose
			for _, v := range want {
				require.Zero(t, v, "no gradient for %s, the reference has one", p.Name)
			}
			continue
		}
		if slices.Max(want) == 0 && slices.Min(want) == 0 { // chosen only at padding
			require.Equal(t, make([]float32, len(want)), p.Grad.F32(), "gradient of %s", p.Name)
			continue
		}
		e := relErrRows(p.Grad.F32(), want, 1, all(len(want)))
		worst = max(worst, e)
		if name := p.Name; strings.HasSuffix(name, "embed_tokens.weight") {
			pad := *m.Config.PadTokenID * m.Config.HiddenSize
			for _, v := range p.Grad.F32()[pad : pad+m.Config.HiddenSize] {
				require.Zero(t, v, "padding_idx row")
			}
		}
		require.Less(t, e, 1e-3, "gradient of %s", p.Name)
	}
	t.Logf("worst gradient relative error %.2e over %d parameters", worst, len(m.Params()))
}
