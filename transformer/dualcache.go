package transformer

import (
	"fmt"

	"github.com/dllmgo/dllm/nn"
	"github.com/dllmgo/dllm/tensor"
)

// DualCache is Fast-dLLM's block cache (Wu et al. 2025) for a batch, seen
// from the blocks: the attention hooks of a full pass that records every
// layer's keys and values, and of the later steps that recompute one block
// of positions per sequence against them.
//
// During one block of a block sampler only the block's tokens change, yet
// every step would run the whole canvas through every layer. The first step
// runs the full pass with Record as each layer's attention, which keeps the
// layer's packed Q, K, V after rotary of every position. A later step runs
// the blocks' rows only, at their positions (Positions), with Attend as the
// attention: their fresh K and V replace the blocks' rows of the cached qkv,
// and the blocks' queries attend over all keys (cached outside the blocks,
// fresh inside, with the layer's window and the key mask). Positions outside
// the blocks keep the keys and values of the first step: that is the
// approximation, and it is exact for the first step.
//
// Costs per cached step, with w block positions of S: the projections and
// the MLP run on w rows instead of S, and attention on w queries instead of
// S. The attention is composed from backend ops rather than the fused
// Attention (which pairs each query with the keys of the same tensor):
// gather K and V head-major from the cached qkv, scores = Q·Kᵀ per head (a
// batched MatMul), an additive mask (window, key mask) precomputed per
// block, Softmax, P·V, and a gather back to [w, H]. It runs in f32 whatever
// the tape's Precision.
type DualCache struct {
	be                tensor.Backend
	heads, kvHeads, d int
	batch, seq, width int
	starts            []int
	// qkv[l] is layer l's [B·S, nh+2·nkv, d] post-rotary Q, K, V (Q, K, V
	// head-major in each row): L·B·S·(nh+2·nkv)·d floats in all. Outside the blocks it
	// holds the recorded pass's values; a cached step overwrites the block
	// rows.
	qkv []*tensor.Tensor
	// pos [B·w] are the block positions, starts[b]+t for row b·w+t.
	pos *tensor.Tensor
	// kvIdx gathers K then V per query head ([2, B·nh, S] rows of d: query
	// head h reads key/value head ⌊h·nkv/nh⌋) from a layer's qkv viewed as
	// [B·S·(nh+2·nkv), d] rows.
	kvIdx *tensor.Tensor
	// qIdx gathers the block's Q head-major ([B·nh, w] rows of d) from the
	// fresh block qkv viewed as [B·w·(nh+2·nkv), d]; outIdx puts the
	// attention output [B·nh·w, d] back in row order [B·w·nh, d].
	qIdx, outIdx *tensor.Tensor
	// bias[window] [B·nh, w, S] is 0 where a block query sees a key and
	// maskedScore where the window or the key mask hides it, one per window
	// among the layers.
	bias map[int]*tensor.Tensor
}

// maskedScore is added to the score of a key a query may not see. Finite,
// unlike −Inf, so that a softmax row stays free of NaN; exp of it underflows
// to exactly 0.
const maskedScore = -1e30

// NewDualCache makes the cache of the layers (their geometry) for a batch of
// batch sequences of seq tokens whose block b is positions [starts[b],
// starts[b]+width); keyMask (batch×seq, 1 = real token; nil: all) is the
// batch's key mask. The blocks must lie inside their sequences; the caller
// checks them.
func NewDualCache(be tensor.Backend, c Config, layers []Layer, batch, seq, width int, starts []int, keyMask []int32) *DualCache {
	dc := &DualCache{
		be: be, heads: c.Heads, kvHeads: c.KV(), d: c.HeadDim(),
		batch: batch, seq: seq, width: width, starts: append([]int(nil), starts...),
		qkv: make([]*tensor.Tensor, len(layers)),
	}
	dc.buildIndices(layers, keyMask)
	return dc
}

// Positions are the rotary positions [B·w] of the blocks' rows, in the
// order the cached steps take them: sequence by sequence, block position by
// block position.
func (dc *DualCache) Positions() *tensor.Tensor { return dc.pos }

// Record is layer's attention in the full pass: it keeps the post-rotary qkv
// [B·S, nh+2·nkv, d] and then attends as full does.
func (dc *DualCache) Record(layer int, full Attention) Attention {
	return func(tp *nn.Tape, qkv *nn.Var, p tensor.AttentionParams) *nn.Var {
		dc.qkv[layer] = qkv.Value
		return full(tp, qkv, p)
	}
}

// Attend is layer's attention in a cached step: the blocks' fresh qkv
// [B·w, nh+2·nkv, d] first replaces the block rows of the cache, then the
// blocks' queries attend over every key of their sequence.
func (dc *DualCache) Attend(layer int) Attention {
	return func(_ *nn.Tape, qkv *nn.Var, p tensor.AttentionParams) *nn.Var {
		return nn.Constant(dc.attend(layer, qkv.Value, p))
	}
}

func (dc *DualCache) attend(layer int, qkv *tensor.Tensor, p tensor.AttentionParams) *tensor.Tensor {
	be := dc.be
	nh, d := dc.heads, dc.d
	heads := nh + 2*dc.kvHeads // per row of the packed qkv
	w, s, bh := dc.width, dc.seq, dc.batch*nh
	fresh := qkv.Reshape(dc.batch*w, heads*d)
	cache := dc.qkv[layer].Reshape(dc.batch*s, heads*d)
	for b, st := range dc.starts {
		be.Copy(cache.Rows(b*s+st, b*s+st+w), fresh.Rows(b*w, (b+1)*w))
	}
	kv := be.New(tensor.F32, 2*bh*s, d)
	be.GatherRows(kv, cache.Reshape(dc.batch*s*heads, d), dc.kvIdx)
	q := be.New(tensor.F32, bh*w, d)
	be.GatherRows(q, fresh.Reshape(dc.batch*w*heads, d), dc.qIdx)

	scores := be.New(tensor.F32, bh, w, s)
	be.MatMul(scores, q.Reshape(bh, w, d), kv.Rows(0, bh*s).Reshape(bh, s, d), false, true, p.Scale, 0)
	be.Add(scores, scores, dc.bias[p.Window])
	be.Softmax(scores, scores)
	o := be.New(tensor.F32, bh, w, d)
	be.MatMul(o, scores, kv.Rows(bh*s, 2*bh*s).Reshape(bh, s, d), false, false, 1, 0)
	out := be.New(tensor.F32, dc.batch*w*nh, d)
	be.GatherRows(out, o.Reshape(bh*w, d), dc.outIdx)
	for _, t := range []*tensor.Tensor{kv, q, scores, o} {
		t.Free() // stream order: every op that reads them is queued
	}
	return out.Reshape(dc.batch*w, nh*d)
}

// Release frees the cache's device memory.
func (dc *DualCache) Release() {
	if dc.Released() {
		return
	}
	for _, t := range dc.qkv {
		if t != nil {
			t.Free()
		}
	}
	dc.qkv = nil
	for _, t := range []*tensor.Tensor{dc.pos, dc.kvIdx, dc.qIdx, dc.outIdx} {
		t.Free()
	}
	for _, t := range dc.bias {
		t.Free()
	}
	dc.bias = nil
}

// Released reports whether Release has been called.
func (dc *DualCache) Released() bool { return dc.qkv == nil }

// buildIndices makes the position, gather and mask tensors of the cache's
// geometry (attend describes them).
func (dc *DualCache) buildIndices(layers []Layer, keyMask []int32) {
	be := dc.be
	nh, nkv := dc.heads, dc.kvHeads
	heads := nh + 2*nkv
	bsz, s, w := dc.batch, dc.seq, dc.width

	pos := make([]int32, 0, bsz*w)
	for _, st := range dc.starts {
		for t := range w {
			pos = append(pos, int32(st+t))
		}
	}
	// Row (b, s) of qkv viewed as [B·S·(nh+2·nkv), d] starts at
	// (b·S+s)·(nh+2·nkv); its key heads follow its nh query heads, its value
	// heads its nkv key heads.
	kv := make([]int32, 0, 2*bsz*nh*s)
	for part := range 2 { // K, then V
		for b := range bsz {
			for h := range nh {
				g := h * nkv / nh // the key/value head of query head h
				for j := range s {
					kv = append(kv, int32((b*s+j)*heads+nh+part*nkv+g))
				}
			}
		}
	}
	q := make([]int32, 0, bsz*nh*w)
	for b := range bsz {
		for h := range nh {
			for t := range w {
				q = append(q, int32((b*w+t)*heads+h))
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
	dc.pos = be.FromHost(tensor.FromI32(pos, len(pos)))
	dc.kvIdx = be.FromHost(tensor.FromI32(kv, len(kv)))
	dc.qIdx = be.FromHost(tensor.FromI32(q, len(q)))
	dc.outIdx = be.FromHost(tensor.FromI32(out, len(out)))

	dc.bias = map[int]*tensor.Tensor{}
	for _, l := range layers {
		if dc.bias[l.Window] != nil {
			continue
		}
		p := tensor.AttentionParams{Window: l.Window}
		bias := make([]float32, bsz*nh*w*s)
		for b, st := range dc.starts {
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
		dc.bias[l.Window] = be.FromHost(tensor.FromF32(bias, bsz*nh, w, s))
	}
}

// Grow appends width positions to every sequence of the cache and makes
// them its block: the sequences become seq+width long, the block of each is
// [seq, seq+width), and keyMask (batch×(seq+width); nil: all real) is the
// grown batch's key mask, which must mark the new positions real. The
// keys and values of the old positions, including those of the block just
// left, are kept as the last step wrote them; the new positions have none
// until a cached step writes them, which it does before any query reads
// them. layers is the geometry NewDualCache was given.
//
// Block diffusion's sampler (package bd3lm) grows its prefix cache this
// way: after a block is finished, one cached step on its committed tokens
// writes the clean keys and values of the block (the block sees the prefix
// and itself, as under the block-causal mask), and Grow moves the cache on
// to the next block, so the prefix is never recomputed.
func (dc *DualCache) Grow(layers []Layer, width int, keyMask []int32) error {
	if dc.Released() {
		return ErrReleased
	}
	s, grown := dc.seq, dc.seq+width
	if width <= 0 || (keyMask != nil && len(keyMask) != dc.batch*grown) {
		return fmt.Errorf("grow by %d with a key mask of %d for a batch of %d×%d", width, len(keyMask), dc.batch, grown)
	}
	for b := range dc.batch {
		for p := s; keyMask != nil && p < grown; p++ {
			if keyMask[b*grown+p] == 0 {
				return fmt.Errorf("grown position %d of sequence %d is padding", p, b)
			}
		}
	}
	be := dc.be
	heads := dc.heads + 2*dc.kvHeads
	for l, old := range dc.qkv { // checked before anything changes
		if old == nil {
			return fmt.Errorf("grow: layer %d has no recorded keys", l)
		}
	}
	for l, old := range dc.qkv {
		next := be.New(old.DType(), dc.batch*grown, heads, dc.d)
		flatOld, flatNext := old.Reshape(dc.batch*s, heads*dc.d), next.Reshape(dc.batch*grown, heads*dc.d)
		for b := range dc.batch {
			be.Copy(flatNext.Rows(b*grown, b*grown+s), flatOld.Rows(b*s, (b+1)*s))
		}
		old.Free()
		dc.qkv[l] = next
	}
	for _, t := range []*tensor.Tensor{dc.pos, dc.kvIdx, dc.qIdx, dc.outIdx} {
		t.Free()
	}
	for _, t := range dc.bias {
		t.Free()
	}
	dc.seq, dc.width = grown, width
	for b := range dc.starts {
		dc.starts[b] = s
	}
	dc.buildIndices(layers, keyMask)
	return nil
}
