package bert_test

import (
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dllmgo/dllm/bert"
	"github.com/dllmgo/dllm/mdlm"
	"github.com/dllmgo/dllm/tensor"
)

// The special tokens of the test vocabulary: the last two ids.
const (
	testVocab = 40
	testPad   = testVocab - 2
	testMask  = testVocab - 1
)

// newMaskTestModel returns a randomly initialised ModernBERT small enough to
// sample with in milliseconds: width 32, two heads, a global layer and a
// sliding one with a window of 4 each side (shorter than the canvases below,
// so both attention kinds meet the padding). The init is wider than Hugging
// Face's 0.02 so that the random model has clear preferences and the padding
// it would otherwise see moves its argmax.
func newMaskTestModel(t *testing.T) *bert.Model {
	t.Helper()
	cfg, err := bert.Preset("tiny")
	require.NoError(t, err)
	cfg.VocabSize, cfg.HiddenSize, cfg.IntermediateSize = testVocab, 32, 48
	cfg.NumLayers, cfg.NumHeads, cfg.LocalAttention = 2, 2, 8
	cfg.LayerTypes = bert.LayersEvery(2, 2)
	cfg.MaxPositions = 64
	cfg.PadTokenID, cfg.MaskTokenID = testPad, testMask
	cfg.InitializerRange = 0.5
	require.NoError(t, cfg.Validate())
	m := bert.New(cfg, tensor.CPU())
	m.Init(rand.New(rand.NewPCG(7, 8)))
	return m
}

// randomTexts draws one text per length from the ordinary tokens.
func randomTexts(rng *rand.Rand, lengths ...int) [][]int32 {
	texts := make([][]int32, len(lengths))
	for i, n := range lengths {
		for range n {
			texts[i] = append(texts[i], int32(rng.IntN(testPad)))
		}
	}
	return texts
}

// TestLogitsKeyMaskMatchesUnpadded: a row padded on the right and masked
// gets, at its real positions, exactly the logits it gets alone.
func TestLogitsKeyMaskMatchesUnpadded(t *testing.T) {
	m := newMaskTestModel(t)
	rng := rand.New(rand.NewPCG(1, 2))
	texts := randomTexts(rng, 3, 14, 9)
	const width = 14
	var ids, keyMask, rows []int32
	for b, text := range texts {
		for s := range width {
			id, real := int32(testPad), int32(0)
			if s < len(text) {
				id, real = text[s], 1
				rows = append(rows, int32(b*width+s))
			}
			ids, keyMask = append(ids, id), append(keyMask, real)
		}
	}
	batched, err := m.Logits(ids, len(texts), width, keyMask, rows)
	require.NoError(t, err)
	unmasked, err := m.Logits(ids, len(texts), width, nil, rows)
	require.NoError(t, err)

	off := 0
	for b, text := range texts {
		all := make([]int32, len(text))
		for s := range all {
			all[s] = int32(s)
		}
		alone, err := m.Logits(text, 1, len(text), nil, all)
		require.NoError(t, err)
		n := len(alone)
		assert.Equal(t, alone, batched[off:off+n], "row %d (length %d) with the key mask", b, len(text))
		if len(text) < width {
			assert.NotEqual(t, alone, unmasked[off:off+n], "row %d: the padding should matter without the mask", b)
		}
		off += n
	}

	_, err = m.Logits(ids, len(texts), width, keyMask[1:], rows)
	require.ErrorContains(t, err, "key mask")
}

// TestBatchedSamplingMatchesAlone: with deterministic token choices, sampling
// a batch of prompts of different lengths gives every row exactly the tokens
// it gets when sampled alone. Without the key mask the shorter rows would
// attend to the [PAD]s that fill them out to the batch's width. (The
// ancestral sampler's coin flips are random; TestRandomSamplingBatchMatchesAlone
// covers the random settings of the others.)
func TestBatchedSamplingMatchesAlone(t *testing.T) {
	m := newMaskTestModel(t)
	rng := rand.New(rand.NewPCG(3, 4))
	prompts := randomTexts(rng, 2, 9, 5)
	infill := randomTexts(rng, 6, 15, 10)
	for _, text := range infill {
		for s := range text {
			if s%3 != 0 {
				text[s] = testMask
			}
		}
	}
	base := mdlm.SamplerConfig{MaxNewTokens: 8, Steps: 8, BlockSize: 4, MaskID: testMask, PadID: testPad}
	with := func(f func(*mdlm.SamplerConfig)) mdlm.SamplerConfig {
		c := base
		f(&c)
		return c
	}
	type sampler func(mdlm.Denoiser, [][]int32, mdlm.SamplerConfig, *rand.Rand) (*mdlm.Output, error)
	cases := []struct {
		name   string
		sample sampler
		inputs [][]int32
		cfg    mdlm.SamplerConfig
	}{
		{"generate", mdlm.Generate, prompts, base},
		// With these seeds the first row generates a [PAD] and goes on: the
		// mask must hide padding by position, not by id.
		{"generate full canvas", mdlm.Generate, prompts, with(func(c *mdlm.SamplerConfig) { c.FullCanvas = true })},
		{"generate threshold", mdlm.Generate, prompts, with(func(c *mdlm.SamplerConfig) { c.Threshold = 0.3 })},
		{"generate guided", mdlm.Generate, prompts, with(func(c *mdlm.SamplerConfig) { c.CFGScale = 1 })},
		// Ancestral flips its stay-or-reveal coins from each row's own
		// random stream, so they do not depend on the batch either.
		{"ancestral", mdlm.Ancestral, prompts, base},
		{"infill", mdlm.Infill, infill, base},
		{"infill guided", mdlm.Infill, infill, with(func(c *mdlm.SamplerConfig) { c.CFGScale = 1 })},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			batched, err := tc.sample(m, tc.inputs, tc.cfg, mdlm.NewRand(5))
			require.NoError(t, err)
			require.Len(t, batched.Samples, len(tc.inputs))
			for i, in := range tc.inputs {
				// Row i draws from random stream i (mdlm's per-row streams).
				c := tc.cfg
				c.StreamOffset = i
				alone, err := tc.sample(m, [][]int32{in}, c, mdlm.NewRand(5))
				require.NoError(t, err)
				require.Len(t, alone.Samples, 1)
				assert.Equal(t, alone.Samples[0], batched.Samples[i], "row %d (length %d)", i, len(in))
			}
		})
	}
}
