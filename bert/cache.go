package bert

import (
	"fmt"

	"github.com/dllmgo/dllm/graphs"
	"github.com/dllmgo/dllm/lm"
	"github.com/dllmgo/dllm/mdlm"
	"github.com/dllmgo/dllm/nn"
	"github.com/dllmgo/dllm/tensor"
	"github.com/dllmgo/dllm/transformer"
)

// Block caching for the block sampler: Fast-dLLM's DualCache (Wu et al.
// 2025), which makes the model an mdlm.BlockCacher.
//
// BeginBlock runs the full forward pass with transformer.DualCache recording
// every layer's post-RoPE qkv; a later step (BlockCache.Logits) runs the
// blocks' tokens only through the same encoder, with the cache's attention
// over the recorded keys and values, and the head on the rows asked for.
// transformer.DualCache explains the approximation and the costs. The
// attention of a cached step runs in f32 in either Precision; the
// projections follow Model.Precision as in Logits. On a backend that records
// graphs, each cache records its cached step once per padded row count and
// precision and replays it on the later steps of the block (graph.go).

// BlockCache is one block's DualCache for a batch: the model and the
// recorded keys and values. It implements mdlm.BlockCache; BeginBlock makes
// one.
type BlockCache struct {
	m  *Model
	kv *transformer.DualCache
	// graphs records the cached step; nil runs it eagerly.
	graphs *graphs.Recorder[stepKey]
}

// stepKey is the shape of one recorded cached step.
type stepKey struct {
	rows int
	prec nn.Precision
}

// BeginBlock runs the full forward pass on the batch ids (batch×seqLen,
// row-major, keyMask as in Logits) and returns a cache for the block of each
// sequence b, positions [starts[b], starts[b]+width), together with the
// logits at rows, computed as Logits computes them. The blocks must be real
// tokens. With the cache, later steps of the block recompute the blocks
// only (BlockCache.Logits). The dynamic type of the cache is *BlockCache.
func (m *Model) BeginBlock(ids []int32, batch, seqLen int, keyMask []int32, starts []int, width int, rows []int32) (mdlm.BlockCache, []float32, error) {
	return m.beginBlock(ids, batch, seqLen, nil, keyMask, starts, width, rows)
}

// BeginMaskedBlock is BeginBlock whose full pass attends under the pattern
// mask (lm.AttentionMask; nil: BeginBlock's whole sequences) instead of
// whole sequences; the cached steps still let the block's queries see every
// real key within the window. With a block-causal mask whose last block is
// the cached one, that is exact: the prefix never sees the block, so its
// keys and values do not depend on the block's tokens (block diffusion's
// sampler, package bd3lm).
func (m *Model) BeginMaskedBlock(ids []int32, batch, seqLen int, mask *lm.AttentionMask, keyMask []int32, starts []int, width int, rows []int32) (mdlm.BlockCache, []float32, error) {
	if mask == nil {
		return nil, nil, fmt.Errorf("bert: BeginMaskedBlock without a mask")
	}
	if err := mask.Check(batch, seqLen); err != nil {
		return nil, nil, fmt.Errorf("bert: %w", err)
	}
	return m.beginBlock(ids, batch, seqLen, mask, keyMask, starts, width, rows)
}

func (m *Model) beginBlock(ids []int32, batch, seqLen int, pattern *lm.AttentionMask, keyMask []int32, starts []int, width int, rows []int32) (mdlm.BlockCache, []float32, error) {
	if err := m.checkBatch(ids, batch, seqLen, keyMask, rows); err != nil {
		return nil, nil, err
	}
	if _, err := transformer.NewBlocks(batch, seqLen, width, starts, keyMask); err != nil {
		return nil, nil, fmt.Errorf("bert: %w", err)
	}
	c := &BlockCache{m: m}
	c.kv = transformer.NewDualCache(m.b, m.blockConfig(), m.layers(), batch, seqLen, width, starts, keyMask)
	if m.useGraphs() {
		c.graphs = graphs.NewRecorder[stepKey](m.b, maxGraphs)
	}

	be := m.b
	tp := m.inferenceTape()
	var mask *tensor.Tensor
	if keyMask != nil {
		mask = be.FromHost(tensor.FromI32(keyMask, batch, seqLen))
	}
	full := func(int) transformer.Attention { return transformer.FullAttention(mask, batch, seqLen) }
	if pattern != nil {
		masked := transformer.PatternAttention(be, pattern, mask, batch, seqLen)
		full = func(i int) transformer.Attention { return masked(m.layer(i)) }
	}
	hidden := m.encode(tp, be.FromHost(tensor.FromI32(ids, batch*seqLen)), m.positionIDs(batch, seqLen), func(i int) transformer.Attention {
		return c.kv.Record(i, full(i))
	})
	if len(rows) == 0 {
		return c, nil, nil
	}
	tp.TrackScratch() // the head's activations only: Record keeps each layer's qkv
	logits := m.head(tp, hidden, be.FromHost(tensor.FromI32(rows, len(rows))))
	return c, m.hostLogits(tp, logits), nil
}

// Logits recomputes the block of every sequence from ids (the batch as it
// is now; only the block tokens are read) against the cached keys and values
// outside the blocks, and returns the logits at rows, which must lie inside
// the blocks. It implements mdlm.BlockCache.
func (c *BlockCache) Logits(ids, rows []int32) ([]float32, error) {
	m := c.m
	block, local, err := c.kv.Inputs(ids, rows, m.Config.VocabSize)
	if err != nil {
		return nil, fmt.Errorf("bert: %w", err)
	}
	if len(rows) == 0 {
		return nil, nil
	}

	if c.graphs != nil {
		padded := graphs.PadRows(local, graphs.RowQuantum)
		in := []*tensor.Tensor{tensor.FromI32(block, len(block)), tensor.FromI32(padded, len(padded))}
		out := c.graphs.Run(stepKey{rows: len(padded), prec: m.Precision}, in, c.step)
		return out.F32()[:len(rows)*m.Config.VocabSize], nil
	}
	be := m.b
	tp := m.inferenceTape()
	tp.TrackScratch() // each layer's activations go back to the pool (lastLayer), then the head's
	logits := c.forward(tp, be.FromHost(tensor.FromI32(block, len(block))), be.FromHost(tensor.FromI32(local, len(local))))
	return m.hostLogits(tp, logits), nil
}

// Graphs reports how many cached steps the cache has recorded as graphs (0
// on a backend without graphs, or with NoGraphs set when it began).
func (c *BlockCache) Graphs() int { return c.graphs.Graphs() }

// step is a cached step on the device tensors in: the blocks' token ids
// [B·w] and the rows of the blocks [M] whose logits it returns.
func (c *BlockCache) step(in []*tensor.Tensor) *tensor.Tensor {
	return c.forward(c.m.inferenceTape(), in[0], in[1]).Value
}

// forward is a cached step on tp: the blocks' token ids [B·w] through the
// encoder against the cache, then the head at the rows [M] of the blocks.
func (c *BlockCache) forward(tp *nn.Tape, block, rows *tensor.Tensor) *nn.Var {
	hidden := c.m.encode(tp, block, c.kv.Positions(), c.kv.Attend)
	return c.m.head(tp, hidden, rows)
}

// Release frees the cache's device memory and its recorded graphs. It
// implements mdlm.BlockCache.
func (c *BlockCache) Release() {
	c.graphs.Release()
	c.kv.Release()
}

// inferenceTape is a tape for inference in the model's Precision.
func (m *Model) inferenceTape() *nn.Tape {
	tp := nn.NoGrad(m.b)
	tp.Precision = m.Precision
	return tp
}

// layers is the geometry of every layer.
func (m *Model) layers() []transformer.Layer {
	ls := make([]transformer.Layer, len(m.Layers))
	for i := range ls {
		ls[i] = m.layer(i)
	}
	return ls
}

// Advance finishes the cache's block and moves the cache on to the next
// one, appended after it (block diffusion's incremental prefix cache,
// bd3lm.Advancer): one cached step on the block's committed tokens in ids
// (the batch as BeginMaskedBlock or the last Advance laid it out) writes
// their keys and values, computed against the cached prefix and the block
// itself, which is what a full pass under the block-causal mask gives them;
// then the sequences grow by width positions, the new block, and keyMask
// is the grown batch's key mask. Logits then takes the grown layout. The
// recorded graphs, made for the old shapes, are dropped.
func (c *BlockCache) Advance(ids []int32, width int, keyMask []int32) error {
	m := c.m
	block, _, err := c.kv.Inputs(ids, nil, m.Config.VocabSize)
	if err != nil {
		return fmt.Errorf("bert: %w", err)
	}
	be := m.b
	in := be.FromHost(tensor.FromI32(block, len(block)))
	m.encode(m.inferenceTape(), in, c.kv.Positions(), c.kv.Attend)
	in.Free()
	if err := c.kv.Grow(c.m.layers(), width, keyMask); err != nil {
		return fmt.Errorf("bert: %w", err)
	}
	if c.graphs != nil {
		c.graphs.Release()
		c.graphs = graphs.NewRecorder[stepKey](be, maxGraphs)
	}
	return nil
}
