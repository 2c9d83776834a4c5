package a2d

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dllmgo/dllm/lm"
	"github.com/dllmgo/dllm/mdlm"
	"github.com/dllmgo/dllm/nn"
	"github.com/dllmgo/dllm/tensor"
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

// An attention mask that allows every key of the row gives Forward's own
// logits; a block-diagonal one changes them (lm.MaskAttender, for BD3LM).
func TestForwardWithMask(t *testing.T) {
	rc := refCases()[0]
	m := randomParams(rc.cfg, 4).model(t, rc.cfg)
	ids := []int32{2, 10, 49, 40, 49, 3}
	in := lm.Input{IDs: tensor.FromI32(ids, 1, 6)}
	want := m.Forward(nn.NoGrad(tensor.CPU()), in).Logits.Value.F32()
	all := make([]bool, 36)
	block := make([]bool, 36)
	for q := range 6 {
		for k := range 6 {
			all[q*6+k] = true
			block[q*6+k] = q/3 == k/3
		}
	}
	in.Mask = &lm.AttentionMask{Allow: all, Rows: 1}
	require.InDeltaSlice(t, want, m.Forward(nn.NoGrad(tensor.CPU()), in).Logits.Value.F32(), 1e-5)
	in.Mask = &lm.AttentionMask{Allow: block, Rows: 1}
	got := m.Forward(nn.NoGrad(tensor.CPU()), in).Logits.Value.F32()
	require.NotEqual(t, want[:50], got[:50])
	// the second block alone sees only itself: as the block run by itself at positions 3..5
	alone := m.Forward(nn.NoGrad(tensor.CPU()), lm.Input{IDs: tensor.FromI32(ids[3:], 1, 3), Positions: tensor.FromI32([]int32{3, 4, 5}, 3)}).Logits.Value.F32()
	require.InDeltaSlice(t, alone, got[150:], 1e-4)
}
