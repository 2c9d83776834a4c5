package bd3lm_test

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dllmgo/dllm/bd3lm"
	"github.com/dllmgo/dllm/lm"
	"github.com/dllmgo/dllm/mdlm"
	"github.com/dllmgo/dllm/nn"
	"github.com/dllmgo/dllm/tensor"
)

func twoFamilies(t *testing.T) []struct {
	name string
	m    lm.Model
} {
	return []struct {
		name string
		m    lm.Model
	}{{"modernbert", newTestModel(t)}, {"llada", newTestLLaDA(t)}}
}

// Guidance and threshold decoding keep cached sampling equal to uncached
// sampling, with guidance's second canvas cached on its own.
func TestGuidedAndThresholdCachedEqualsUncached(t *testing.T) {
	prompts := [][]int32{{1, 2, 3, 4, 5}, {6, 7}, {8, 9, 10, 11, 12, 13, 14, 15, 16}}
	for _, fam := range twoFamilies(t) {
		for _, c := range []struct {
			name           string
			cfg, threshold float64
		}{{"guidance", 1.5, 0}, {"threshold", 0, 0.2}, {"both", 0.5, 0.3}} {
			t.Run(fam.name+"/"+c.name, func(t *testing.T) {
				cfg := mdlm.SamplerConfig{MaxNewTokens: 13, Steps: 13, BlockSize: 4, Temperature: 0.5, MaskID: testMask, PadID: testPad,
					CFGScale: c.cfg, Threshold: c.threshold}
				run := func(cache bool) *mdlm.Output {
					cfg.Cache = cache
					out, err := bd3lm.Generate(fam.m, prompts, cfg, testEOS, rand.New(rand.NewPCG(4, 4)))
					require.NoError(t, err)
					return out
				}
				plain, cached := run(false), run(true)
				require.Positive(t, cached.CachedPasses)
				for r := range prompts {
					require.NotContains(t, plain.Samples[r].Canvas, int32(testMask))
					require.Equal(t, plain.Samples[r].Canvas, cached.Samples[r].Canvas, "row %d", r)
				}
				if c.cfg > 0 {
					require.Equal(t, 2*plain.Steps, plain.ForwardPasses, "two canvases per step")
				}
			})
		}
	}
}

// One greedy token under guidance is the argmax of un + (s+1)·(cond − un),
// cond from the model on the left-padded prompt and its mask, un from the
// same canvas with the prompt's tokens masked (the padding kept).
func TestGuidanceIsTheGuidedArgmax(t *testing.T) {
	prompts := [][]int32{{1, 2, 3, 4, 5}, {6, 7}, {9, 3, 30, 12}, {20, 21, 22, 23, 24, 25, 26}, {33}, {17, 8, 8}}
	const scale = 4.0
	for _, fam := range twoFamilies(t) {
		t.Run(fam.name, func(t *testing.T) {
			m, be := fam.m, tensor.CPU()
			cfg := mdlm.SamplerConfig{MaxNewTokens: 1, Steps: 1, BlockSize: 4, MaskID: testMask, PadID: testPad, CFGScale: scale}
			out, err := bd3lm.Generate(m, prompts, cfg, testEOS, rand.New(rand.NewPCG(1, 1)))
			require.NoError(t, err)
			const n = 9 // prompts padded to 8, one mask
			logitsAt := func(canvas [][]int32) [][]float32 {
				var ids, rows []int32
				allow := make([]bool, len(canvas)*n*n)
				for r, row := range canvas {
					first := 8 - len(prompts[r])
					ids = append(ids, row...)
					for q := first; q < n; q++ {
						for k := first; k < n && k/4 <= q/4; k++ {
							allow[(r*n+q)*n+k] = true
						}
					}
					rows = append(rows, int32(r*n+8))
				}
				o := m.Forward(nn.NoGrad(be), lm.Input{
					IDs:  be.FromHost(tensor.FromI32(ids, len(canvas), n)),
					Rows: be.FromHost(tensor.FromI32(rows, len(rows))),
					Mask: &lm.AttentionMask{Allow: allow, Rows: len(canvas)},
				})
				l := o.Logits.Value.F32()
				v := m.VocabSize()
				var per [][]float32
				for r := range canvas {
					per = append(per, l[r*v:(r+1)*v])
				}
				return per
			}
			var cond, un [][]int32
			for _, p := range prompts {
				pad := slices.Repeat([]int32{testPad}, 8-len(p))
				cond = append(cond, append(append(slices.Clone(pad), p...), testMask))
				un = append(un, append(append(slices.Clone(pad), slices.Repeat([]int32{testMask}, len(p))...), testMask))
			}
			lc, lu := logitsAt(cond), logitsAt(un)
			differs := false // guidance changes some row's choice, so the test can tell
			for r := range prompts {
				best, bestG, plain, bestP := -1, 0.0, -1, 0.0
				for v := range lc[r] {
					if v == testMask {
						continue
					}
					g := float64(lu[r][v]) + (scale+1)*(float64(lc[r][v])-float64(lu[r][v]))
					if best < 0 || g > bestG {
						best, bestG = v, g
					}
					if plain < 0 || float64(lc[r][v]) > bestP {
						plain, bestP = v, float64(lc[r][v])
					}
				}
				require.Equal(t, []int32{int32(best)}, out.Samples[r].Canvas[len(prompts[r]):], "row %d", r)
				differs = differs || best != plain
			}
			require.True(t, differs, "guidance changed no row's token")
		})
	}
}

// Threshold decoding commits at least one token per step and every
// position above the threshold: a threshold of 1 reveals one token per step
// (no probability reaches 1), a tiny one fills a block in one step.
func TestThresholdDecoding(t *testing.T) {
	prompts := [][]int32{{1, 2, 3}, {4, 5, 6, 7, 8}}
	for _, fam := range twoFamilies(t) {
		t.Run(fam.name, func(t *testing.T) {
			run := func(threshold float64) *mdlm.Output {
				cfg := mdlm.SamplerConfig{MaxNewTokens: 12, Steps: 3, BlockSize: 4, MaskID: testMask, PadID: testPad, Threshold: threshold}
				out, err := bd3lm.Generate(fam.m, prompts, cfg, testEOS, rand.New(rand.NewPCG(1, 1)))
				require.NoError(t, err)
				for r := range prompts {
					require.NotContains(t, out.Samples[r].Canvas, int32(testMask))
				}
				return out
			}
			require.Equal(t, 12, run(1).Steps, "one token per step")
			require.Equal(t, 3, run(1e-9).Steps, "a block per step")
			mid := run(0.3).Steps
			require.GreaterOrEqual(t, mid, 3)
			require.LessOrEqual(t, mid, 12)
		})
	}
	_, err := bd3lm.Generate(newTestModel(t), prompts[:1], mdlm.SamplerConfig{MaxNewTokens: 4, BlockSize: 4, MaskID: testMask, PadID: testPad,
		Threshold: 0.5, Remasking: mdlm.RandomRemasking}, testEOS, rand.New(rand.NewPCG(1, 1)))
	require.Error(t, err)
}
