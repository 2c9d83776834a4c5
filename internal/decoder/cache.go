package decoder

import (
	"fmt"

	"github.com/dllmgo/dllm/graphs"
	"github.com/dllmgo/dllm/lm"
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
	return m.beginBlock(ids, batch, seqLen, nil, keyMask, starts, width, rows)
}

// BeginMaskedBlock is BeginBlock whose full pass attends under the pattern
// mask (block diffusion's block-causal sampling mask) instead of to every
// real key; the block's later steps attend to the cached keys as
// BeginBlock's do, which is exact when the block is the last one and sees
// every real key before it (bd3lm.Generate).
func (m *Model) BeginMaskedBlock(ids []int32, batch, seqLen int, mask *lm.AttentionMask, keyMask []int32, starts []int, width int, rows []int32) (mdlm.BlockCache, []float32, error) {
	if mask == nil {
		return nil, nil, fmt.Errorf("%s: BeginMaskedBlock without a mask", m.Arch.Family)
	}
	if err := mask.Check(batch, seqLen); err != nil {
		return nil, nil, fmt.Errorf("%s: %w", m.Arch.Family, err)
	}
	return m.beginBlock(ids, batch, seqLen, mask, keyMask, starts, width, rows)
}

// layers is the geometry of every block.
func (m *Model) layers() []transformer.Layer {
	layers := make([]transformer.Layer, len(m.Blocks))
	for i := range layers {
		layers[i] = transformer.Layer{Theta: m.Arch.Theta}
	}
	return layers
}

func (m *Model) beginBlock(ids []int32, batch, seqLen int, pattern *lm.AttentionMask, keyMask []int32, starts []int, width int, rows []int32) (mdlm.BlockCache, []float32, error) {
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
	c := &BlockCache{m: m}
	c.kv = transformer.NewDualCache(m.b, m.Arch.block(), m.layers(), batch, seqLen, width, starts, keyMask)
	if m.useGraphs() {
		c.graphs = graphs.NewRecorder[stepKey](m.b, maxGraphs)
	}
	be := m.b
	tp := m.inferenceTape()
	var mask *tensor.Tensor
	if keyMask != nil {
		mask = be.FromHost(tensor.FromI32(keyMask, batch, seqLen))
	}
	full := transformer.FullAttention(mask, batch, seqLen)
	if pattern != nil {
		full = transformer.PatternAttention(be, pattern, mask, batch, seqLen)(transformer.Layer{Theta: m.Arch.Theta})
	}
	hidden := m.encode(tp, be.FromHost(tensor.FromI32(ids, batch*seqLen)), m.positionIDs(batch, seqLen), func(i int) transformer.Attention {
		return c.kv.Record(i, full)
	})
	if len(rows) == 0 {
		return c, nil, nil
	}
	logits := m.head(tp, hidden, be.FromHost(tensor.FromI32(rows, len(rows))))
	return c, logits.Value.ToCPU().F32(), nil
}

// BlockCache is one block's DualCache for a batch (mdlm.BlockCache). On a
// backend that records graphs it records its cached step once per padded
// row count and precision and replays it on the block's later steps.
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

// Graphs reports how many cached steps the cache has recorded as graphs.
func (c *BlockCache) Graphs() int { return c.graphs.Graphs() }

// step is a cached step on the device tensors in: the blocks' token ids
// [B·w] and the rows of the blocks [M] whose logits it returns.
func (c *BlockCache) step(in []*tensor.Tensor) *tensor.Tensor {
	m := c.m
	tp := m.inferenceTape()
	hidden := m.encode(tp, in[0], c.kv.Positions(), c.kv.Attend)
	return m.head(tp, hidden, in[1]).Value
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
	if c.graphs != nil {
		padded := graphs.PadRows(local, graphs.RowQuantum)
		in := []*tensor.Tensor{tensor.FromI32(block, len(block)), tensor.FromI32(padded, len(padded))}
		out := c.graphs.Run(stepKey{rows: len(padded), prec: m.Precision}, in, c.step)
		return out.F32()[:len(rows)*m.VocabSize()], nil
	}
	be := m.b
	return be.ToHost(c.step([]*tensor.Tensor{
		be.FromHost(tensor.FromI32(block, len(block))), be.FromHost(tensor.FromI32(local, len(local))),
	})).F32(), nil
}

// Release frees the cache's device memory and its recorded graphs.
func (c *BlockCache) Release() {
	c.graphs.Release()
	c.kv.Release()
}

var _ mdlm.BlockCacher = (*Model)(nil)

// Advance finishes the cache's block and moves the cache on to the next
// one, appended after it (block diffusion's incremental prefix cache,
// bd3lm.Advancer; bert.BlockCache.Advance says how). Logits then takes the
// grown layout; the recorded graphs, made for the old shapes, are dropped.
func (c *BlockCache) Advance(ids []int32, width int, keyMask []int32) error {
	m := c.m
	block, _, err := c.kv.Inputs(ids, nil, m.VocabSize())
	if err != nil {
		return fmt.Errorf("%s: %w", m.Arch.Family, err)
	}
	be := m.b
	in := be.FromHost(tensor.FromI32(block, len(block)))
	m.encode(m.inferenceTape(), in, c.kv.Positions(), c.kv.Attend)
	in.Free()
	if err := c.kv.Grow(m.layers(), width, keyMask); err != nil {
		return fmt.Errorf("%s: %w", m.Arch.Family, err)
	}
	if c.graphs != nil {
		c.graphs.Release()
		c.graphs = graphs.NewRecorder[stepKey](be, maxGraphs)
	}
	return nil
}

func (m *Model) inferenceTape() *nn.Tape {
	tp := nn.NoGrad(m.b)
	tp.Precision = m.Precision
	return tp
}
