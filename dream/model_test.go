package dream

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dllmgo/dllm/internal/fixture"
	"github.com/dllmgo/dllm/lm"
	"github.com/dllmgo/dllm/mdlm"
	"github.com/dllmgo/dllm/nn"
	"github.com/dllmgo/dllm/tensor"
)

// fixtureDir is a forward and backward pass of Dream's own PyTorch code on
// a tiny random model (testdata/tiny_a/README.md).
var fixtureDir = filepath.Join("testdata", "tiny_a")

type golden struct {
	b, s                     int
	ids, mask, labels, clean []int32
	maskable                 []int32
	logits, cart             []float32
	loss, lossCART           float32
	grads                    map[string][]float32
}

func readGolden(t *testing.T) golden {
	t.Helper()
	f := fixture.Open(t, filepath.Join(fixtureDir, "golden.safetensors"))
	var g golden
	var shape []int
	g.ids, shape = f.I32("input_ids")
	g.b, g.s = shape[0], shape[1]
	g.mask, _ = f.I32("attention_mask")
	g.labels, _ = f.I32("labels")
	g.clean, _ = f.I32("clean_ids")
	g.maskable, _ = f.I32("maskable_mask")
	g.logits, g.cart = f.F32("logits"), f.F32("cart_weights")
	g.loss, g.lossCART = f.F32("loss")[0], f.F32("loss_cart")[0]
	g.grads = f.Grads()
	return g
}

// shiftedLoss records the fixture's loss: the mean over the labelled
// positions (b, i) of CE(logits[b, i−1], labels[b, i]), reading the rows
// mdlm.ShiftRows maps the labelled positions to.
func shiftedLoss(tp *nn.Tape, logits *nn.Var, labels []int32, seq int, weight func(flat int) float32) *nn.Var {
	var rows, targets []int32
	var w []float32
	for i, l := range labels {
		if l != -100 {
			rows, targets, w = append(rows, int32(i)), append(targets, l), append(w, weight(i))
		}
	}
	rows = mdlm.ShiftRows(rows, seq)
	picked := tp.GatherRows(logits, tensor.FromI32(rows, len(rows)))
	return tp.CrossEntropy(picked, tensor.FromI32(targets, len(targets)), tensor.FromF32(w, len(w)), -100)
}

// TestFixtureParity: logits at the real positions to 1e-4 relative, the
// shifted loss to 1e-5, every gradient to 1e-3 relative (the README's
// tolerances), the pad row's embedding gradient exactly zero.
func TestFixtureParity(t *testing.T) {
	g := readGolden(t)
	m, err := Load(fixtureDir, tensor.CPU())
	require.NoError(t, err)
	require.True(t, m.Spec().ShiftLogits)
	labelled := 0
	for _, l := range g.labels {
		if l != -100 {
			labelled++
		}
	}
	tp := nn.NewTape(tensor.CPU())
	out := m.Forward(tp, lm.Input{IDs: tensor.FromI32(g.ids, g.b, g.s), KeyMask: tensor.FromI32(g.mask, g.b, g.s)})
	loss := shiftedLoss(tp, out.Logits, g.labels, g.s, func(int) float32 { return 1 / float32(labelled) })
	tp.Backward(loss)

	le := fixture.RelErrRows(out.Logits.Value.F32(), g.logits, m.VocabSize(), realRows(g.mask))
	t.Logf("logits relative error %.2e; loss %.7f vs %.7f", le, loss.Value.F32()[0], g.loss)
	require.Less(t, le, 1e-4, "logits")
	require.InDelta(t, g.loss, loss.Value.F32()[0], 1e-5, "loss")
	require.Len(t, g.grads, len(m.Params()))
	worst := 0.0
	for _, p := range m.Params() {
		want, ok := g.grads[p.Name]
		require.True(t, ok, "the fixture has no gradient for %s", p.Name)
		require.NotNil(t, p.Grad, p.Name)
		e := fixture.RelErrRows(p.Grad.F32(), want, 1, nil)
		worst = max(worst, e)
		require.Less(t, e, 1e-3, "gradient of %s", p.Name)
	}
	t.Logf("worst gradient relative error %.2e over %d parameters", worst, len(m.Params()))
	d := m.Config.HiddenSize
	pad := *m.Config.PadTokenID
	for _, v := range m.Embed.Weight.Grad.F32()[pad*d : (pad+1)*d] {
		require.Zero(t, v, "the pad row gets no gradient")
	}
}

// TestFixtureCART: mdlm.CARTWeights reproduce the fixture's weights for its
// masked set, and the CART loss (normalised by the maskable count) its
// loss_cart.
func TestFixtureCART(t *testing.T) {
	g := readGolden(t)
	m, err := Load(fixtureDir, tensor.CPU())
	require.NoError(t, err)
	weights := make([]float32, len(g.labels))
	for r := range g.b {
		masked := make([]bool, g.s)
		for s := range g.s {
			masked[s] = g.labels[r*g.s+s] != -100
		}
		for s, w := range mdlm.CARTWeights(masked, mdlm.DefaultCARTP) {
			require.InDelta(t, g.cart[r*g.s+s], w, 1e-6, "row %d position %d", r, s)
			weights[r*g.s+s] = float32(w)
		}
	}
	maskable := 0
	for _, v := range g.maskable {
		maskable += int(v)
	}
	tp := nn.NoGrad(tensor.CPU())
	out := m.Forward(tp, lm.Input{IDs: tensor.FromI32(g.ids, g.b, g.s), KeyMask: tensor.FromI32(g.mask, g.b, g.s)})
	clean := make([]int32, len(g.labels))
	for i, l := range g.labels {
		clean[i] = -100
		if l != -100 {
			clean[i] = g.clean[i]
		}
	}
	loss := shiftedLoss(tp, out.Logits, clean, g.s, func(i int) float32 { return weights[i] / float32(maskable) })
	t.Logf("CART loss %.7f vs %.7f", loss.Value.F32()[0], g.lossCART)
	require.InDelta(t, g.lossCART, loss.Value.F32()[0], 1e-5)
}

// realRows marks the positions whose attention mask is 1: the ones compared.
func realRows(mask []int32) []bool {
	out := make([]bool, len(mask))
	for i, m := range mask {
		out[i] = m == 1
	}
	return out
}
