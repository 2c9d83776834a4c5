package kernels

import (
	"github.com/dllmgo/dllm/kernels/cu"
	"github.com/dllmgo/dllm/tensor"
)

// --- RoPE ---

// invFreqKey is what the RoPE frequencies depend on: θ, the rotary size and
// the Llama-3 scaling.
type invFreqKey struct {
	theta  float64
	r      int
	llama3 tensor.RoPELlama3
}

// invFreqTable returns inv_freq [r/2] on the device for heads of size d:
// tensor.RoPEParams.InvFreq, the table the CPU backend uses too.
func (b *Backend) invFreqTable(p tensor.RoPEParams, d int) *tensor.Tensor {
	b.invFreqMu.Lock()
	defer b.invFreqMu.Unlock()
	key := invFreqKey{p.Theta, p.RotarySize(d), p.Llama3}
	if t := b.invFreq[key]; t != nil {
		return t
	}
	inv := p.InvFreq(d)
	t := b.FromHost(tensor.FromF32(inv, len(inv)))
	b.invFreq[key] = t
	return t
}

// rope launches one direction of rope.cu for operands that passed their
// contract (s).
func (b *Backend) rope(op, entry string, out, in, pos *tensor.Tensor, p tensor.RoPEParams, s tensor.RoPEShape) {
	rows, heads, rotated, d, r := s.Rows, s.Heads, s.Rotated, s.D, s.R
	n := rows * heads * (d - r/2) // rope.cu's items: r/2 rotated pairs and d − r pass-through features per head
	if n == 0 {
		return
	}
	inv := b.invFreqTable(p, d)
	b.launch("rope.cu", entry, b.grid(n), threads, 0,
		b.ptr(op, out), b.ptr(op, in), b.ptr(op, pos), b.ptr(op, inv),
		int64(rows), int32(heads), int32(d), int32(rotated), int32(r))
}

// RoPE applies rotary position embeddings to src, writing dst.
func (b *Backend) RoPE(dst, src, pos *tensor.Tensor, p tensor.RoPEParams) {
	b.rope("RoPE", "rope_fwd_f32", dst, src, pos, p, tensor.CheckRoPE(dst, src, pos, p))
}

// RoPEBackward adds the rotation of dy by −φ into dsrc.
func (b *Backend) RoPEBackward(dsrc, dy, pos *tensor.Tensor, p tensor.RoPEParams) {
	b.rope("RoPEBackward", "rope_bwd_f32", dsrc, dy, pos, p, tensor.CheckRoPEBackward(dsrc, dy, pos, p))
}

// --- Attention ---

// Tile sizes of attention.cu; the shared-memory sizes below must follow its
// *_smem_floats comments.
const (
	attnBQ  = 64
	attnBK  = 32
	attnBKV = 64
	attnBQT = 32
)

type attnShape struct {
	b, s, nh, d int
	nkv         int // key/value heads (grouped-query attention); nh without grouping
	w           int // half window, −1 for global attention
	dm          int // head-size class of the kernels: 32, 64 or 128
	blocks      tensor.BlockPattern
}

// attnDims checks the limits of the kernels for operands that passed the
// contract (c) and returns their geometry.
func attnDims(op string, c tensor.AttentionShape, p tensor.AttentionParams) attnShape {
	bsz, s, nkv, d := c.Batch, c.Seq, c.KVHeads, c.D
	check(d <= 128, op, "head size %d: the CUDA kernels support d ≤ 128", d)
	check(p.Heads <= 65535 && bsz <= 65535, op, "%d heads × batch %d exceeds the grid", p.Heads, bsz)
	w := -1
	if p.Window > 0 {
		w = p.Window / 2
	}
	dm := 32
	for dm < d {
		dm *= 2
	}
	return attnShape{b: bsz, s: s, nh: p.Heads, nkv: nkv, d: d, w: w, dm: dm, blocks: p.Blocks}
}

// Tile sizes of attention_mma.cu (the tensor-core kernels, p.BF16): 64 rows
// per block in 4 warps, key tiles of 64 (forward, dq) and query tiles of 32
// (dkv); shared tiles hold bf16 pairs in rows of dm/2 + 4 words, or
// transposed in rows of tile/2 + 4 words.
const (
	mmaRows = 64
	mmaBK   = 64
	mmaBQ   = 32
)

var mmaThreads = cu.Dim3{X: 128, Y: 1, Z: 1}

func (a attnShape) mmaFwdShared() int {
	return 4 * (2*mmaRows*(a.dm/2+4) + a.dm*(mmaBK/2+4) + mmaBK)
}
func (a attnShape) mmaDqShared() int {
	return 4 * (4*mmaRows*(a.dm/2+4) + a.dm*(mmaBK/2+4) + mmaBK)
}
func (a attnShape) mmaDkvShared() int {
	return 4 * (2*mmaRows*(a.dm/2+4) + 2*mmaBQ*(a.dm/2+4) + 2*a.dm*(mmaBQ/2+4) + 2*mmaBQ)
}

func (a attnShape) fwdShared() int { return 4 * (attnBQ*(a.dm+1) + 2*attnBK*a.dm + attnBK) }
func (a attnShape) dqShared() int  { return 4 * (2*attnBQ*(a.dm+1) + 2*attnBK*a.dm + attnBK) }
func (a attnShape) dkvShared() int { return 4 * (2*attnBKV*(a.dm+1) + 2*attnBQT*a.dm + 2*attnBQT) }

func (a attnShape) entry(kind string) string {
	switch a.dm {
	case 32:
		return kind + "_d32"
	case 64:
		return kind + "_d64"
	}
	return kind + "_d128"
}

// scalars are the trailing kernel arguments shared by the attention kernels:
// the geometry, the scale, the half window and the block pattern (block
// size, 0 for none, and the half length L of the two-halves layout).
func (a attnShape) scalars(scale float32) []any {
	return []any{int32(a.s), int32(a.nh), int32(a.nkv), int32(a.d), scale, int32(a.w), int32(a.blocks.Size), int32(a.blocks.Half)}
}

var attnThreads = cu.Dim3{X: 64, Y: 1, Z: 1}

// Attention computes softmax(QKᵀ·scale + mask)·V per head from a packed qkv:
// on the tensor cores in bf16 when p.BF16 is set (attention_mma.cu), else in
// f32 (attention.cu).
func (b *Backend) Attention(out, lse, qkv, keyMask *tensor.Tensor, p tensor.AttentionParams) {
	const op = "Attention"
	a := attnDims(op, tensor.CheckAttention(out, lse, qkv, keyMask, p), p)
	if a.b*a.s == 0 {
		return
	}
	args := append([]any{b.ptr(op, out), b.ptr(op, lse), b.ptr(op, qkv), b.ptr(op, keyMask)}, a.scalars(p.Scale)...)
	if p.BF16 {
		grid := cu.Dim3{X: (a.s + mmaRows - 1) / mmaRows, Y: a.nh, Z: a.b}
		b.launch("attention_mma.cu", a.entry("attn_mma_fwd"), grid, mmaThreads, a.mmaFwdShared(), args...)
		return
	}
	grid := cu.Dim3{X: (a.s + attnBQ - 1) / attnBQ, Y: a.nh, Z: a.b}
	b.launch("attention.cu", a.entry("attn_fwd"), grid, attnThreads, a.fwdShared(), args...)
}

// AttentionBackward adds the gradient with respect to qkv into dqkv.
func (b *Backend) AttentionBackward(dqkv, dout, qkv, out, lse, keyMask *tensor.Tensor, p tensor.AttentionParams) {
	const op = "AttentionBackward"
	a := attnDims(op, tensor.CheckAttentionBackward(dqkv, dout, qkv, out, lse, keyMask, p), p)
	if a.b*a.s == 0 {
		return
	}
	dsum := b.New(tensor.F32, a.b, a.nh, a.s)
	defer b.Free(dsum) // stream order keeps it alive for the kernels below
	rows := a.b * a.s * a.nh
	pd, pdo, po, px, pl, pm, pdx := b.ptr(op, dsum), b.ptr(op, dout), b.ptr(op, out), b.ptr(op, qkv), b.ptr(op, lse), b.ptr(op, keyMask), b.ptr(op, dqkv)
	b.launch("attention.cu", "attn_bwd_dsum", cu.Dim3{X: (rows*32 + 255) / 256, Y: 1, Z: 1}, threads, 0,
		pd, pdo, po, int64(rows), int32(a.s), int32(a.nh), int32(a.d), boolArg(p.BF16))
	grads := append([]any{pdx, pdo, px, pl, pd, pm}, a.scalars(p.Scale)...)
	// dq: a block per query tile and query head; dkv: per key tile and KV
	// head, summing over the query heads of its group.
	if p.BF16 {
		tiles := (a.s + mmaRows - 1) / mmaRows
		b.launch("attention_mma.cu", a.entry("attn_mma_dq"), cu.Dim3{X: tiles, Y: a.nh, Z: a.b}, mmaThreads, a.mmaDqShared(), grads...)
		b.launch("attention_mma.cu", a.entry("attn_mma_dkv"), cu.Dim3{X: tiles, Y: a.nkv, Z: a.b}, mmaThreads, a.mmaDkvShared(), grads...)
		return
	}
	b.launch("attention.cu", a.entry("attn_bwd_dq"), cu.Dim3{X: (a.s + attnBQ - 1) / attnBQ, Y: a.nh, Z: a.b},
		attnThreads, a.dqShared(), grads...)
	b.launch("attention.cu", a.entry("attn_bwd_dkv"), cu.Dim3{X: (a.s + attnBKV - 1) / attnBKV, Y: a.nkv, Z: a.b},
		attnThreads, a.dkvShared(), grads...)
}

// boolArg is a C int flag.
func boolArg(v bool) int32 {
	if v {
		return 1
	}
	return 0
}
