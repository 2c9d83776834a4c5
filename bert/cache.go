package bert

import (
	"fmt"
	"math"

	"github.com/dllmgo/dllm/mdlm"
	"github.com/dllmgo/dllm/nn"
	"github.com/dllmgo/dllm/tensor"
)

// Block caching for the block sampler: Fast-dLLM's DualCache (Wu et al.
// 2025), which makes the model an mdlm.BlockCacher.
//
// During one block of the block sampler only the block's tokens change, yet
// every step runs the whole canvas through every layer. BeginBlock runs one
// full forward pass and keeps, per layer, the packed Q, K, V after RoPE of
// every position. A later step (BlockCache.Logits) recomputes the block's
// positions only: per layer, the block's hidden states go through the norm,
// Wqkv and RoPE at their positions; their fresh K and V replace the block's
// rows of the cached qkv; the block's queries attend over all keys (cached
// outside the block, fresh inside, with the layer's window and key mask);
// then Wo and the MLP run on the block's rows, and the head on the rows
// asked for. Positions outside the block keep the keys and values of the
// block's first step: that is the approximation, and it is exact for the
// first step.
//
// Costs per cached step, with w block positions of S: the projections and
// the MLP run on w rows instead of S, and attention on w queries instead of
// S. The attention is composed from backend ops rather than the fused
// Attention (which pairs each query with the keys of the same tensor):
// gather K and V head-major from the cached qkv, scores = Q·Kᵀ per head (a
// batched MatMul), an additive mask (window, key mask) precomputed per
// block, Softmax, P·V, and a gather back to [w, H]. It runs in f32 in either
// Precision; the projections follow Model.Precision as in Logits. Cached
// steps run eagerly, without the recorded graphs of Logits (graph.go).

// maskedScore is added to the score of a key a query may not see. Finite,
// unlike −Inf, so that a softmax row stays free of NaN; exp of it underflows
// to exactly 0.
const maskedScore = -1e30

// BlockCache is one block's DualCache for a batch: the packed qkv of every
// layer and the index tensors and masks that a cached step reuses. It
// implements mdlm.BlockCache; BeginBlock makes one.
type BlockCache struct {
	m                 *Model
	batch, seq, width int
	starts            []int
	// qkv[l] is layer l's [B·S, 3·nh, d] post-RoPE Q, K, V (Q, K, V
	// head-major in each row): L·B·S·3H floats in all. Outside the blocks it
	// holds BeginBlock's values; a cached step overwrites the block rows.
	qkv []*tensor.Tensor
	// pos [B·w] are the block positions, starts[b]+t for row b·w+t.
	pos *tensor.Tensor
	// kvIdx gathers K then V head-major ([2, B·nh, S] rows of d) from a
	// layer's qkv viewed as [B·S·3·nh, d] rows.
	kvIdx *tensor.Tensor
	// qIdx gathers the block's Q head-major ([B·nh, w] rows of d) from the
	// fresh block qkv viewed as [B·w·3·nh, d]; outIdx puts the attention
	// output [B·nh·w, d] back in row order [B·w·nh, d].
	qIdx, outIdx *tensor.Tensor
	// bias [B·nh, w, S] is 0 where a block query sees a key and maskedScore
	// where the window or the key mask hides it: bias[0] for the sliding
	// window layers, bias[1] for the global ones.
	bias [2]*tensor.Tensor
}

// BeginBlock runs the full forward pass on the batch ids (batch×seqLen,
// row-major, keyMask as in Logits) and returns a cache for the block of each
// sequence b, positions [starts[b], starts[b]+width), together with the
// logits at rows, computed as Logits computes them. The blocks must be real
// tokens. With the cache, later steps of the block recompute the blocks
// only (BlockCache.Logits). The dynamic type of the cache is *BlockCache.
func (m *Model) BeginBlock(ids []int32, batch, seqLen int, keyMask []int32, starts []int, width int, rows []int32) (mdlm.BlockCache, []float32, error) {
	if err := m.checkBatch(ids, batch, seqLen, keyMask, rows); err != nil {
		return nil, nil, err
	}
	if len(starts) != batch || width <= 0 {
		return nil, nil, fmt.Errorf("bert: %d block starts of width %d for a batch of %d", len(starts), width, batch)
	}
	for b, s := range starts {
		if s < 0 || s+width > seqLen {
			return nil, nil, fmt.Errorf("bert: block [%d, %d) of sequence %d outside its %d positions", s, s+width, b, seqLen)
		}
		for p := s; keyMask != nil && p < s+width; p++ {
			if keyMask[b*seqLen+p] == 0 {
				return nil, nil, fmt.Errorf("bert: block position %d of sequence %d is padding", p, b)
			}
		}
	}
	c := &BlockCache{m: m, batch: batch, seq: seqLen, width: width, starts: append([]int(nil), starts...)}
	c.buildIndices(keyMask)

	be := m.b
	n := batch * seqLen
	tp := m.inferenceTape()
	var mask *tensor.Tensor
	if keyMask != nil {
		mask = be.FromHost(tensor.FromI32(keyMask, batch, seqLen))
	}
	x := m.EmbedNorm.Forward(tp, m.Embed.Forward(tp, be.FromHost(tensor.FromI32(ids, n))))
	for i, l := range m.Layers {
		x = m.runLayer(tp, l, x, m.positionIDs(batch, seqLen), func(qkv *nn.Var) *nn.Var {
			c.qkv = append(c.qkv, qkv.Value)
			return m.fullAttention(tp, i, qkv, batch, seqLen, mask)
		})
	}
	if len(rows) == 0 {
		return c, nil, nil
	}
	logits := m.logitsHead(tp, m.FinalNorm.Forward(tp, x), be.FromHost(tensor.FromI32(rows, len(rows))))
	return c, logits.Value.ToCPU().F32(), nil
}

// Logits recomputes the block of every sequence from ids (the batch as it
// is now; only the block tokens are read) against the cached keys and values
// outside the blocks, and returns the logits at rows, which must lie inside
// the blocks. It implements mdlm.BlockCache.
func (c *BlockCache) Logits(ids, rows []int32) ([]float32, error) {
	m := c.m
	if c.qkv == nil {
		return nil, fmt.Errorf("bert: block cache used after Release")
	}
	if len(ids) != c.batch*c.seq {
		return nil, fmt.Errorf("bert: %d ids for a block cache of %d×%d", len(ids), c.batch, c.seq)
	}
	w := c.width
	block := make([]int32, c.batch*w)
	for b, s := range c.starts {
		for t := range w {
			id := ids[b*c.seq+s+t]
			if id < 0 || int(id) >= m.Config.VocabSize {
				return nil, fmt.Errorf("bert: token id %d outside the vocabulary of %d", id, m.Config.VocabSize)
			}
			block[b*w+t] = id
		}
	}
	local := make([]int32, len(rows)) // rows as rows of the block batch
	for i, r := range rows {
		b, s := int(r)/c.seq, int(r)%c.seq
		if r < 0 || b >= c.batch || s < c.starts[b] || s >= c.starts[b]+w {
			return nil, fmt.Errorf("bert: row %d outside the cached blocks", r)
		}
		local[i] = int32(b*w + s - c.starts[b])
	}
	if len(rows) == 0 {
		return nil, nil
	}

	be := m.b
	tp := m.inferenceTape()
	x := m.EmbedNorm.Forward(tp, m.Embed.Forward(tp, be.FromHost(tensor.FromI32(block, len(block)))))
	for i, l := range m.Layers {
		x = m.runLayer(tp, l, x, c.pos, func(qkv *nn.Var) *nn.Var { return c.attend(i, qkv) })
	}
	logits := m.logitsHead(tp, m.FinalNorm.Forward(tp, x), be.FromHost(tensor.FromI32(local, len(local))))
	return logits.Value.ToCPU().F32(), nil
}

// Release frees the cache's device memory. It implements mdlm.BlockCache.
func (c *BlockCache) Release() {
	for _, t := range c.qkv {
		t.Free()
	}
	c.qkv = nil
	for _, t := range []*tensor.Tensor{c.pos, c.kvIdx, c.qIdx, c.outIdx, c.bias[0], c.bias[1]} {
		t.Free()
	}
}

// inferenceTape is a tape for inference in the model's Precision.
func (m *Model) inferenceTape() *nn.Tape {
	tp := nn.NoGrad(m.b)
	tp.Precision = m.Precision
	return tp
}

// runLayer runs encoder layer l on the hidden rows x [N, H] at positions pos
// [N]; attend turns the post-RoPE qkv [N, 3·nh, d] into the attention
// output [N, H]. It is Forward's layer body with the attention left open.
func (m *Model) runLayer(tp *nn.Tape, l *Layer, x *nn.Var, pos *tensor.Tensor, attend func(qkv *nn.Var) *nn.Var) *nn.Var {
	cfg := m.Config
	n, nh := x.Shape()[0], cfg.NumHeads
	a := x
	if l.AttnNorm != nil {
		a = l.AttnNorm.Forward(tp, x)
	}
	qkv := l.Wqkv.Forward(tp, a)
	qkv = tp.RoPE(tp.Reshape(qkv, n, 3*nh, cfg.HiddenSize/nh), pos, tensor.RoPEParams{Theta: m.layerRopeTheta(l), Heads: 2 * nh})
	x = tp.Add(x, l.Wo.Forward(tp, attend(qkv)))
	return tp.Add(x, l.MLPWo.Forward(tp, tp.GeGLU(l.Wi.Forward(tp, l.MLPNorm.Forward(tp, x)))))
}

// logitsHead computes the logits of the hidden rows z [N, H] selected by rows.
func (m *Model) logitsHead(tp *nn.Tape, z *nn.Var, rows *tensor.Tensor) *nn.Var {
	z = m.HeadNorm.Forward(tp, tp.GELU(m.HeadDense.Forward(tp, tp.GatherRows(z, rows))))
	return tp.AddBias(tp.Linear(z, m.Embed.Weight.Var), m.DecoderBias.Var)
}

// layerRopeTheta and layerAttention are a layer's RoPE base and attention geometry.
func (m *Model) layerRopeTheta(l *Layer) float64 {
	if l.Global {
		return m.Config.GlobalRopeTheta
	}
	return m.Config.LocalRopeTheta
}

func (m *Model) layerAttention(l *Layer) tensor.AttentionParams {
	cfg := m.Config
	d := cfg.HiddenSize / cfg.NumHeads
	p := tensor.AttentionParams{Heads: cfg.NumHeads, Scale: float32(1 / math.Sqrt(float64(d)))}
	if !l.Global {
		p.Window = cfg.LocalAttention
	}
	return p
}

// fullAttention is Forward's attention over whole sequences.
func (m *Model) fullAttention(tp *nn.Tape, layer int, qkv *nn.Var, batch, seq int, mask *tensor.Tensor) *nn.Var {
	cfg := m.Config
	nh := cfg.NumHeads
	att := tp.Attention(tp.Reshape(qkv, batch, seq, 3, nh, cfg.HiddenSize/nh), mask, m.layerAttention(m.Layers[layer]))
	return tp.Reshape(att, batch*seq, cfg.HiddenSize)
}

// attend is the attention of layer's block queries over the cached keys:
// the fresh block qkv [B·w, 3·nh, d] first replaces the block rows of the
// cache.
func (c *BlockCache) attend(layer int, qkv *nn.Var) *nn.Var {
	m, be := c.m, c.m.b
	cfg := m.Config
	nh, h := cfg.NumHeads, cfg.HiddenSize
	d, w, s, bh := h/nh, c.width, c.seq, c.batch*nh
	fresh := qkv.Value.Reshape(c.batch*w, 3*h)
	cache := c.qkv[layer].Reshape(c.batch*s, 3*h)
	for b, st := range c.starts {
		be.Copy(cache.Rows(b*s+st, b*s+st+w), fresh.Rows(b*w, (b+1)*w))
	}
	kv := be.New(tensor.F32, 2*bh*s, d)
	be.GatherRows(kv, cache.Reshape(c.batch*s*3*nh, d), c.kvIdx)
	q := be.New(tensor.F32, bh*w, d)
	be.GatherRows(q, fresh.Reshape(c.batch*w*3*nh, d), c.qIdx)

	p := m.layerAttention(m.Layers[layer])
	scores := be.New(tensor.F32, bh, w, s)
	be.MatMul(scores, q.Reshape(bh, w, d), kv.Rows(0, bh*s).Reshape(bh, s, d), false, true, p.Scale, 0)
	be.Add(scores, scores, c.bias[boolIndex(p.Window == 0)])
	be.Softmax(scores, scores)
	o := be.New(tensor.F32, bh, w, d)
	be.MatMul(o, scores, kv.Rows(bh*s, 2*bh*s).Reshape(bh, s, d), false, false, 1, 0)
	out := be.New(tensor.F32, c.batch*w*nh, d)
	be.GatherRows(out, o.Reshape(bh*w, d), c.outIdx)
	for _, t := range []*tensor.Tensor{kv, q, scores, o} {
		t.Free() // stream order: every op that reads them is queued
	}
	return nn.Constant(out.Reshape(c.batch*w, h))
}

// buildIndices makes the position, gather and mask tensors of the cache's
// geometry (attend describes them).
func (c *BlockCache) buildIndices(keyMask []int32) {
	be := c.m.b
	cfg := c.m.Config
	nh := cfg.NumHeads
	bsz, s, w := c.batch, c.seq, c.width

	pos := make([]int32, 0, bsz*w)
	for _, st := range c.starts {
		for t := range w {
			pos = append(pos, int32(st+t))
		}
	}
	// Row (b, s, part, h) of qkv viewed as [B·S·3·nh, d] is ((b·S+s)·3+part)·nh+h.
	kv := make([]int32, 0, 2*bsz*nh*s)
	for part := 1; part <= 2; part++ { // K, then V
		for b := range bsz {
			for h := range nh {
				for j := range s {
					kv = append(kv, int32(((b*s+j)*3+part)*nh+h))
				}
			}
		}
	}
	q := make([]int32, 0, bsz*nh*w)
	for b := range bsz {
		for h := range nh {
			for t := range w {
				q = append(q, int32((b*w+t)*3*nh+h))
			}
		}
	}
	out := make([]int32, 0, bsz*w*nh)
	for b := range bsz {
		for t := range w {
			for h := range nh {
				out = append(out, int32((b*nh+h)*w+t))
			}
		}
	}
	c.pos = be.FromHost(tensor.FromI32(pos, len(pos)))
	c.kvIdx = be.FromHost(tensor.FromI32(kv, len(kv)))
	c.qIdx = be.FromHost(tensor.FromI32(q, len(q)))
	c.outIdx = be.FromHost(tensor.FromI32(out, len(out)))

	for g, window := range []int{cfg.LocalAttention, 0} {
		p := tensor.AttentionParams{Window: window}
		bias := make([]float32, bsz*nh*w*s)
		for b, st := range c.starts {
			for t := range w {
				row := bias[((b*nh)*w+t)*s:][:s]
				for j := range row {
					if !p.Visible(st+t, j) || (keyMask != nil && keyMask[b*s+j] == 0) {
						row[j] = maskedScore
					}
				}
			}
			for h := 1; h < nh; h++ { // every head masks alike
				copy(bias[(b*nh+h)*w*s:][:w*s], bias[b*nh*w*s:][:w*s])
			}
		}
		c.bias[g] = be.FromHost(tensor.FromF32(bias, bsz*nh, w, s))
	}
}

func boolIndex(b bool) int {
	if b {
		return 1
	}
	return 0
}
