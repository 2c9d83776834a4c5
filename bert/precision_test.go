package bert

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dllmgo/dllm/nn"
	"github.com/dllmgo/dllm/tensor"
)

// TestAutocastBF16 runs the Hugging Face fixture's forward and backward
// pass with the tape in bf16 autocast: every Linear, the tied decoder
// included, then multiplies bf16 operands. Logits, hidden states, the loss
// and every gradient stay within bf16's precision of the F32 pass (the
// golden), and they do move, which shows the tape's mode reaches the model.
func TestAutocastBF16(t *testing.T) {
	dir := filepath.Join("testdata", "hf_tiny_a")
	g := readGolden(t, filepath.Join(dir, "golden.safetensors"))
	m := loadFixture(t, dir, "config.json")
	n := g.b * g.s
	fb := g.batch()
	ids, mask, targets, keep, weights := fb.ids, fb.mask, fb.targets, fb.keep, fb.weights
	tp := nn.NewTape(tensor.CPU())
	tp.Precision = nn.PrecisionBF16
	out := m.Forward(tp, Input{IDs: tensor.FromI32(ids, g.b, g.s), KeyMask: tensor.FromI32(mask, g.b, g.s)})
	loss := tp.CrossEntropy(out.Logits, tensor.FromI32(targets, n), tensor.FromF32(weights, n), -100)
	tp.Backward(loss)

	le := relErrRows(out.Logits.Value.F32(), g.logits, m.Config.VocabSize, keep)
	he := relErrRows(out.Hidden.Value.F32(), g.hidden, m.Config.HiddenSize, keep)
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
