package nn

import (
	"fmt"

	"github.com/dllmgo/dllm/tensor"
)

// MaskedScore is the additive bias of a key a query may not see: finite,
// unlike −Inf, so that a softmax row stays free of NaN; exp of it underflows
// to exactly 0 next to any visible score.
const MaskedScore = -1e30

// MaskedAttention is attention under an arbitrary additive mask:
//
//	out = softmax(Q·Kᵀ·scale + bias)·V        per sequence and head
//
// for batch sequences of seq tokens whose packed post-rotary qkv holds, in
// each of its batch·seq rows, nh query heads, then nkv key heads, then nkv
// value heads of size d (nkv = p.KV(); [B, S, 3, nh, d] and [B·S, 3·nh, d]
// are the same memory for nh = nkv). bias [R, seq, seq] (F32) is added to
// every head's scores: 0 where query q may see key k, MaskedScore where not;
// R = 1 shares one pattern among the rows (block diffusion's training mask),
// R = batch gives each row its own (a sampler's left padding). The output is
// [batch·seq, nh·d].
//
// Unlike Attention it is composed from the backend's general ops (gathers,
// batched MatMul, Add, Softmax) rather than a fused kernel, so it runs on
// every backend as it stands, at the cost of the dense [B·nh, S, S]
// probabilities, which it keeps for the backward pass. The window of
// p.Window is not applied: put it into bias. A query that sees no key
// averages every value (a uniform softmax) instead of returning zeros.
func (tp *Tape) MaskedAttention(qkv *Var, bias *tensor.Tensor, batch, seq int, p tensor.AttentionParams) *Var {
	nh, nkv := p.Heads, p.KV()
	if nh <= 0 || nkv <= 0 || nh%nkv != 0 {
		panic(fmt.Sprintf("nn: MaskedAttention with %d heads and %d KV heads", nh, nkv))
	}
	slots := nh + 2*nkv
	n := qkv.Value.Numel()
	if batch <= 0 || seq <= 0 || n%(batch*seq*slots) != 0 {
		panic(fmt.Sprintf("nn: MaskedAttention qkv %v for %d×%d tokens of %d head slots", qkv.Shape(), batch, seq, slots))
	}
	d := n / (batch * seq * slots)
	r := bias.Numel() / (seq * seq)
	if bias.Numel() != r*seq*seq || (r != 1 && r != batch) {
		panic(fmt.Sprintf("nn: MaskedAttention bias %v for %d sequences of %d", bias.Shape(), batch, seq))
	}
	be := tp.B
	bh := batch * nh
	qIdx, kIdx, vIdx, outIdx, inIdx := maskedAttentionIndices(be, batch, seq, nh, nkv)
	rows := qkv.Value.Reshape(batch*seq*slots, d)
	q := be.New(tensor.F32, bh, seq, d)
	k := be.New(tensor.F32, bh, seq, d)
	v := be.New(tensor.F32, bh, seq, d)
	be.GatherRows(q.Reshape(bh*seq, d), rows, qIdx)
	be.GatherRows(k.Reshape(bh*seq, d), rows, kIdx)
	be.GatherRows(v.Reshape(bh*seq, d), rows, vIdx)

	// P = softmax(scale·Q·Kᵀ + bias), one [S, S] slab per (sequence, head).
	probs := be.New(tensor.F32, bh, seq, seq)
	be.MatMul(probs, q, k, false, true, p.Scale, 0)
	slabs := probs.Reshape(bh*seq, seq)
	pattern := bias.Reshape(r*seq, seq)
	for b := range batch {
		src := pattern.Rows(0, seq)
		if r > 1 {
			src = pattern.Rows(b*seq, (b+1)*seq)
		}
		for h := range nh {
			slab := slabs.Rows((b*nh+h)*seq, (b*nh+h+1)*seq)
			be.Add(slab, slab, src)
		}
	}
	be.Softmax(probs, probs)
	o := be.New(tensor.F32, bh, seq, d)
	be.MatMul(o, probs, v, false, false, 1, 0)
	out := tp.newVar(tensor.F32, batch*seq, nh*d)
	be.GatherRows(out.Value.Reshape(batch*seq*nh, d), o.Reshape(bh*seq, d), outIdx)
	o.Free()
	free := func() {
		for _, t := range []*tensor.Tensor{q, k, v, probs, qIdx, kIdx, vIdx, outIdx, inIdx} {
			t.Free()
		}
	}
	if tp.off {
		free()
		return out
	}
	return tp.record(out, func() {
		// dO back in head-major order.
		do := be.New(tensor.F32, bh, seq, d)
		be.GatherRows(do.Reshape(bh*seq, d), out.Grad.Reshape(batch*seq*nh, d), inIdx)
		// dV = Pᵀ·dO; dP = dO·Vᵀ.
		dv := be.New(tensor.F32, bh, seq, d)
		be.MatMul(dv, probs, do, true, false, 1, 0)
		dp := be.New(tensor.F32, bh, seq, seq)
		be.MatMul(dp, do, v, false, true, 1, 0)
		// The softmax's backward: dS = P ⊙ (dP − Σ_k P⊙dP), the row sum
		// subtracted from every column as the outer product sums·1ᵀ.
		pdp := be.New(tensor.F32, bh, seq, seq)
		be.Mul(pdp, probs, dp)
		sums := be.New(tensor.F32, bh*seq)
		be.SumLastAxis(sums, pdp.Reshape(bh*seq, seq))
		ones := be.New(tensor.F32, 1, seq)
		be.Fill(ones, 1)
		be.MatMul(dp.Reshape(bh*seq, seq), sums.Reshape(bh*seq, 1), ones, false, false, -1, 1)
		be.Mul(dp, dp, probs) // dS
		// dQ = scale·dS·K; dK = scale·dSᵀ·Q.
		dq := be.New(tensor.F32, bh, seq, d)
		be.MatMul(dq, dp, k, false, false, p.Scale, 0)
		dk := be.New(tensor.F32, bh, seq, d)
		be.MatMul(dk, dp, q, true, false, p.Scale, 0)
		grows := qkv.grad().Reshape(batch*seq*slots, d)
		be.ScatterAddRows(grows, dq.Reshape(bh*seq, d), qIdx)
		be.ScatterAddRows(grows, dk.Reshape(bh*seq, d), kIdx)
		be.ScatterAddRows(grows, dv.Reshape(bh*seq, d), vIdx)
		for _, t := range []*tensor.Tensor{do, dv, dp, pdp, sums, ones, dq, dk} {
			t.Free()
		}
		free()
	}, qkv)
}

// maskedAttentionIndices are MaskedAttention's gathers between the packed
// rows (b·S+s)·slots + slot of qkv and the head-major rows (b·nh+h)·S+s:
// the query, key and value heads of each (b, h, s) (query head h reads KV
// head h/(nh/nkv)), outIdx from head-major back to the output's rows
// (b·S+s)·nh+h, and inIdx the other way.
func maskedAttentionIndices(be tensor.Backend, batch, seq, nh, nkv int) (qIdx, kIdx, vIdx, outIdx, inIdx *tensor.Tensor) {
	slots, group := nh+2*nkv, nh/nkv
	n := batch * nh * seq
	qi, ki, vi, oi, ii := make([]int32, n), make([]int32, n), make([]int32, n), make([]int32, n), make([]int32, n)
	for b := range batch {
		for h := range nh {
			for s := range seq {
				hm := (b*nh+h)*seq + s // head-major row
				packed := (b*seq + s) * slots
				qi[hm] = int32(packed + h)
				ki[hm] = int32(packed + nh + h/group)
				vi[hm] = int32(packed + nh + nkv + h/group)
				ii[hm] = int32((b*seq+s)*nh + h)
				oi[(b*seq+s)*nh+h] = int32(hm)
			}
		}
	}
	up := func(x []int32) *tensor.Tensor { return be.FromHost(tensor.FromI32(x, len(x))) }
	return up(qi), up(ki), up(vi), up(oi), up(ii)
}
