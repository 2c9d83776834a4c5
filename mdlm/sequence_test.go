package mdlm

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestSequencesMatchGenerate: sequences with different prompts, settings and
// seeds, joining a shared loop of StepSequences at different steps, each
// sample exactly what Generate samples for their prompt alone, frame by
// frame; and the shared loop needs fewer model calls than running them one
// after the other.
func TestSequencesMatchGenerate(t *testing.T) {
	const vocab, mask, pad = 30, 29, 28
	stopAt := func(seq []int32) int { return 4 + int(seq[0]) }
	base := SamplerConfig{MaxNewTokens: 12, Steps: 6, BlockSize: 4, MaskID: mask, PadID: pad}
	with := func(f func(*SamplerConfig)) SamplerConfig {
		c := base
		f(&c)
		return c
	}
	jobs := []struct {
		prompt []int32
		cfg    SamplerConfig
		seed   uint64
		join   int // loop iteration at which the sequence joins
	}{
		{[]int32{1, 2, 3, 4, 5}, base, 1, 0},
		{[]int32{6}, with(func(c *SamplerConfig) { c.Temperature, c.Remasking, c.StochasticTransfer = 1, RandomRemasking, true }), 2, 0},
		{[]int32{7, 8, 9}, with(func(c *SamplerConfig) { c.CFGScale, c.Temperature = 0.5, 0.7 }), 3, 2},
		{[]int32{10, 11}, with(func(c *SamplerConfig) { c.Threshold = 0.2; c.StreamOffset = 3 }), 4, 3},
		{[]int32{1, 12, 13, 14, 15, 16, 17, 18}, with(func(c *SamplerConfig) { c.MaxNewTokens, c.Steps, c.BlockSize = 20, 20, 8; c.Temperature = 2 }), 5, 5},
		{[]int32{2, 3}, with(func(c *SamplerConfig) { c.FullCanvas = true; c.Schedule = Cosine{} }), 6, 1},
		{[]int32{4, 5, 6}, with(func(c *SamplerConfig) { c.AlgTemp, c.Temperature = 0.3, 1 }), 7, 2},
	}
	type result struct {
		out    *Output
		frames []Frame
	}
	want := make([]result, len(jobs))
	calls := 0
	for i, j := range jobs {
		m := hashModel(vocab, mask, pad, stopAt)
		m.quiet = false
		rec := &recorder{}
		c := j.cfg
		c.Trace = rec.trace
		out, err := Generate(m, [][]int32{j.prompt}, c, NewRand(j.seed))
		require.NoError(t, err)
		want[i] = result{out, rec.frames}
		calls += len(m.calls)
	}

	m := hashModel(vocab, mask, pad, stopAt)
	m.quiet = false
	seqs := make([]*Sequence, len(jobs))
	recs := make([]*recorder, len(jobs))
	for it := 0; it < 100; it++ {
		for i, j := range jobs {
			if j.join == it {
				recs[i] = &recorder{}
				c := j.cfg
				c.Trace = recs[i].trace
				s, err := NewSequence(m, j.prompt, c, NewRand(j.seed).Uint64())
				require.NoError(t, err)
				seqs[i] = s
			}
		}
		var running []*Sequence
		for _, s := range seqs {
			if s != nil && !s.Done() {
				running = append(running, s)
			}
		}
		if len(running) == 0 && it > 5 {
			break
		}
		_, err := StepSequences(m, running)
		require.NoError(t, err)
	}
	for i, s := range seqs {
		require.True(t, s.Done(), "sequence %d", i)
		require.NoError(t, s.Err())
		assert.Equal(t, want[i].out, s.Output(), "sequence %d", i)
		assert.Equal(t, want[i].frames, recs[i].frames, "sequence %d frames", i)
	}
	t.Logf("%d model calls shared, %d one after the other", len(m.calls), calls)
	assert.Less(t, len(m.calls), calls)
}

// TestSequenceErrors: settings Generate refuses are refused, and a failing
// model call leaves the sequences unchanged.
func TestSequenceErrors(t *testing.T) {
	const vocab, mask, pad = 30, 29, 28
	m := hashModel(vocab, mask, pad, nil)
	c := SamplerConfig{MaxNewTokens: 4, Steps: 4, BlockSize: 4, MaskID: mask, PadID: pad}
	for _, tc := range []struct {
		name   string
		prompt []int32
		f      func(*SamplerConfig)
	}{
		{"mask in prompt", []int32{1, mask}, nil},
		{"token outside vocabulary", []int32{1, vocab}, nil},
		{"negative temperature", []int32{1}, func(c *SamplerConfig) { c.Temperature = -1 }},
		{"cache", []int32{1}, func(c *SamplerConfig) { c.Cache = true }},
	} {
		cc := c
		if tc.f != nil {
			tc.f(&cc)
		}
		_, err := NewSequence(m, tc.prompt, cc, 1)
		assert.Error(t, err, tc.name)
	}
	s, err := NewSequence(m, []int32{1, 2}, c, 1)
	require.NoError(t, err)
	bad := &fakeModel{vocab: vocab, fn: func([]int32, int) []float32 { return make([]float32, 3) }}
	_, err = StepSequences(bad, []*Sequence{s})
	require.Error(t, err)
	assert.False(t, s.Done())
	assert.Equal(t, 0, s.Output().Steps)
}
