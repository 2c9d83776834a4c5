package kernels

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dllmgo/dllm/bert"
	"github.com/dllmgo/dllm/data"
	"github.com/dllmgo/dllm/editflow"
	"github.com/dllmgo/dllm/lm"
	"github.com/dllmgo/dllm/nn"
	"github.com/dllmgo/dllm/tensor"
)

// TestGPUEditFlowsLoss: the Edit Flows loss (rate and token heads on a
// tiny ModernBERT, the rate terms through nn's host scalar) and every
// parameter's gradient are the CPU's on the GPU, from the same weights,
// batch and noise. The CPU's loss is held to a float64 reference and finite
// differences in package editflow.
func TestGPUEditFlowsLoss(t *testing.T) {
	g := requireGPU(t)
	build := func(be tensor.Backend) *editflow.Model {
		bb, err := bert.Family.New("tiny", lm.Fresh{VocabSize: 24, MaxPositions: 64,
			Specials: &lm.Specials{Pad: 0, CLS: 1, SEP: 2, Mask: 3, BOS: 1, EOS: 2}}, be)
		require.NoError(t, err)
		rng := rand.New(rand.NewPCG(4, 0))
		bb.Init(rng)
		return editflow.New(bb.(editflow.Backbone), rng)
	}
	b := data.Batch{B: 2, S: 7, InputIDs: []int32{
		1, 5, 6, 7, 8, 9, 2,
		1, 5, 10, 11, 2, 0, 0,
	}, PromptLens: []int{2, 3}}
	obj := editflow.NewObjective(editflow.Options{MaskLength: 4, BOS: 1})
	run := func(be tensor.Backend) (float32, map[string][]float32) {
		m := build(be)
		tp := nn.NewTape(be)
		loss, err := obj.Loss(tp, m, b, rand.New(rand.NewPCG(9, 9)), 1)
		require.NoError(t, err)
		tp.Backward(loss)
		grads := map[string][]float32{}
		for _, p := range m.Params() {
			if p.Grad != nil {
				grads[p.Name] = p.Grad.ToCPU().F32()
			}
		}
		return loss.Value.ToCPU().F32()[0], grads
	}
	wantLoss, wantGrads := run(tensor.CPU())
	gotLoss, gotGrads := run(g)
	require.InEpsilon(t, wantLoss, gotLoss, 1e-5)
	require.Len(t, gotGrads, len(wantGrads))
	worst := 0.0
	for name, want := range wantGrads {
		got := gotGrads[name]
		require.Len(t, got, len(want), name)
		var maxErr, maxRef float64
		for i := range want {
			maxErr = math.Max(maxErr, math.Abs(float64(got[i]-want[i])))
			maxRef = math.Max(maxRef, math.Abs(float64(want[i])))
		}
		if maxRef > 0 {
			worst = math.Max(worst, maxErr/maxRef)
			require.LessOrEqual(t, maxErr/maxRef, 1e-4, name)
		}
	}
	t.Logf("Edit Flows loss %.6f (CPU %.6f); worst gradient error %.2g relative", gotLoss, wantLoss, worst)
}
