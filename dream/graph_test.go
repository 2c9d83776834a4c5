package dream

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dllmgo/dllm/graphs/graphstest"
	"github.com/dllmgo/dllm/tensor"
)

// TestGraphs: Dream's Logits with left-padded rows (positions cumsum−1,
// computed on the host and uploaded as one of the graph's inputs) records
// once per shape and replays with other paddings, equal to the eager CPU
// logits every time.
func TestGraphs(t *testing.T) {
	m, err := Load(fixtureDir, tensor.CPU())
	require.NoError(t, err)
	be := graphstest.New()
	rec, err := Load(fixtureDir, be)
	require.NoError(t, err)
	const bsz, seq = 2, 8
	ids := []int32{5, 9, 11, 3, 7, 8, 2, 1, 6, 6, 4, 12, 13, 14, 15, 16}
	for call := range 3 {
		mask := make([]int32, bsz*seq)
		for i := range mask {
			mask[i] = 1
		}
		for i := range call + 1 { // row 1 is left-padded by call+1
			mask[seq+i] = 0
		}
		ids[5] = int32(20 + call)
		rows := []int32{2, 5, 12, 15}
		want, err := m.Logits(ids, bsz, seq, mask, rows)
		require.NoError(t, err)
		got, err := rec.Logits(ids, bsz, seq, mask, rows)
		require.NoError(t, err)
		require.Equal(t, want, got, "call %d", call)
		require.Equal(t, graphstest.Counts{Captures: 1, Launches: call}, be.Counts(), "call %d", call)
	}
}
