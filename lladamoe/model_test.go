package lladamoe

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dllmgo/dllm/internal/fixture"
	"github.com/dllmgo/dllm/lm"
	"github.com/dllmgo/dllm/nn"
	"github.com/dllmgo/dllm/tensor"
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
	f := fixture.Open(t, filepath.Join(fixtureDir, "golden.safetensors"))
	var g golden
	var shape []int
	g.ids, shape = f.I32("input_ids")
	g.b, g.s = shape[0], shape[1]
	g.mask, _ = f.I32("attention_mask")
	g.targets, _ = f.I32("labels")
	for i, m := range g.mask {
		g.real = append(g.real, m == 1)
		if g.targets[i] != -100 {
			g.supervisedPositions++
		}
	}
	g.logits, g.hidden, g.loss = f.F32("logits"), f.F32("last_hidden_state"), f.F32("loss")[0]
	g.grads = f.Grads()
	return g
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

	le := fixture.RelErrRows(out.Logits.Value.F32(), g.logits, m.VocabSize(), g.real)
	he := fixture.RelErrRows(out.Hidden.Value.F32(), g.hidden, m.Config.HiddenSize, g.real)
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
		e := fixture.RelErrRows(p.Grad.F32(), want, 1, nil)
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
