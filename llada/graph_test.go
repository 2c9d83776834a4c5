package llada

import (
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dllmgo/dllm/graphs/graphstest"
	"github.com/dllmgo/dllm/tensor"
)

// onBackend is m's twin on backend be: same config, same weights.
func onBackend(m *Model, be tensor.Backend) *Model {
	twin := New(m.Config, be)
	for i, p := range m.Params() {
		be.Copy(twin.Params()[i].Value, p.Value)
	}
	return twin
}

// TestGraphs: on a backend that records graphs, Logits records its pass on
// a shape's first call and replays it with new ids and masks, and a block
// cache records its cached step once and replays it; every call gives the
// eager logits.
func TestGraphs(t *testing.T) {
	m := randomModel(t, gqaConfig(), 20)
	be := graphstest.New()
	rec := onBackend(m, be)
	rng := rand.New(rand.NewPCG(21, 22))
	const bsz, seq = 2, 12
	var ids, mask []int32
	for call := range 3 {
		ids, mask = paddedBatch(rng, []int{12, 7 + call}, seq, m.Config.VocabSize, int32(m.Config.PadTokenID))
		rows := []int32{1, 5, 14, int32(16 + call)}
		want, err := m.Logits(ids, bsz, seq, mask, rows)
		require.NoError(t, err)
		got, err := rec.Logits(ids, bsz, seq, mask, rows)
		require.NoError(t, err)
		require.Equal(t, want, got, "call %d", call)
		require.Equal(t, graphstest.Counts{Captures: 1, Launches: call}, be.Counts(), "call %d", call)
	}
	rec.ReleaseGraphs()

	starts, width := []int{3, 2}, 4
	rows := []int32{3, 4, 5, 6, 14, 15}
	eager, _, err := m.BeginBlock(ids, bsz, seq, mask, starts, width, nil)
	require.NoError(t, err)
	cached, _, err := rec.BeginBlock(ids, bsz, seq, mask, starts, width, nil)
	require.NoError(t, err)
	for step := range 3 {
		ids[4+step], ids[seq+3+step] = int32(step+1), int32(step+2) // the blocks change
		want, err := eager.Logits(ids, rows)
		require.NoError(t, err)
		got, err := cached.Logits(ids, rows)
		require.NoError(t, err)
		require.Equal(t, want, got, "step %d", step)
	}
	require.Equal(t, 1, cached.(*BlockCache).Graphs())
	eager.Release()
	cached.Release()
}
