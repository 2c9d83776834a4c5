package bert

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
	twin.Precision = m.Precision
	return twin
}

// TestLogitsGraphs runs sampler-style calls of Logits on a backend that
// records graphs on the CPU (graphstest): new ids, masks and row sets every
// call, row counts on both sides of the 32-row quantum, so that graphs are
// recorded on a shape's first call, replayed with fresh inputs on later
// ones, and kept apart by shape. Every call must give the eager logits.
func TestLogitsGraphs(t *testing.T) {
	m := newCacheTestModel(t, 3, 11)
	be := graphstest.New()
	rec := onBackend(m, be)

	rng := rand.New(rand.NewPCG(9, 9))
	const bsz, seq = 2, 40
	// Calls ask for 32u, 64m, 32u, 32m, 64u, 32m, 32u rows (rounded up to
	// 32; masked or not): four shapes, the first recorded on call 0 and
	// replayed on calls 2 and 6.
	wantCounts := []graphstest.Counts{
		{Captures: 1}, {Captures: 2}, {Captures: 2, Launches: 1}, {Captures: 3, Launches: 1},
		{Captures: 4, Launches: 1}, {Captures: 4, Launches: 2}, {Captures: 4, Launches: 3},
	}
	for call, want := range wantCounts {
		ids := make([]int32, bsz*seq)
		for i := range ids {
			ids[i] = int32(4 + rng.IntN(m.Config.VocabSize-4))
		}
		var mask []int32
		if call%2 == 1 { // the second row padded from a random point
			mask = make([]int32, bsz*seq)
			cut := seq/2 + rng.IntN(seq/2)
			for i := range mask {
				if i < seq || i-seq < cut {
					mask[i] = 1
				}
			}
		}
		nrows := []int{5, 40, 32}[call%3]
		rows := make([]int32, nrows)
		for i := range rows {
			rows[i] = int32(rng.IntN(bsz * seq))
		}
		eager, err := m.Logits(ids, bsz, seq, mask, rows)
		require.NoError(t, err)
		got, err := rec.Logits(ids, bsz, seq, mask, rows)
		require.NoError(t, err)
		require.Equal(t, eager, got, "call %d: %d rows, masked %v", call, nrows, mask != nil)
		require.Equal(t, want, be.Counts(), "call %d", call)
	}
	require.Equal(t, 4, rec.LogitsGraphs())
	rec.ReleaseGraphs()
	require.Equal(t, 0, rec.LogitsGraphs())
	require.Equal(t, 4, be.Counts().Destroys)

	rec.NoGraphs = true
	_, err := rec.Logits(make([]int32, bsz*seq), bsz, seq, nil, []int32{3})
	require.NoError(t, err)
	require.Equal(t, graphstest.Counts{Captures: 4, Launches: 3, Destroys: 4}, be.Counts(), "NoGraphs records nothing")
}

// TestBlockCacheGraphs runs a block's cached steps on the recording backend
// and eagerly on the CPU: the first cached step runs eagerly and records,
// the later ones replay with the new block tokens and row sets, and every
// step gives the eager logits. Each cache's graphs go with it.
func TestBlockCacheGraphs(t *testing.T) {
	for _, cc := range cacheCases {
		t.Run(cc.name, func(t *testing.T) {
			m := newCacheTestModel(t, 3, 5)
			be := graphstest.New()
			rec := onBackend(m, be)
			rng := rand.New(rand.NewPCG(6, 7))
			ids, keyMask := cc.draw(rng, m.Config.VocabSize)
			batch := len(cc.lengths)
			all := cc.blockRows()

			eagerCache, _, err := m.BeginBlock(ids, batch, cc.seq, keyMask, cc.starts, cc.width, nil)
			require.NoError(t, err)
			recCache, _, err := rec.BeginBlock(ids, batch, cc.seq, keyMask, cc.starts, cc.width, nil)
			require.NoError(t, err)
			const steps = 4
			for step := range steps {
				ids = cc.changeBlocks(rng, ids, m.Config.VocabSize)
				rows := all[:len(all)-step*len(all)/steps] // fewer rows as the block fills
				want, err := eagerCache.Logits(ids, rows)
				require.NoError(t, err)
				got, err := recCache.Logits(ids, rows)
				require.NoError(t, err)
				require.Equal(t, want, got, "step %d", step)
				require.Equal(t, graphstest.Counts{Captures: 1, Launches: step}, be.Counts(), "step %d", step)
				require.Equal(t, 1, recCache.(*BlockCache).Graphs())
			}
			eagerCache.Release()
			recCache.Release()
			require.Equal(t, graphstest.Counts{Captures: 1, Launches: steps - 1, Destroys: 1}, be.Counts())
			require.Zero(t, rec.LogitsGraphs(), "the cache's graphs are its own")
		})
	}
}
