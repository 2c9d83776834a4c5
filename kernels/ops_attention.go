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

// ropeDims checks RoPE's operands as the CPU does and returns rows, heads per
// row, rotated heads per row, head size and rotary size.
func ropeDims(op string, x, other, pos *tensor.Tensor, p tensor.RoPEParams) (rows, heads, rotated, d, r int) {
	checkF32(op, x, other)
	check(x.Rank() >= 2, op, "%v must be [..., heads, d]", x)
	heads, d = x.Dim(-2), x.Dim(-1)
	check(other.Numel() == x.Numel(), op, "%v and %v differ in element count", x, other)
	rows = tensor.Numel(x.Shape()[:x.Rank()-2])
	check(pos.DType() == tensor.I32 && pos.Numel() == rows, op, "pos %v must be I32 with one position per row (%d) of %v", pos, rows, x)
	check(p.Heads >= 0 && p.Heads <= heads, op, "Heads = %d, but rows of %v have %d heads", p.Heads, x, heads)
	check(p.Theta > 0, op, "Theta = %v must be positive", p.Theta)
	r = p.RotarySize(d)
	check(p.RotaryDim != 0 || d%2 == 0, op, "%v: head size %d must be even (rotate-half pairs k with k+d/2)", x, d)
	check(r > 0 && r <= d && r%2 == 0, op, "rotary size %d (RotaryDim = %d) must be even and in (0, d = %d] (rotate-half pairs k with k+r/2)", r, p.RotaryDim, d)
	if l := p.Llama3; l.Factor != 0 {
		check(l.Factor > 0 && l.LowFreqFactor > 0 && l.HighFreqFactor > l.LowFreqFactor && l.OriginalMaxPositions > 0, op,
			"Llama3 scaling %+v needs Factor > 0, 0 < LowFreqFactor < HighFreqFactor and OriginalMaxPositions > 0", l)
	}
	rotated = p.Heads
	if rotated == 0 {
		rotated = heads
	}
	return rows, heads, rotated, d, r
}

func (b *Backend) rope(op, entry string, out, in, pos *tensor.Tensor, p tensor.RoPEParams) {
	rows, heads, rotated, d, r := ropeDims(op, in, out, pos, p)
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
	b.rope("RoPE", "rope_fwd_f32", dst, src, pos, p)
}

// RoPEBackward adds the rotation of dy by −φ into dsrc.
func (b *Backend) RoPEBackward(dsrc, dy, pos *tensor.Tensor, p tensor.RoPEParams) {
	b.rope("RoPEBackward", "rope_bwd_f32", dsrc, dy, pos, p)
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
}

// attnDims checks the operands as the CPU reference does.
func attnDims(op string, out, qkv, keyMask *tensor.Tensor, p tensor.AttentionParams) attnShape {
	checkF32(op, out, qkv)
	nkv := p.KV()
	check(p.Heads > 0, op, "Heads = %d must be positive", p.Heads)
	check(nkv > 0 && p.Heads%nkv == 0, op, "KVHeads = %d must divide Heads = %d", p.KVHeads, p.Heads)
	check(qkv.Rank() >= 3, op, "qkv %v must be [B, S, nh + 2·nkv, d]", qkv)
	bsz, s := qkv.Dim(0), qkv.Dim(1)
	tok, heads := tensor.Numel(qkv.Shape()[2:]), p.Heads+2*nkv
	check(tok%heads == 0 && tok > 0, op, "qkv %v does not hold nh + 2·nkv = %d heads per token (nh = %d, nkv = %d)", qkv, heads, p.Heads, nkv)
	d := tok / heads
	check(qkv.Rank() != 5 || (nkv == p.Heads && qkv.Dim(2) == 3 && qkv.Dim(3) == p.Heads), op,
		"qkv %v must be [B, S, 3, %d, d] (rank 5 holds no grouped K and V)", qkv, p.Heads)
	check(out.Numel() == bsz*s*p.Heads*d, op, "out %v must be [%d, %d, %d, %d] for qkv %v", out, bsz, s, p.Heads, d, qkv)
	if keyMask != nil {
		check(keyMask.DType() == tensor.I32 && keyMask.Numel() == bsz*s, op, "keyMask %v must be I32 [%d, %d]", keyMask, bsz, s)
	}
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
	return attnShape{b: bsz, s: s, nh: p.Heads, nkv: nkv, d: d, w: w, dm: dm}
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

// scalars are the trailing kernel arguments shared by the attention kernels.
func (a attnShape) scalars(scale float32) []any {
	return []any{int32(a.s), int32(a.nh), int32(a.nkv), int32(a.d), scale, int32(a.w)}
}

var attnThreads = cu.Dim3{X: 64, Y: 1, Z: 1}

// Attention computes softmax(QKᵀ·scale + mask)·V per head from a packed qkv:
// on the tensor cores in bf16 when p.BF16 is set (attention_mma.cu), else in
// f32 (attention.cu).
func (b *Backend) Attention(out, lse, qkv, keyMask *tensor.Tensor, p tensor.AttentionParams) {
	const op = "Attention"
	a := attnDims(op, out, qkv, keyMask, p)
	if lse != nil {
		checkF32(op, lse)
		check(lse.Numel() == a.b*a.nh*a.s, op, "lse %v must be [%d, %d, %d]", lse, a.b, a.nh, a.s)
	}
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
	a := attnDims(op, out, qkv, keyMask, p)
	checkF32(op, dqkv, dout, lse)
	check(lse != nil, op, "needs lse from the forward pass")
	check(dqkv.Numel() == qkv.Numel(), op, "dqkv %v and qkv %v differ in element count", dqkv, qkv)
	check(dout.Numel() == out.Numel(), op, "dout %v and out %v differ in element count", dout, out)
	check(lse.Numel() == a.b*a.nh*a.s, op, "lse %v must be [%d, %d, %d]", lse, a.b, a.nh, a.s)
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
