package decoder

import (
	"fmt"

	"github.com/dllmgo/dllm/mdlm"
	"github.com/dllmgo/dllm/nn"
	"github.com/dllmgo/dllm/tensor"
	"github.com/dllmgo/dllm/transformer"
)

// BeginBlock is Fast-dLLM's DualCache for the block sampler (what
// mdlm.BlockCacher asks for), through transformer.DualCache as in package
// llada: the full pass records every layer's post-rotary qkv, and the
// block's later steps recompute the blocks' rows only. Positions are
// 0..S−1. A shifted model (Dream) has none: its prediction for a block's
// first position comes from the row before the block, which a cached step
// does not recompute.
func (m *Model) BeginBlock(ids []int32, batch, seqLen int, keyMask []int32, starts []int, width int, rows []int32) (mdlm.BlockCache, []float32, error) {
	name := m.Arch.Family
	if m.Arch.Shift {
		return nil, nil, fmt.Errorf("%s: no block cache for a model with shifted logits", name)
	}
	if err := m.checkBatch(ids, batch, seqLen, keyMask, rows); err != nil {
		return nil, nil, err
	}
	if _, err := transformer.NewBlocks(batch, seqLen, width, starts, keyMask); err != nil {
		return nil, nil, fmt.Errorf("%s: %w", name, err)
	}
	layers := make([]transformer.Layer, len(m.Blocks))
	for i := range layers {
		layers[i] = transformer.Layer{Theta: m.Arch.Theta}
	}
	c := &BlockCache{m: m}
	c.kv = transformer.NewDualCache(m.b, m.Arch.block(), layers, batch, seqLen, width, starts, keyMask)
	be := m.b
	tp := m.inferenceTape()
	var mask *tensor.Tensor
	if keyMask != nil {
		mask = be.FromHost(tensor.FromI32(keyMask, batch, seqLen))
	}
	full := transformer.FullAttention(mask, batch, seqLen)
	hidden := m.encode(tp, be.FromHost(tensor.FromI32(ids, batch*seqLen)), m.positionIDs(batch, seqLen), func(i int) transformer.Attention {
		return c.kv.Record(i, full)
	})
	if len(rows) == 0 {
		return c, nil, nil
	}
	logits := m.head(tp, hidden, be.FromHost(tensor.FromI32(rows, len(rows))))
	return c, logits.Value.ToCPU().F32(), nil
}

// BlockCache is one block's DualCache for a batch (mdlm.BlockCache).
type BlockCache struct {
	m  *Model
	kv *transformer.DualCache
}

// Logits recomputes the blocks from ids (only the block tokens are read)
// against the cached keys and values and returns the logits at rows, which
// must lie inside the blocks.
func (c *BlockCache) Logits(ids, rows []int32) ([]float32, error) {
	m := c.m
	name := m.Arch.Family
	block, local, err := c.kv.Inputs(ids, rows, m.VocabSize())
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if len(rows) == 0 {
		return nil, nil
	}
	be := m.b
	tp := m.inferenceTape()
	hidden := m.encode(tp, be.FromHost(tensor.FromI32(block, len(block))), c.kv.Positions(), c.kv.Attend)
	return m.head(tp, hidden, be.FromHost(tensor.FromI32(local, len(local)))).Value.ToCPU().F32(), nil
}

// Release frees the cache's device memory.
func (c *BlockCache) Release() { c.kv.Release() }

var _ mdlm.BlockCacher = (*Model)(nil)

func (m *Model) inferenceTape() *nn.Tape {
	tp := nn.NoGrad(m.b)
	tp.Precision = m.Precision
	return tp
}
