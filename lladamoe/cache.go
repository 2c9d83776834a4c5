package lladamoe

import (
	"fmt"

	"github.com/dllmgo/dllm/mdlm"
	"github.com/dllmgo/dllm/tensor"
	"github.com/dllmgo/dllm/transformer"
)

// Block caching for the block sampler (Fast-dLLM's DualCache, as LLaDA's
// and ModernBERT's): BeginBlock runs the full pass recording every layer's
// post-RoPE qkv in a transformer.DualCache, and a later step
// (BlockCache.Logits) runs only the blocks' tokens through the same
// encoder against the recorded keys and values. The experts of a step are
// chosen for the block's rows alone, as the full pass chose them for every
// row. No graphs: the router's choice is read on the host. RND1's shifted
// logits are served through mdlm.Shifted, which runs without the cache.

// BlockCache is one block's DualCache for a batch (mdlm.BlockCache).
type BlockCache struct {
	m  *Model
	kv *transformer.DualCache
}

// BeginBlock runs the full forward pass on ids (batch×seqLen, keyMask as
// in Logits), returns a cache for the block [starts[b], starts[b]+width) of
// each sequence b (real tokens) and the logits at rows.
func (m *Model) BeginBlock(ids []int32, batch, seqLen int, keyMask []int32, starts []int, width int, rows []int32) (mdlm.BlockCache, []float32, error) {
	v := m.Config.Variant
	if err := m.checkBatch(ids, batch, seqLen, keyMask, rows); err != nil {
		return nil, nil, err
	}
	if _, err := transformer.NewBlocks(batch, seqLen, width, starts, keyMask); err != nil {
		return nil, nil, fmt.Errorf("%s: %w", v, err)
	}
	c := &BlockCache{m: m}
	c.kv = transformer.NewDualCache(m.b, m.blockConfig(), m.layers(), batch, seqLen, width, starts, keyMask)
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

// Logits recomputes every sequence's block from ids against the cached
// keys and values and returns the logits at rows, which must lie inside
// the blocks (mdlm.BlockCache).
func (c *BlockCache) Logits(ids, rows []int32) ([]float32, error) {
	m := c.m
	v := m.Config.Variant
	block, local, err := c.kv.Inputs(ids, rows, m.VocabSize())
	if err != nil {
		return nil, fmt.Errorf("%s: %w", v, err)
	}
	if len(rows) == 0 {
		return nil, nil
	}
	be := m.b
	tp := m.inferenceTape()
	hidden := m.encode(tp, be.FromHost(tensor.FromI32(block, len(block))), c.kv.Positions(), c.kv.Attend)
	return m.head(tp, hidden, be.FromHost(tensor.FromI32(local, len(local)))).Value.ToCPU().F32(), nil
}

// Release frees the cache's device memory (mdlm.BlockCache).
func (c *BlockCache) Release() { c.kv.Release() }

var _ mdlm.BlockCacher = (*Model)(nil)
