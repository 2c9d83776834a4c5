package a2d

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dllmgo/dllm/mdlm"
)

// The block cache: its first pass is Logits exactly, and a cached step with
// the ids unchanged recomputes the blocks to the same logits; blocks over
// padding and rows outside the blocks are refused.
func TestBlockCache(t *testing.T) {
	rc := refCases()[0]
	m := randomParams(rc.cfg, 9).model(t, rc.cfg)
	var _ mdlm.BlockCacher = m
	ids := []int32{2, 10, 49, 40, 49, 3, 7, 2, 11, 49, 41, 49, 5, 6}
	mask := []int32{1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0}
	starts := []int{2, 1}
	rows := []int32{2, 4, 8, 9, 11}
	want, err := m.Logits(ids, 2, 7, mask, rows)
	require.NoError(t, err)
	c, got, err := m.BeginBlock(ids, 2, 7, mask, starts, 4, rows)
	require.NoError(t, err)
	defer c.Release()
	require.Equal(t, want, got)
	got, err = c.Logits(ids, rows)
	require.NoError(t, err)
	require.InDeltaSlice(t, want, got, 1e-4)

	_, _, err = m.BeginBlock(ids, 2, 7, mask, []int{2, 3}, 4, rows)
	require.ErrorContains(t, err, "padding")
	_, err = c.Logits(ids, []int32{0})
	require.ErrorContains(t, err, "outside the cached blocks")
}
