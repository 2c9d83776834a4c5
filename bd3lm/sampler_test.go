package bd3lm_test

import (
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dllmgo/dllm/bd3lm"
	"github.com/dllmgo/dllm/bert"
	"github.com/dllmgo/dllm/llada"
	"github.com/dllmgo/dllm/lm"
	"github.com/dllmgo/dllm/mdlm"
	"github.com/dllmgo/dllm/nn"
	"github.com/dllmgo/dllm/tensor"
)

// newTestLLaDA is a tiny LLaDA (grouped-query attention, RMSNorm, SwiGLU)
// with the test vocabulary and special ids.
func newTestLLaDA(t *testing.T) *llada.Model {
	t.Helper()
	cfg, err := llada.Preset("tiny")
	require.NoError(t, err)
	cfg.DModel, cfg.NLayers = 32, 2
	cfg.VocabSize, cfg.EmbeddingSize = testVocab, nil
	cfg.MaskTokenID, cfg.PadTokenID, cfg.EOSTokenID = testMask, testPad, testEOS
	cfg.InitStd = 0.5
	m := llada.New(cfg, tensor.CPU())
	m.Init(rand.New(rand.NewPCG(7, 8)))
	return m
}

// Sampling with the prefix cached gives the tokens of sampling without it,
// and the same seed gives the same tokens, for prompts of several lengths
// (left padding), greedy and at a temperature, with both remasking rules,
// on three families (ModernBERT, LLaDA, A2D).
func TestGenerateCachedEqualsUncached(t *testing.T) {
	for _, fam := range []struct {
		name string
		m    lm.Model
	}{{"modernbert", newTestModel(t)}, {"llada", newTestLLaDA(t)}, {"a2d", newTestA2D(t)}} {
		t.Run(fam.name, func(t *testing.T) { testCachedEqualsUncached(t, fam.m) })
	}
}

func testCachedEqualsUncached(t *testing.T, m lm.Model) {
	rng := rand.New(rand.NewPCG(9, 9))
	prompts := [][]int32{make([]int32, 5), make([]int32, 2), make([]int32, 9)}
	for _, p := range prompts {
		for i := range p {
			p[i] = int32(rng.IntN(testEOS))
		}
	}
	cases := []struct {
		name      string
		temp      float64
		remasking mdlm.Remasking
		bs, steps int
	}{
		{"greedy, low confidence", 0, mdlm.LowConfidence, 4, 12},
		{"temperature, random remasking", 0.8, mdlm.RandomRemasking, 3, 20},
		{"one step per token", 1, mdlm.LowConfidence, 4, 14},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := mdlm.SamplerConfig{MaxNewTokens: 14, Steps: c.steps, BlockSize: c.bs, Temperature: c.temp,
				Remasking: c.remasking, MaskID: testMask, PadID: testPad}
			run := func(cache bool, seed uint64) *mdlm.Output {
				cfg.Cache = cache
				out, err := bd3lm.Generate(m, prompts, cfg, testEOS, rand.New(rand.NewPCG(seed, 1)))
				require.NoError(t, err)
				return out
			}
			plain, cached, again := run(false, 3), run(true, 3), run(false, 3)
			require.Zero(t, plain.CachedPasses)
			require.Positive(t, cached.CachedPasses)
			for r, p := range prompts {
				require.Equal(t, p, plain.Samples[r].Canvas[:len(p)])
				require.NotContains(t, plain.Samples[r].Canvas, int32(testMask), "row %d", r)
				require.Equal(t, plain.Samples[r].Canvas, cached.Samples[r].Canvas, "row %d", r)
				require.Equal(t, plain.Samples[r].Canvas, again.Samples[r].Canvas, "row %d", r)
			}
			if c.temp > 0 {
				other := run(false, 4)
				differ := false
				for r := range prompts {
					differ = differ || !slicesEqual(other.Samples[r].Canvas, plain.Samples[r].Canvas)
				}
				require.True(t, differ, "another seed, the same answers")
			}
		})
	}
}

func slicesEqual(a, b []int32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// eosModel is the test model with end-of-text made the most likely token
// at every canvas position from eosFrom on (uncached sampling only).
type eosModel struct {
	*bert.Model
	eosFrom int
}

func (m eosModel) Forward(tp *nn.Tape, in lm.Input) lm.Output {
	out := m.Model.Forward(tp, in)
	logits, s := out.Logits.Value.F32(), in.IDs.Dim(1)
	for i, row := range in.Rows.I32() {
		if int(row)%s >= m.eosFrom {
			logits[i*testVocab+testEOS] = 100
		}
	}
	return out
}

// Sampling stops after the first block in which every row holds
// end-of-text; the answers are cut before it.
func TestGenerateStopsAfterEOSBlock(t *testing.T) {
	cases := []struct {
		name       string
		eosFrom    int // canvas position (prompts padded to 8)
		wantBlocks int
		wantAnswer int
	}{
		{"end-of-text in the first block", 8, 1, 0},
		{"in the third block", 8 + 2*4 + 1, 3, 9},
		{"never: every block", 100, 5, 20},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := eosModel{newTestModel(t), c.eosFrom}
			prompts := [][]int32{{1, 2, 3, 4, 5}, {6, 7}}
			cfg := mdlm.SamplerConfig{MaxNewTokens: 20, Steps: 20, BlockSize: 4, MaskID: testMask, PadID: testPad}
			out, err := bd3lm.Generate(m, prompts, cfg, testEOS, rand.New(rand.NewPCG(1, 1)))
			require.NoError(t, err)
			require.Equal(t, 4*c.wantBlocks, out.Steps) // one token per step
			for r, p := range prompts {
				s := out.Samples[r]
				require.Len(t, s.Canvas, len(p)+4*c.wantBlocks)
				require.Len(t, s.Answer, c.wantAnswer, "row %d", r)
			}
		})
	}
}
