package tensor

import (
	"math"
	"sync"

	"github.com/dllmgo/dllm/tensor/gemm"
)

// Scaled dot-product attention on the CPU.
//
// The work splits into one task per (batch, head), run in parallel; inside a
// task the queries go in blocks of rows (block()). For a block the scores
// against every key the block can see are one small GEMM (Q_blk·K_rangeᵀ),
// the softmax runs row by row on that tile, and the output is a second GEMM
// (P·V_range). The packed qkv layout needs no copies: Q, K and V of one head
// are [S, d] matrices with row stride (nh + 2·nkv)·d inside qkv (3·H without
// grouping), which is exactly what the GEMM's leading dimension expresses.
//
// Grouped-query attention changes only which K and V a query head reads:
// query head h reads KV head ⌊h/group⌋, group = nh/nkv, so the forward is
// the same per-head computation with other column offsets. The backward
// sums the gradients of a group's query heads into their shared dK and dV,
// so its tasks are (batch, KV head) pairs that run the group's query heads
// one after the other: each task still owns its slice of dqkv, and the sums
// into dK and dV keep a fixed order.
//
// With a sliding window a block only multiplies against keys
// [i0 − w, i1 − 1 + w] (w = Window/2), so the cost is O(S·(block + 2w)),
// not O(S²).
//
// A query that sees no key (all its keys padded) gets output zeros and
// lse = +Inf, FlashAttention's convention: the backward's exp(s − lse) is
// then 0 for it without a special case.
//
// Each task runs alone on its goroutine with a single-threaded GEMM and owns
// its slices of out, lse and dqkv, so the results are identical for any
// GOMAXPROCS.

// serialGEMM runs one product on the calling goroutine: attention already
// runs one task per goroutine.
var serialGEMM = gemm.Config{Threads: 1}

// attnShape is the geometry of one Attention call.
type attnShape struct {
	b, s, nh, d int
	nkv         int // key/value heads: nh without grouping
	w           int // half window: key j visible from i iff |i−j| ≤ w; -1 = global
}

// h is the hidden size nh·d, the row stride of out.
func (a attnShape) h() int { return a.nh * a.d }

// ld is the row stride of Q, K and V inside the packed qkv: nh query heads,
// nkv key heads and nkv value heads per token.
func (a attnShape) ld() int { return (a.nh + 2*a.nkv) * a.d }

// group is the number of query heads that share one KV head.
func (a attnShape) group() int { return a.nh / a.nkv }

// offsets returns where query head h's Q, K and V start in batch row bi of
// the packed qkv, and where its output starts in out.
func (a attnShape) offsets(bi, h int) (qOff, kOff, vOff, oOff int) {
	base := bi * a.s * a.ld()
	kv := h / a.group()
	return base + h*a.d, base + (a.nh+kv)*a.d, base + (a.nh+a.nkv+kv)*a.d, bi*a.s*a.h() + h*a.d
}

// The number of queries per block: big enough for the GEMM micro-kernel to
// run at speed and to repack K and V rarely, small enough that a sliding
// window wastes little work on keys outside it (a block of 64 queries with
// w = 64 multiplies against 192 keys where each query sees 129). Measured on
// the tiny ModernBERT's shapes (S = 256, d = 64); 32 and 256 were slower.
const (
	attnBlockGlobal = 128
	attnBlockLocal  = 64
)

// block returns the query block size for this geometry.
func (a attnShape) block() int {
	if a.w < 0 {
		return attnBlockGlobal
	}
	return attnBlockLocal
}

// keyRange returns the keys [j0, j1) that any query of [i0, i1) may see.
func (a attnShape) keyRange(i0, i1 int) (j0, j1 int) {
	if a.w < 0 {
		return 0, a.s
	}
	return max(0, i0-a.w), min(a.s, i1+a.w)
}

// rowRange returns the keys [lo, hi) that query i may see by position.
func (a attnShape) rowRange(i int) (lo, hi int) {
	if a.w < 0 {
		return 0, a.s
	}
	return max(0, i-a.w), min(a.s, i+a.w+1)
}

// attnDims returns the geometry of a call whose operands passed the
// contract (CheckAttention).
func attnDims(c AttentionShape, p AttentionParams) attnShape {
	w := -1
	if p.Window > 0 {
		w = p.Window / 2
	}
	return attnShape{b: c.Batch, s: c.Seq, nh: c.Heads, nkv: c.KVHeads, d: c.D, w: w}
}

// attnScratch is one task's working memory: a block of scores and a block of
// their gradients.
type attnScratch struct{ scores, dp []float32 }

var attnScratchPool sync.Pool

func getAttnScratch(n int) *attnScratch {
	sc, _ := attnScratchPool.Get().(*attnScratch)
	if sc == nil {
		sc = &attnScratch{}
	}
	if len(sc.scores) < n {
		sc.scores = make([]float32, n)
		sc.dp = make([]float32, n)
	}
	return sc
}

func (cpuBackend) Attention(out, lse, qkv, keyMask *Tensor, p AttentionParams) {
	a := attnDims(CheckAttention(out, lse, qkv, keyMask, p), p)
	x, o := qkv.F32(), out.F32()
	var ls []float32
	if lse != nil {
		ls = lse.F32()
	}
	var masks []int32
	if keyMask != nil {
		masks = keyMask.I32()
	}
	parallelFor(a.b*a.nh, 1, func(t0, t1 int) {
		sc := getAttnScratch(a.block() * a.s)
		defer attnScratchPool.Put(sc)
		for t := t0; t < t1; t++ {
			bi, h := t/a.nh, t%a.nh
			var mask []int32
			if masks != nil {
				mask = masks[bi*a.s : (bi+1)*a.s]
			}
			var lrow []float32
			if ls != nil {
				lrow = ls[t*a.s : (t+1)*a.s]
			}
			attnForwardHead(a, p.Scale, x, o, lrow, mask, bi, h, sc)
		}
	})
}

// attnForwardHead computes one (batch, head) pair.
func attnForwardHead(a attnShape, scale float32, x, o, lse []float32, mask []int32, bi, h int, sc *attnScratch) {
	H, ld := a.h(), a.ld()
	qOff, kOff, vOff, oOff := a.offsets(bi, h)
	for i0 := 0; i0 < a.s; i0 += a.block() {
		i1 := min(a.s, i0+a.block())
		j0, j1 := a.keyRange(i0, i1)
		m, nk := i1-i0, j1-j0
		s := sc.scores[:m*nk]
		serialGEMM.Sgemm(false, true, m, nk, a.d, scale, x[qOff+i0*ld:], ld, x[kOff+j0*ld:], ld, 0, s, nk)
		for r := range m {
			l := softmaxVisible(a, s[r*nk:(r+1)*nk], i0+r, j0, mask)
			if lse != nil {
				lse[i0+r] = l
			}
		}
		serialGEMM.Sgemm(false, false, m, a.d, nk, 1, s, nk, x[vOff+j0*ld:], ld, 0, o[oOff+i0*H:], H)
	}
}

// softmaxVisible turns one row of scores (keys j0, j0+1, ...) into attention
// probabilities in place: keys query i cannot see get 0, the others
// softmax over the visible ones. It returns the log-sum-exp, +Inf when no key
// is visible (the row is then all zeros).
func softmaxVisible(a attnShape, row []float32, i, j0 int, mask []int32) float32 {
	lo, hi := a.rowRange(i)
	lo, hi = lo-j0, hi-j0
	clear(row[:lo])
	clear(row[hi:])
	vis := row[lo:hi]
	hideMasked(vis, mask, j0+lo)
	m := maxF32(vis)
	if math.IsInf(float64(m), -1) {
		clear(vis)
		return float32(math.Inf(1))
	}
	sum := expSum(vis, vis, float64(m)) // padded keys: e^−Inf = 0
	inv := 1 / sum
	for c, e := range vis {
		vis[c] = float32(float64(e) * inv)
	}
	return float32(float64(m) + math.Log(sum))
}

// hideMasked sets the scores of padded keys (key j0+c for vis[c]) to −Inf.
func hideMasked(vis []float32, mask []int32, j0 int) {
	if mask == nil {
		return
	}
	ninf := float32(math.Inf(-1))
	for c, real := range mask[j0 : j0+len(vis)] {
		if real == 0 {
			vis[c] = ninf
		}
	}
}

// AttentionBackward, per (batch, head), with P = exp(scale·QKᵀ − lse) and
// D_i = Σ_k dout[i,k]·out[i,k]:
//
//	dV += Pᵀ·dout,   dP = dout·Vᵀ,   dS = P ⊙ (dP − D),
//	dQ += scale·dS·K,   dK += scale·dSᵀ·Q
//
// computed block by block of queries, the GEMMs accumulating straight into
// dqkv (beta = 1). The blocks of one task run in order, so the sums into dK
// and dV have a fixed order.
func (cpuBackend) AttentionBackward(dqkv, dout, qkv, out, lse, keyMask *Tensor, p AttentionParams) {
	a := attnDims(CheckAttentionBackward(dqkv, dout, qkv, out, lse, keyMask, p), p)
	x, dx, o, do, ls := qkv.F32(), dqkv.F32(), out.F32(), dout.F32(), lse.F32()
	var masks []int32
	if keyMask != nil {
		masks = keyMask.I32()
	}
	// One task per (batch, KV head): the query heads of a group add into
	// the same dK and dV, so they run in order on one goroutine.
	parallelFor(a.b*a.nkv, 1, func(t0, t1 int) {
		sc := getAttnScratch(a.block() * a.s)
		defer attnScratchPool.Put(sc)
		dsum := make([]float32, a.s)
		for t := t0; t < t1; t++ {
			bi, kv := t/a.nkv, t%a.nkv
			var mask []int32
			if masks != nil {
				mask = masks[bi*a.s : (bi+1)*a.s]
			}
			for h := kv * a.group(); h < (kv+1)*a.group(); h++ {
				l := (bi*a.nh + h) * a.s
				attnBackwardHead(a, p.Scale, x, dx, o, do, ls[l:l+a.s], dsum, mask, bi, h, sc)
			}
		}
	})
}

func attnBackwardHead(a attnShape, scale float32, x, dx, o, do, lse, dsum []float32, mask []int32, bi, h int, sc *attnScratch) {
	H, ld := a.h(), a.ld()
	qOff, kOff, vOff, oOff := a.offsets(bi, h)
	for i := range a.s {
		orow := o[oOff+i*H : oOff+i*H+a.d]
		drow := do[oOff+i*H : oOff+i*H+a.d]
		s := 0.0
		for k, v := range orow {
			s += float64(v) * float64(drow[k])
		}
		dsum[i] = float32(s)
	}
	for i0 := 0; i0 < a.s; i0 += a.block() {
		i1 := min(a.s, i0+a.block())
		j0, j1 := a.keyRange(i0, i1)
		m, nk := i1-i0, j1-j0
		pm, dp := sc.scores[:m*nk], sc.dp[:m*nk]
		serialGEMM.Sgemm(false, true, m, nk, a.d, scale, x[qOff+i0*ld:], ld, x[kOff+j0*ld:], ld, 0, pm, nk)
		for r := range m {
			probsFromLSE(a, pm[r*nk:(r+1)*nk], i0+r, j0, mask, lse[i0+r])
		}
		// dV[j0:j1] += Pᵀ·dout[i0:i1]
		serialGEMM.Sgemm(true, false, nk, a.d, m, 1, pm, nk, do[oOff+i0*H:], H, 1, dx[vOff+j0*ld:], ld)
		// dP = dout[i0:i1]·V[j0:j1]ᵀ
		serialGEMM.Sgemm(false, true, m, nk, a.d, 1, do[oOff+i0*H:], H, x[vOff+j0*ld:], ld, 0, dp, nk)
		for r := range m {
			dr, pr, di := dp[r*nk:(r+1)*nk], pm[r*nk:(r+1)*nk], dsum[i0+r]
			for c, pv := range pr {
				dr[c] = pv * (dr[c] - di)
			}
		}
		// dQ[i0:i1] += scale·dS·K[j0:j1];  dK[j0:j1] += scale·dSᵀ·Q[i0:i1]
		serialGEMM.Sgemm(false, false, m, a.d, nk, scale, dp, nk, x[kOff+j0*ld:], ld, 1, dx[qOff+i0*ld:], ld)
		serialGEMM.Sgemm(true, false, nk, a.d, m, scale, dp, nk, x[qOff+i0*ld:], ld, 1, dx[kOff+j0*ld:], ld)
	}
}

// probsFromLSE turns one row of scores into the forward's probabilities
// exp(s − lse), with 0 for keys the query cannot see.
func probsFromLSE(a attnShape, row []float32, i, j0 int, mask []int32, lse float32) {
	lo, hi := a.rowRange(i)
	lo, hi = lo-j0, hi-j0
	clear(row[:lo])
	clear(row[hi:])
	vis := row[lo:hi]
	if math.IsInf(float64(lse), 1) { // no key visible: the forward output was constant
		clear(vis)
		return
	}
	hideMasked(vis, mask, j0+lo)
	expSum(vis, vis, float64(lse))
}
