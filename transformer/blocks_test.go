package transformer

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dllmgo/dllm/tensor"
)

// TestNewBlocks: the blocks must be one per sequence, of a positive width,
// inside their sequences and on real tokens.
func TestNewBlocks(t *testing.T) {
	// Two sequences of 6; the second has 4 real tokens.
	mask := []int32{1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0}
	for _, tc := range []struct {
		name    string
		width   int
		starts  []int
		keyMask []int32
		err     string
	}{
		{"ok", 2, []int{3, 1}, mask, ""},
		{"ok without a mask", 3, []int{3, 3}, nil, ""},
		{"whole sequence", 6, []int{0, 0}, nil, ""},
		{"too few starts", 2, []int{1}, mask, "1 block starts of width 2 for a batch of 2"},
		{"too many starts", 2, []int{1, 1, 1}, mask, "3 block starts of width 2 for a batch of 2"},
		{"zero width", 0, []int{1, 1}, mask, "2 block starts of width 0 for a batch of 2"},
		{"negative start", 2, []int{-1, 1}, mask, "block [-1, 1) of sequence 0 outside its 6 positions"},
		{"past the end", 2, []int{0, 5}, nil, "block [5, 7) of sequence 1 outside its 6 positions"},
		{"on padding", 2, []int{0, 3}, mask, "block position 4 of sequence 1 is padding"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bl, err := NewBlocks(2, 6, tc.width, tc.starts, tc.keyMask)
			if tc.err != "" {
				require.EqualError(t, err, tc.err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, Blocks{batch: 2, seq: 6, width: tc.width, starts: tc.starts}, bl)
		})
	}
}

// TestBlocksIDsAndRows: IDs copies each sequence's block out of the batch,
// checking the vocabulary, and LocalRows maps flat rows inside the blocks to
// rows of the blocks, refusing any other.
func TestBlocksIDsAndRows(t *testing.T) {
	starts := []int{3, 1}
	bl, err := NewBlocks(2, 6, 2, starts, nil)
	require.NoError(t, err)
	starts[0] = 0 // NewBlocks keeps a copy
	ids := []int32{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}

	for _, tc := range []struct {
		name  string
		ids   []int32
		vocab int
		want  []int32
		err   string
	}{
		{"ok", ids, 12, []int32{3, 4, 7, 8}, ""},
		{"short", ids[1:], 12, nil, "11 ids for a block cache of 2×6"},
		{"outside the vocabulary", ids, 8, nil, "token id 8 outside the vocabulary of 8"},
		{"negative", []int32{0, 0, 0, 0, -2, 0, 0, 0, 0, 0, 0, 0}, 12, nil, "token id -2 outside the vocabulary of 12"},
		{"outside the blocks is not read", []int32{-1, 99, -1, 3, 4, -1, 99, 7, 8, 99, -1, 99}, 12, []int32{3, 4, 7, 8}, ""},
	} {
		t.Run("IDs "+tc.name, func(t *testing.T) {
			got, err := bl.IDs(tc.ids, tc.vocab)
			if tc.err != "" {
				require.EqualError(t, err, tc.err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}

	for _, tc := range []struct {
		name string
		rows []int32
		want []int32
		err  string
	}{
		{"all", []int32{3, 4, 7, 8}, []int32{0, 1, 2, 3}, ""},
		{"some, any order", []int32{8, 3}, []int32{3, 0}, ""},
		{"none", nil, []int32{}, ""},
		{"before a block", []int32{3, 2}, nil, "row 2 outside the cached blocks"},
		{"after a block", []int32{5}, nil, "row 5 outside the cached blocks"},
		{"second sequence's first position", []int32{6}, nil, "row 6 outside the cached blocks"},
		{"negative", []int32{-1}, nil, "row -1 outside the cached blocks"},
		{"past the batch", []int32{12}, nil, "row 12 outside the cached blocks"},
	} {
		t.Run("LocalRows "+tc.name, func(t *testing.T) {
			got, err := bl.LocalRows(tc.rows)
			if tc.err != "" {
				require.EqualError(t, err, tc.err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
}

// TestDualCacheInputs: a DualCache's Inputs are its blocks' IDs and
// LocalRows, and ErrReleased after Release.
func TestDualCacheInputs(t *testing.T) {
	c := smallConfig()
	dc := NewDualCache(tensor.CPU(), c, []Layer{{}}, 2, 6, 2, []int{3, 1}, nil)
	ids := []int32{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}
	block, local, err := dc.Inputs(ids, []int32{8, 3}, 12)
	require.NoError(t, err)
	require.Equal(t, []int32{3, 4, 7, 8}, block)
	require.Equal(t, []int32{3, 0}, local)
	_, _, err = dc.Inputs(ids, []int32{5}, 12)
	require.EqualError(t, err, "row 5 outside the cached blocks")
	_, _, err = dc.Inputs(ids, nil, 4)
	require.EqualError(t, err, "token id 4 outside the vocabulary of 4")
	dc.Release()
	_, _, err = dc.Inputs(ids, nil, 12)
	require.ErrorIs(t, err, ErrReleased)
	require.EqualError(t, err, "block cache used after Release")
}

// TestDualCacheGrow: Grow keeps every recorded row of every sequence,
// moves the block to the appended positions (Inputs and Positions follow),
// and refuses a width of 0, padding among the new positions, a layer
// without recorded keys, and a released cache.
func TestDualCacheGrow(t *testing.T) {
	c := smallConfig() // 2 heads of 4, no grouping: 6 heads of 4 per row
	const batch, seq = 2, 5
	dc := NewDualCache(tensor.CPU(), c, []Layer{{}}, batch, seq, 2, []int{3, 3}, []int32{1, 1, 1, 1, 1, 0, 1, 1, 1, 1})
	require.ErrorContains(t, dc.Grow([]Layer{{}}, 3, nil), "layer 0 has no recorded keys")
	rng := rand.New(rand.NewPCG(1, 2))
	old := make([]float32, batch*seq*6*4)
	for i := range old {
		old[i] = rng.Float32() - 0.5
	}
	dc.qkv[0] = tensor.FromF32(slices.Clone(old), batch*seq, 6, 4)
	require.ErrorContains(t, dc.Grow([]Layer{{}}, 0, nil), "grow by 0")
	require.EqualError(t, dc.Grow([]Layer{{}}, 3, []int32{1, 1, 1, 1, 1, 1, 1, 0, 0, 1, 1, 1, 1, 1, 1, 1}), "grown position 7 of sequence 0 is padding")

	keys := []int32{1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1, 1, 1, 1, 1}
	require.NoError(t, dc.Grow([]Layer{{}}, 3, keys))
	const grown = seq + 3
	got := dc.qkv[0].F32()
	require.Len(t, got, batch*grown*6*4)
	row := 6 * 4
	for b := range batch {
		require.Equal(t, old[b*seq*row:(b+1)*seq*row], got[b*grown*row:][:seq*row], "sequence %d", b)
	}
	require.Equal(t, []int32{5, 6, 7, 5, 6, 7}, dc.Positions().I32())
	ids := make([]int32, batch*grown)
	for i := range ids {
		ids[i] = int32(i)
	}
	block, local, err := dc.Inputs(ids, []int32{7, 13}, 100)
	require.NoError(t, err)
	require.Equal(t, []int32{5, 6, 7, 13, 14, 15}, block)
	require.Equal(t, []int32{2, 3}, local)
	dc.Release()
	require.ErrorIs(t, dc.Grow([]Layer{{}}, 1, nil), ErrReleased)
}
