package bert_test

import (
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dllmgo/dllm/mdlm"
)

// TestRandomSamplingBatchMatchesAlone: with every random setting on
// (temperature, random remasking, stochastic transfer counts, ancestral coin
// flips), each row of a batch of prompts of different lengths samples
// exactly the tokens its prompt samples alone with the same seed and the
// row's stream number (mdlm's per-row streams: row r alone is the call with
// StreamOffset r). The real model matters here: the noise only lands on the
// same tokens if the padded rows get the logits they get alone.
func TestRandomSamplingBatchMatchesAlone(t *testing.T) {
	m := newMaskTestModel(t)
	rng := rand.New(rand.NewPCG(5, 6))
	prompts := randomTexts(rng, 2, 9, 5, 7)
	infill := randomTexts(rng, 6, 15, 10)
	for _, text := range infill {
		for s := range text {
			if s%3 != 0 {
				text[s] = testMask
			}
		}
	}
	random := mdlm.SamplerConfig{MaxNewTokens: 12, Steps: 6, BlockSize: 4, Temperature: 1,
		Remasking: mdlm.RandomRemasking, StochasticTransfer: true, MaskID: testMask, PadID: testPad}
	with := func(f func(*mdlm.SamplerConfig)) mdlm.SamplerConfig {
		c := random
		f(&c)
		return c
	}
	type sampler func(mdlm.Denoiser, [][]int32, mdlm.SamplerConfig, *rand.Rand) (*mdlm.Output, error)
	for _, tc := range []struct {
		name   string
		sample sampler
		inputs [][]int32
		cfg    mdlm.SamplerConfig
	}{
		{"generate", mdlm.Generate, prompts, random},
		{"generate full canvas", mdlm.Generate, prompts, with(func(c *mdlm.SamplerConfig) { c.FullCanvas, c.StreamOffset = true, 3 })},
		{"generate guided", mdlm.Generate, prompts, with(func(c *mdlm.SamplerConfig) {
			c.CFGScale, c.Temperature, c.Remasking = 1, 0.8, mdlm.LowConfidence
		})},
		{"generate threshold", mdlm.Generate, prompts, with(func(c *mdlm.SamplerConfig) { c.Threshold, c.Remasking = 0.3, mdlm.LowConfidence })},
		{"generate cached", mdlm.Generate, prompts, with(func(c *mdlm.SamplerConfig) { c.Cache = true })},
		{"ancestral", mdlm.Ancestral, prompts, mdlm.SamplerConfig{MaxNewTokens: 12, Steps: 6, Temperature: 1, MaskID: testMask, PadID: testPad}},
		{"infill", mdlm.Infill, infill, random},
	} {
		t.Run(tc.name, func(t *testing.T) {
			run := func(inputs [][]int32, offset int, seed uint64) *mdlm.Output {
				c := tc.cfg
				c.StreamOffset = offset
				out, err := tc.sample(m, inputs, c, mdlm.NewRand(seed))
				require.NoError(t, err)
				require.Len(t, out.Samples, len(inputs))
				return out
			}
			batched := run(tc.inputs, tc.cfg.StreamOffset, 5)
			for r, in := range tc.inputs {
				alone := run([][]int32{in}, tc.cfg.StreamOffset+r, 5)
				assert.Equal(t, alone.Samples[0], batched.Samples[r], "row %d (length %d)", r, len(in))
			}
			other := run(tc.inputs, tc.cfg.StreamOffset, 6)
			assert.NotEqual(t, batched.Samples, other.Samples, "the seed should matter")
		})
	}
}
