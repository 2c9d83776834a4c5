package transformer

import (
	"errors"
	"fmt"
)

// Blocks is the bookkeeping of a block cache (DualCache) that every family
// shares: the block [starts[b], starts[b]+width) of each sequence b of a
// batch of batch×seq ids. NewBlocks checks a batch's blocks; IDs and
// LocalRows turn the whole batch's ids and flat rows into the inputs of a
// cached step, which runs the blocks only (batch×width rows). The errors
// name no family: a family wraps them with its own prefix.
type Blocks struct {
	batch, seq, width int
	starts            []int
}

// ErrReleased is the error of a cached step after the cache's Release.
var ErrReleased = errors.New("block cache used after Release")

// NewBlocks checks the blocks of width positions at starts (one per
// sequence) against a batch of batch sequences of seq positions: each block
// must lie inside its sequence, on real tokens of keyMask (batch×seq, 1 =
// real token; nil: all real).
func NewBlocks(batch, seq, width int, starts []int, keyMask []int32) (Blocks, error) {
	if len(starts) != batch || width <= 0 {
		return Blocks{}, fmt.Errorf("%d block starts of width %d for a batch of %d", len(starts), width, batch)
	}
	for b, s := range starts {
		if s < 0 || s+width > seq {
			return Blocks{}, fmt.Errorf("block [%d, %d) of sequence %d outside its %d positions", s, s+width, b, seq)
		}
		for p := s; keyMask != nil && p < s+width; p++ {
			if keyMask[b*seq+p] == 0 {
				return Blocks{}, fmt.Errorf("block position %d of sequence %d is padding", p, b)
			}
		}
	}
	return Blocks{batch: batch, seq: seq, width: width, starts: append([]int(nil), starts...)}, nil
}

// IDs copies the blocks' token ids out of ids, the whole batch (batch×seq,
// row-major): width ids per sequence, sequence by sequence. Each must lie in
// [0, vocab).
func (bl Blocks) IDs(ids []int32, vocab int) ([]int32, error) {
	if len(ids) != bl.batch*bl.seq {
		return nil, fmt.Errorf("%d ids for a block cache of %d×%d", len(ids), bl.batch, bl.seq)
	}
	w := bl.width
	block := make([]int32, bl.batch*w)
	for b, s := range bl.starts {
		for t := range w {
			id := ids[b*bl.seq+s+t]
			if id < 0 || int(id) >= vocab {
				return nil, fmt.Errorf("token id %d outside the vocabulary of %d", id, vocab)
			}
			block[b*w+t] = id
		}
	}
	return block, nil
}

// LocalRows maps flat rows of the batch (b·seq+s) to rows of the blocks
// (b·width+s−starts[b]), refusing a row outside the blocks.
func (bl Blocks) LocalRows(rows []int32) ([]int32, error) {
	local := make([]int32, len(rows))
	for i, r := range rows {
		b, s := int(r)/bl.seq, int(r)%bl.seq
		if r < 0 || b >= bl.batch || s < bl.starts[b] || s >= bl.starts[b]+bl.width {
			return nil, fmt.Errorf("row %d outside the cached blocks", r)
		}
		local[i] = int32(b*bl.width + s - bl.starts[b])
	}
	return local, nil
}

// Inputs are the inputs of a cached step from the whole batch's ids and the
// flat rows asked for: the blocks' ids (Blocks.IDs, each in [0, vocab)) and
// the rows local to the blocks (Blocks.LocalRows). After Release it returns
// ErrReleased.
func (dc *DualCache) Inputs(ids, rows []int32, vocab int) (block, local []int32, err error) {
	if dc.Released() {
		return nil, nil, ErrReleased
	}
	bl := Blocks{batch: dc.batch, seq: dc.seq, width: dc.width, starts: dc.starts}
	if block, err = bl.IDs(ids, vocab); err != nil {
		return nil, nil, err
	}
	if local, err = bl.LocalRows(rows); err != nil {
		return nil, nil, err
	}
	return block, local, nil
}
