package mdlm

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// samplerFunc is the shape of Generate, Infill and Ancestral.
type samplerFunc func(Denoiser, [][]int32, SamplerConfig, *rand.Rand) (*Output, error)

// rowReveals returns, per row, the positions each step committed, leaving
// out the steps that committed nothing in that row (a batch runs as many
// steps as its slowest row needs).
func rowReveals(frames []Frame, rows int) [][][]int {
	out := make([][][]int, rows)
	for _, f := range frames {
		if f.Step > 0 && len(f.Revealed) > 0 {
			out[f.Row] = append(out[f.Row], f.Revealed)
		}
	}
	return out
}

// TestRowStreamsBatchMatchesAlone checks the contract of the random streams
// with every random setting on: row r of a batch samples exactly what its
// input samples alone with the same seed and StreamOffset+r, step by step.
// The model's logits are a function of the row's own tokens only, so any
// difference comes from the random draws.
func TestRowStreamsBatchMatchesAlone(t *testing.T) {
	const vocab, mask, pad = 30, 29, 28
	prompts := [][]int32{{1, 2, 3, 4, 5}, {6}, {7, 8, 9}, {10, 11}}
	texts := [][]int32{
		{1, mask, mask, 2, mask, mask, mask},
		{mask, 3, mask},
		{4, mask, mask, mask, mask, 5, mask, mask, mask, 6},
	}
	plain := func() Denoiser { return hashModel(vocab, mask, pad, nil) }
	// A cacher whose cached steps see what a full pass sees.
	cacher := func() Denoiser { return &fakeCacher{fakeModel: hashModel(vocab, mask, pad, nil)} }
	random := SamplerConfig{MaxNewTokens: 16, Steps: 8, BlockSize: 4, Temperature: 1, Remasking: RandomRemasking, StochasticTransfer: true}
	with := func(c SamplerConfig, f func(*SamplerConfig)) SamplerConfig {
		f(&c)
		return c
	}
	for _, tc := range []struct {
		name   string
		sample samplerFunc
		model  func() Denoiser
		inputs [][]int32
		cfg    SamplerConfig
	}{
		{"generate random", Generate, plain, prompts, random},
		{"generate offset", Generate, plain, prompts, with(random, func(c *SamplerConfig) { c.StreamOffset = 5 })},
		{"generate full canvas", Generate, plain, prompts, with(random, func(c *SamplerConfig) { c.FullCanvas = true; c.Schedule = Cosine{} })},
		{"generate guided", Generate, plain, prompts, with(random, func(c *SamplerConfig) {
			c.Remasking, c.Temperature, c.CFGScale, c.Steps, c.BlockSize = LowConfidence, 0.7, 0.5, 16, 8
		})},
		{"generate threshold", Generate, plain, prompts, with(random, func(c *SamplerConfig) { c.Remasking, c.Threshold = LowConfidence, 0.2 })},
		{"generate alg_temp entropy", Generate, plain, prompts, with(random, func(c *SamplerConfig) { c.Remasking, c.AlgTemp = EntropyRemasking, 0.5 })},
		{"generate cached", Generate, cacher, prompts, with(random, func(c *SamplerConfig) { c.Cache = true; c.CFGScale = 1 })},
		{"infill", Infill, plain, texts, with(random, func(c *SamplerConfig) { c.Steps = 5 })},
		{"ancestral", Ancestral, plain, prompts, SamplerConfig{MaxNewTokens: 12, Steps: 6, Temperature: 1}},
		{"ancestral guided argmax", Ancestral, plain, prompts, SamplerConfig{MaxNewTokens: 12, Steps: 10, CFGScale: 1, StreamOffset: 2}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			run := func(inputs [][]int32, offset int, seed uint64) (*Output, [][][]int) {
				rec := &recorder{}
				c := tc.cfg
				c.MaskID, c.PadID, c.StreamOffset, c.Trace = mask, pad, offset, rec.trace
				out, err := tc.sample(tc.model(), inputs, c, NewRand(seed))
				require.NoError(t, err)
				require.Len(t, out.Samples, len(inputs))
				return out, rowReveals(rec.frames, len(inputs))
			}
			batched, reveals := run(tc.inputs, tc.cfg.StreamOffset, 3)
			for r, in := range tc.inputs {
				alone, steps := run([][]int32{in}, tc.cfg.StreamOffset+r, 3)
				assert.Equal(t, alone.Samples[0], batched.Samples[r], "row %d (length %d)", r, len(in))
				assert.Equal(t, steps[0], reveals[r], "row %d: positions committed per step", r)
			}
			other, _ := run(tc.inputs, tc.cfg.StreamOffset, 4)
			assert.NotEqual(t, batched.Samples, other.Samples, "the seed should matter")
		})
	}
}

// TestRowStreamsRepeatedPrompt: copies of one prompt in a batch draw from
// different streams, so they are independent samples, and the first copy is
// the prompt sampled alone.
func TestRowStreamsRepeatedPrompt(t *testing.T) {
	const vocab, mask, pad = 30, 29, 28
	m := hashModel(vocab, mask, pad, nil)
	c := SamplerConfig{MaxNewTokens: 8, Steps: 8, BlockSize: 8, Temperature: 1, MaskID: mask, PadID: pad, FullCanvas: true}
	out, err := Generate(m, slices.Repeat([][]int32{{1, 2}}, 6), c, NewRand(8))
	require.NoError(t, err)
	answers := map[string]bool{}
	for _, s := range out.Samples {
		answers[fmt.Sprint(s.Canvas)] = true
	}
	assert.Greater(t, len(answers), 3, "six copies, at temperature 1 over 28 tokens")
	alone, err := Generate(m, [][]int32{{1, 2}}, c, NewRand(8))
	require.NoError(t, err)
	assert.Equal(t, alone.Samples[0], out.Samples[0])
}

// TestSamplersTakeOneNumber: a call advances the caller's generator by
// exactly one number, whatever the batch and the settings, so consecutive
// calls on one generator are reproducible and independent of each other's
// batch sizes.
func TestSamplersTakeOneNumber(t *testing.T) {
	const vocab, mask, pad = 30, 29, 28
	m := hashModel(vocab, mask, pad, nil)
	for _, tc := range []struct {
		name   string
		sample samplerFunc
		inputs [][]int32
		cfg    SamplerConfig
	}{
		{"generate argmax", Generate, [][]int32{{1}}, SamplerConfig{MaxNewTokens: 8}},
		{"generate random", Generate, [][]int32{{1}, {2, 3}, {4}}, SamplerConfig{MaxNewTokens: 8, Temperature: 1, Remasking: RandomRemasking, StochasticTransfer: true}},
		{"infill", Infill, [][]int32{{1, mask, mask}, {mask}}, SamplerConfig{Temperature: 1}},
		{"ancestral", Ancestral, [][]int32{{1}, {5, 6}}, SamplerConfig{MaxNewTokens: 8, Steps: 4, Temperature: 1}},
	} {
		c := tc.cfg
		c.MaskID, c.PadID = mask, pad
		rng := NewRand(21)
		_, err := tc.sample(m, tc.inputs, c, rng)
		require.NoError(t, err, tc.name)
		want := NewRand(21)
		want.Uint64()
		assert.Equal(t, want.Uint64(), rng.Uint64(), tc.name)

		_, err = tc.sample(m, tc.inputs, c, nil)
		assert.ErrorContains(t, err, "nil random generator", tc.name)
	}
}
