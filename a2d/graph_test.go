package a2d

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dllmgo/dllm/graphs/graphstest"
)

// TestGraphs: on a backend that records graphs (graphstest), the A2D
// decoder records Logits once per shape and replays it with new ids and
// masks, and a block cache records its cached step once and replays it;
// every call gives the eager CPU logits exactly.
func TestGraphs(t *testing.T) {
	rc := refCases()[0]
	m := randomParams(rc.cfg, 31).model(t, rc.cfg)
	be := graphstest.New()
	rec := New(rc.cfg, be)
	for i, p := range m.Params() {
		be.Copy(rec.Params()[i].Value, p.Value)
	}
	const bsz, seq = 2, 7
	ids := []int32{2, 10, 49, 40, 49, 3, 7, 2, 11, 49, 41, 49, 5, 6}
	for call := range 3 {
		mask := []int32{1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1}
		mask[13-call], ids[3] = 0, int32(20+call)
		rows := []int32{1, 3, int32(8 + call)}
		want, err := m.Logits(ids, bsz, seq, mask, rows)
		require.NoError(t, err)
		got, err := rec.Logits(ids, bsz, seq, mask, rows)
		require.NoError(t, err)
		require.Equal(t, want, got, "call %d", call)
		require.Equal(t, graphstest.Counts{Captures: 1, Launches: call}, be.Counts(), "call %d", call)
	}
	rec.ReleaseGraphs()

	mask := []int32{1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0}
	starts, width := []int{2, 1}, 4
	rows := []int32{2, 4, 8, 9, 11}
	eager, _, err := m.BeginBlock(ids, bsz, seq, mask, starts, width, nil)
	require.NoError(t, err)
	cached, _, err := rec.BeginBlock(ids, bsz, seq, mask, starts, width, nil)
	require.NoError(t, err)
	for step := range 3 {
		ids[2+step], ids[seq+1+step] = int32(step+1), int32(step+4) // the blocks change
		want, err := eager.Logits(ids, rows)
		require.NoError(t, err)
		got, err := cached.Logits(ids, rows)
		require.NoError(t, err)
		require.Equal(t, want, got, "step %d", step)
	}
	require.Equal(t, 1, cached.(interface{ Graphs() int }).Graphs())
	eager.Release()
	cached.Release()
}
