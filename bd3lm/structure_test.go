package bd3lm_test

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dllmgo/dllm/bd3lm"
	"github.com/dllmgo/dllm/lm"
	"github.com/dllmgo/dllm/mdlm"
	"github.com/dllmgo/dllm/nn"
	"github.com/dllmgo/dllm/tensor"
)

// The training mask given as structure (the fused attention kernels) and
// the same mask dense (bd3lm.TrainingMask through the composed
// nn.MaskedAttention, the reference) give the same logits and the same
// gradient of every parameter, on ModernBERT (sliding windows in positions)
// and LLaDA (grouped-query attention), with short last blocks and padding.
func TestTrainingStructureEqualsDense(t *testing.T) {
	for _, fam := range []struct {
		name string
		m    lm.Model
	}{{"modernbert", newTestModel(t)}, {"llada", newTestLLaDA(t)}} {
		t.Run(fam.name, func(t *testing.T) {
			m, be := fam.m, tensor.CPU()
			for _, c := range []struct{ l, bs int }{{10, 3}, {12, 4}, {7, 1}} {
				b := randomBatch(rand.New(rand.NewPCG(3, uint64(c.l))), 2, c.l)
				b.PromptLens = []int{2, 0}
				o := bd3lm.NewObjective(bd3lm.Options{MDLM: mdlm.ObjectiveOptions{MaskID: testMask}, BlockSize: c.bs})
				in, err := o.Prepare(b, false, rand.New(rand.NewPCG(5, 6)))
				require.NoError(t, err)
				require.Equal(t, tensor.BlockPattern{Size: c.bs, Half: c.l}, in.Mask.Blocks, "the objective gives structure")
				dense := &lm.AttentionMask{Allow: bd3lm.TrainingMask(c.l, c.bs), Rows: 1, Pos: in.Mask.Pos}
				run := func(mask *lm.AttentionMask) ([]float32, [][]float32) {
					nn.ZeroGrads(m.Params())
					tp := nn.NewTape(be)
					out := m.Forward(tp, lm.Input{
						IDs:       be.FromHost(tensor.FromI32(in.IDs, in.B, 2*in.L)),
						Positions: be.FromHost(tensor.FromI32(in.Positions, len(in.Positions))),
						Rows:      be.FromHost(tensor.FromI32(in.Rows, len(in.Rows))),
						Mask:      mask,
					})
					w := make([]float32, len(in.Weights))
					for i, x := range in.Weights {
						w[i] = float32(x)
					}
					loss := tp.CrossEntropy(out.Logits, be.FromHost(tensor.FromI32(in.Targets, len(in.Targets))),
						be.FromHost(tensor.FromF32(w, len(w))), -100)
					tp.Backward(loss)
					var grads [][]float32
					for _, p := range m.Params() {
						require.NotNil(t, p.Grad, p.Name)
						grads = append(grads, append([]float32(nil), p.Grad.F32()...))
					}
					return append([]float32(nil), out.Logits.Value.F32()...), grads
				}
				sl, sg := run(in.Mask)
				dl, dg := run(dense)
				requireClose(t, dl, sl, 1e-4, "logits L=%d bs=%d", c.l, c.bs)
				nonzero := false
				for i := range dg {
					requireClose(t, dg[i], sg[i], 1e-4, "gradient %s L=%d bs=%d", m.Params()[i].Name, c.l, c.bs)
					for _, v := range dg[i] {
						nonzero = nonzero || v != 0
					}
				}
				require.True(t, nonzero)
			}
		})
	}
}

// Sampling under the block-causal mask as structure gives the tokens of
// sampling under the same mask dense, cached or not, on two families.
func TestGenerateStructureEqualsDense(t *testing.T) {
	prompts := [][]int32{{1, 2, 3, 4, 5}, {6, 7}, {8, 9, 10, 11, 12, 13, 14, 15, 16}}
	for _, fam := range []struct {
		name string
		m    lm.Model
	}{{"modernbert", newTestModel(t)}, {"llada", newTestLLaDA(t)}} {
		t.Run(fam.name, func(t *testing.T) {
			cfg := mdlm.SamplerConfig{MaxNewTokens: 14, Steps: 14, BlockSize: 4, Temperature: 0.7, MaskID: testMask, PadID: testPad}
			run := func(dense, cache bool) *mdlm.Output {
				bd3lm.SetDenseForTest(dense)
				defer bd3lm.SetDenseForTest(false)
				cfg.Cache = cache
				out, err := bd3lm.Generate(fam.m, prompts, cfg, testEOS, rand.New(rand.NewPCG(2, 2)))
				require.NoError(t, err)
				return out
			}
			ref := run(true, false)
			for _, cache := range []bool{false, true} {
				got := run(false, cache)
				for r := range prompts {
					require.Equal(t, ref.Samples[r].Canvas, got.Samples[r].Canvas, "row %d cache %v", r, cache)
				}
			}
		})
	}
}

func requireClose(t *testing.T, want, got []float32, tol float64, msg string, args ...any) {
	t.Helper()
	require.Len(t, got, len(want))
	scale := 0.0
	for _, v := range want {
		scale = math.Max(scale, math.Abs(float64(v)))
	}
	for i := range want {
		require.InDelta(t, want[i], got[i], tol*math.Max(scale, 1), append([]any{msg + " [%d]"}, append(args, i)...)...)
	}
}
