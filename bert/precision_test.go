package bert

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dllmgo/dllm/nn"
	"github.com/dllmgo/dllm/tensor"
	"github.com/dllmgo/dllm/tensor/safetensors"
)

// TestAutocastBF16 runs the Hugging Face fixture's forward and backward
// pass with the tape in bf16 autocast: every Linear, the tied decoder
// included, then multiplies bf16 operands. Logits, hidden states, the loss
// and every gradient stay within bf16's precision of the F32 pass (the
// golden), and they do move, which shows the tape's mode reaches the model.
func TestAutocastBF16(t *testing.T) {
	dir := filepath.Join("testdata", "hf_tiny_a")
	g := readGolden(t, filepath.Join(dir, "golden.safetensors"))
	cfg, err := LoadConfig(filepath.Join(dir, "config.json"))
	require.NoError(t, err)
	src, err := safetensors.Open(filepath.Join(dir, "model.safetensors"))
	require.NoError(t, err)
	m := New(cfg, tensor.CPU())
	require.NoError(t, m.LoadWeights(src))

	n := g.b * g.s
	ids, mask, targets := make([]int32, n), make([]int32, n), make([]int32, n)
	keep := make([]bool, n)
	count := 0
	for i := range ids {
		ids[i], mask[i], targets[i] = int32(g.ids[i]), int32(g.mask[i]), int32(g.labels[i])
		keep[i] = g.mask[i] == 1
		if g.labels[i] != -100 {
			count++
		}
	}
	weights := make([]float32, n)
	for i := range weights {
		weights[i] = 1 / float32(count)
	}
	tp := nn.NewTape(tensor.CPU())
	tp.Precision = nn.PrecisionBF16
	out := m.Forward(tp, Input{IDs: tensor.FromI32(ids, g.b, g.s), KeyMask: tensor.FromI32(mask, g.b, g.s)})
	loss := tp.CrossEntropy(out.Logits, tensor.FromI32(targets, n), tensor.FromF32(weights, n), -100)
	tp.Backward(loss)

	le := relErrRows(out.Logits.Value.F32(), g.logits, cfg.VocabSize, keep)
	he := relErrRows(out.Hidden.Value.F32(), g.hidden, cfg.HiddenSize, keep)
	got := loss.Value.F32()[0]
	t.Logf("bf16 against f32: logits %.2e, hidden %.2e; loss %.6f vs %.6f", le, he, got, g.loss)
	require.Less(t, le, 2e-2, "logits")
	require.Less(t, he, 2e-2, "hidden")
	require.Greater(t, le, 1e-4, "logits as in F32: autocast did not reach the model")
	require.InEpsilon(t, g.loss, got, 1e-2, "loss")
	worst, worstName := 0.0, ""
	for _, p := range m.Params() {
		require.NotNil(t, p.Grad, "no gradient for %s", p.Name)
		if ge := relErr(p.Grad.F32(), g.grads[p.Name]); ge > worst {
			worst, worstName = ge, p.Name
		}
	}
	t.Logf("worst gradient relative error %.2e (%s)", worst, worstName)
	require.Less(t, worst, 2e-2, "gradient of %s", worstName)
}
