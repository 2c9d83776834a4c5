package modeldir

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dllmgo/dllm/mdlm"
)

func ptr[T any](v T) *T { return &v }

// TestGenerationKnobs: the sampling knobs of generation_config.json land in
// the sampler configuration, Dream's alg names map to remasking rules
// (origin: random positions, binomial counts), do_sample false means
// greedy, and values no sampler can run are refused naming the key.
func TestGenerationKnobs(t *testing.T) {
	for _, tc := range []struct {
		name  string
		g     Generation
		check func(t *testing.T, c mdlm.SamplerConfig)
		err   string
	}{
		{name: "dream example", g: Generation{Temperature: ptr(0.2), TopP: ptr(0.95), Alg: "entropy", AlgTemp: ptr(0.1)},
			check: func(t *testing.T, c mdlm.SamplerConfig) {
				assert.Equal(t, 0.2, c.Temperature)
				assert.Equal(t, 0.95, c.Truncation.TopP)
				assert.Equal(t, mdlm.EntropyRemasking, c.Remasking)
				assert.Equal(t, 0.1, c.AlgTemp)
			}},
		{name: "origin", g: Generation{Alg: "origin"}, check: func(t *testing.T, c mdlm.SamplerConfig) {
			assert.Equal(t, mdlm.RandomRemasking, c.Remasking)
			assert.True(t, c.StochasticTransfer)
		}},
		{name: "maskgit_plus and top_k", g: Generation{Alg: "maskgit_plus", TopK: ptr(20)}, check: func(t *testing.T, c mdlm.SamplerConfig) {
			assert.Equal(t, mdlm.LowConfidence, c.Remasking)
			assert.Equal(t, 20, c.Truncation.TopK)
		}},
		{name: "greedy", g: Generation{DoSample: ptr(false), Temperature: ptr(0.7), TopK: ptr(5)}, check: func(t *testing.T, c mdlm.SamplerConfig) {
			assert.Zero(t, c.Temperature)
			assert.Zero(t, c.Truncation.TopK)
		}},
		{name: "threshold and cfg", g: Generation{Threshold: ptr(0.9), CFGScale: ptr(1.5)}, check: func(t *testing.T, c mdlm.SamplerConfig) {
			assert.Equal(t, 0.9, c.Threshold)
			assert.Equal(t, 1.5, c.CFGScale)
		}},
		{name: "negative temperature", g: Generation{Temperature: ptr(-1.0)}, err: "temperature is -1"},
		{name: "top_p above one", g: Generation{TopP: ptr(1.5)}, err: "top_p is 1.5"},
		{name: "negative top_k", g: Generation{TopK: ptr(-2)}, err: "top_k is -2"},
		{name: "unknown alg", g: Generation{Alg: "greedy-ish"}, err: `alg "greedy-ish"`},
		{name: "threshold above one", g: Generation{Threshold: ptr(2.0)}, err: "threshold is 2"},
		{name: "negative alg_temp", g: Generation{AlgTemp: ptr(-0.5)}, err: "alg_temp is -0.5"},
		{name: "negative size", g: Generation{Steps: -1}, err: "negative sizes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.g.check()
			if tc.err != "" {
				require.ErrorContains(t, err, tc.err)
				return
			}
			require.NoError(t, err)
			c := mdlm.DefaultSamplerConfig(1, 2)
			tc.g.apply(&c)
			tc.check(t, c)
		})
	}
}
