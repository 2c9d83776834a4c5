package decoder

import (
	"fmt"

	"github.com/dllmgo/dllm/graphs"
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

func (m *Model) inferenceTape() *nn.Tape {
	tp := nn.NoGrad(m.b)
	tp.Precision = m.Precision
	return tp
}
