package mdlm

import (
	"math"
	"testing"

	"github.com/stretchr/testify/require"
)

// recyclingModel is a fakeModel that takes its logits back
// (LogitsRecycler): it checks that only slices it returned come back, each
// once, and fills them with NaN, so that a sampler still reading one after
// handing it back fails or samples differently.
type recyclingModel struct {
	*fakeModel
	lent     map[*float32]int // first element -> length, until recycled
	recycled int
	t        *testing.T
}

func (m *recyclingModel) Logits(ids []int32, batch, seqLen int, keyMask, rows []int32) ([]float32, error) {
	out, err := m.fakeModel.Logits(ids, batch, seqLen, keyMask, rows)
	if err == nil && len(out) > 0 {
		m.lent[&out[0]] = len(out)
	}
	return out, err
}

func (m *recyclingModel) RecycleLogits(s []float32) {
	require.NotEmpty(m.t, s)
	n, ok := m.lent[&s[0]]
	require.True(m.t, ok, "a slice the model did not lend, or one recycled twice")
	require.Len(m.t, s, n, "a part of a lent slice")
	delete(m.lent, &s[0])
	for i := range s {
		s[i] = float32(math.NaN())
	}
	m.recycled++
}

// TestSamplersRecycleLogitsOnceRead: Generate (with and without guidance,
// the rows used in place until the next model call without it)
// and StepSequences hand every slice of logits back to a LogitsRecycler
// exactly once, after their last read of it: with the recycled slices
// poisoned they sample exactly what they sample from the plain model.
func TestSamplersRecycleLogitsOnceRead(t *testing.T) {
	const vocab, mask, pad = 30, 29, 28
	stopAt := func(seq []int32) int { return 6 + int(seq[0]%3) }
	for _, c := range []SamplerConfig{
		{MaxNewTokens: 12, Steps: 12, BlockSize: 4, MaskID: mask, PadID: pad, FullCanvas: true},
		{MaxNewTokens: 12, Steps: 6, BlockSize: 4, MaskID: mask, PadID: pad, CFGScale: 0.5, Temperature: 0.7},
		{MaxNewTokens: 8, Steps: 8, BlockSize: 8, MaskID: mask, PadID: pad, SuppressTokens: []int32{3}},
	} {
		prompts := [][]int32{{1, 2, 3}, {4, 5}}
		want, err := Generate(hashModel(vocab, mask, pad, stopAt), prompts, c, NewRand(3))
		require.NoError(t, err)
		m := &recyclingModel{fakeModel: hashModel(vocab, mask, pad, stopAt), lent: map[*float32]int{}, t: t}
		got, err := Generate(m, prompts, c, NewRand(3))
		require.NoError(t, err)
		require.Equal(t, want, got)
		require.Empty(t, m.lent, "every slice comes back")
		require.Positive(t, m.recycled)

		s1, err := NewSequence(hashModel(vocab, mask, pad, stopAt), prompts[0], c, 9)
		require.NoError(t, err)
		rm := &recyclingModel{fakeModel: hashModel(vocab, mask, pad, stopAt), lent: map[*float32]int{}, t: t}
		s2, err := NewSequence(rm, prompts[0], c, 9)
		require.NoError(t, err)
		s3, err := NewSequence(rm, prompts[1], c, 10) // two sequences share each call
		require.NoError(t, err)
		for !s1.Done() {
			_, err := StepSequences(s1.ls.d, []*Sequence{s1})
			require.NoError(t, err)
		}
		for !s2.Done() || !s3.Done() {
			var running []*Sequence
			for _, s := range []*Sequence{s2, s3} {
				if !s.Done() {
					running = append(running, s)
				}
			}
			_, err := StepSequences(rm, running)
			require.NoError(t, err)
		}
		require.NoError(t, s2.Err())
		require.Equal(t, s1.Output(), s2.Output())
		require.Empty(t, rm.lent, "every slice comes back")
	}
}
