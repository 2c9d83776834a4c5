package conformance

import (
	"math"

	"github.com/dllmgo/dllm/tensor"
)

// Float64 references: the definitions of backend.go written as plainly as
// possible, on flat row-major slices. Nothing here is optimised; each is
// meant to be checked by reading.

func refGELU(x float64) float64 {
	// 0.5·x·(1 + erf(x/√2)), written with erfc so that it stays accurate
	// where 1 + erf cancels (large negative x).
	return 0.5 * x * math.Erfc(-x/math.Sqrt2)
}

func mapF(x []float64, f func(float64) float64) []float64 {
	out := make([]float64, len(x))
	for i, v := range x {
		out[i] = f(v)
	}
	return out
}

// refSoftmax is softmax over rows of length d.
func refSoftmax(x []float64, d int) []float64 {
	out := make([]float64, len(x))
	for r := 0; r < len(x)/d; r++ {
		row := x[r*d : (r+1)*d]
		m := math.Inf(-1)
		for _, v := range row {
			m = math.Max(m, v)
		}
		s := 0.0
		for _, v := range row {
			s += math.Exp(v - m)
		}
		for j, v := range row {
			out[r*d+j] = math.Exp(v-m) / s
		}
	}
	return out
}

// refLayerNorm normalises rows of length d; beta may be nil. It returns y,
// the row means and 1/√(σ²+eps) with the biased variance.
func refLayerNorm(x, gamma, beta []float64, d int, eps float64) (y, mean, rstd []float64) {
	n := len(x) / d
	y = make([]float64, len(x))
	mean, rstd = make([]float64, n), make([]float64, n)
	for r := range n {
		row := x[r*d : (r+1)*d]
		mu := 0.0
		for _, v := range row {
			mu += v
		}
		mu /= float64(d)
		variance := 0.0
		for _, v := range row {
			variance += (v - mu) * (v - mu)
		}
		variance /= float64(d)
		rs := 1 / math.Sqrt(variance+eps)
		for j, v := range row {
			y[r*d+j] = (v - mu) * rs * gamma[j]
			if beta != nil {
				y[r*d+j] += beta[j]
			}
		}
		mean[r], rstd[r] = mu, rs
	}
	return y, mean, rstd
}

// refGeGLU maps rows [u | g] of length 2·inner to GELU(u)·g.
func refGeGLU(x []float64, inner int) []float64 {
	n := len(x) / (2 * inner)
	y := make([]float64, n*inner)
	for r := range n {
		for j := range inner {
			y[r*inner+j] = refGELU(x[r*2*inner+j]) * x[r*2*inner+inner+j]
		}
	}
	return y
}

// ropeFreq is what the rotation angles depend on: the base θ, the rotary
// size r (the head size, or RotaryDim) and Llama-3 scaling (factor 0: none).
type ropeFreq struct {
	theta  float64
	r      int
	llama3 tensor.RoPELlama3
}

// invFreq and angle define the rotation angles as Hugging Face computes
// them in float32: inv_freq[k] = 1/θ^(2k/r) with the exponent, the power
// and the reciprocal rounded to float32, optionally rescaled for Llama 3,
// and φ = p·inv_freq[k] rounded to float32. The rounding of φ is part of the
// op's definition (at p ≈ 8000 it moves φ by up to 5e-4 rad), so the
// reference reproduces it; from φ on it computes in float64.
func (f ropeFreq) invFreq(k int) float32 {
	e := float32(2*k) / float32(f.r)
	w := 1 / float32(math.Pow(float64(float32(f.theta)), float64(e)))
	if f.llama3.Factor != 0 {
		w = llama3Scale(w, f.llama3)
	}
	return w
}

// llama3Scale is transformers' _compute_llama3_parameters for one
// frequency, on float32 values as its tensors are (x/t for a Python number x
// and a tensor t is t.reciprocal()·x there): wavelengths above L/low slow
// down by the factor, those below L/high stay, and the band between,
// bounds included, interpolates with s = (L/λ − low)/(high − low).
func llama3Scale(w float32, l tensor.RoPELlama3) float32 {
	wavelen := float32(1/w) * float32(2*math.Pi)
	orig := float64(l.OriginalMaxPositions)
	if wavelen > float32(orig/l.LowFreqFactor) {
		return w / float32(l.Factor)
	}
	if wavelen < float32(orig/l.HighFreqFactor) {
		return w
	}
	ratio := float32(float32(1/wavelen) * float32(orig))
	s := float32(ratio-float32(l.LowFreqFactor)) / float32(l.HighFreqFactor-l.LowFreqFactor)
	slow := float32(float32(float32(1-s)*w) / float32(l.Factor))
	return slow + float32(s*w)
}

func (f ropeFreq) angle(k, pos int) float64 {
	return float64(float32(pos) * f.invFreq(k))
}

// refRoPE rotates the first `rotated` heads of every row of `heads` heads of
// size d: features k and k + r/2 for k < r/2, the rest of the head left as
// it is; row i has position pos[i]. sign = −1 rotates by −φ (the backward).
func refRoPE(x []float64, pos []int, heads, rotated, d int, f ropeFreq, sign float64) []float64 {
	out := append([]float64(nil), x...)
	half, width := f.r/2, heads*d
	for r, p := range pos {
		for h := range rotated {
			for k := range half {
				phi := sign * f.angle(k, p)
				c, s := math.Cos(phi), math.Sin(phi)
				i := r*width + h*d + k
				a, b := x[i], x[i+half]
				out[i] = a*c - b*s
				out[i+half] = b*c + a*s
			}
		}
	}
	return out
}

// attnGeom is one attention problem: qkv [B, S, nh + 2·nkv, d] (nh query
// heads, nkv key heads, nkv value heads; [B, S, 3, nh, d] when nkv = nh),
// out [B, S, nh, d], lse [B, nh, S], mask [B, S] (nil: no padding).
type attnGeom struct {
	b, s, nh, d int
	nkv         int // 0 means nh
	scale       float64
	window      int
	mask        []int
	// allow [S·S], when set, is a dense pattern of which query may see
	// which key (refBlockMask), and pos [S] the positions the window is
	// measured in (nil: indices).
	allow []bool
	pos   []int
}

func (g attnGeom) kv() int {
	if g.nkv == 0 {
		return g.nh
	}
	return g.nkv
}

// visible reports whether query i sees key j of batch row bi.
func (g attnGeom) visible(bi, i, j int) bool {
	if g.mask != nil && g.mask[bi*g.s+j] == 0 {
		return false
	}
	if g.allow != nil && !g.allow[i*g.s+j] {
		return false
	}
	pi, pj := i, j
	if g.pos != nil {
		pi, pj = g.pos[i], g.pos[j]
	}
	if g.window > 0 && abs(pi-pj) > g.window/2 {
		return false
	}
	return true
}

// refBlockMask is block diffusion's attention pattern as a dense [S·S]
// matrix, straight from its definition (docs: the BD3LM mask over the two
// halves), with the positions the window is measured in. half = 0: the
// block-causal mask over S tokens, key block ≤ query block, positions the
// indices. half = L: S = 2L tokens [x_t ; x_0], both halves at positions
// 0..L−1; with h the half and b the block within it, query q sees key k iff
// (h(q) = h(k) and b(q) = b(k)) or (h(q) = 0, h(k) = 1 and b(q) > b(k)) or
// (h(q) = h(k) = 1 and b(q) ≥ b(k)).
func refBlockMask(s, bs, half int) (allow []bool, pos []int) {
	allow, pos = make([]bool, s*s), make([]int, s)
	hb := func(i int) (int, int) {
		if half > 0 && i >= half {
			return 1, (i - half) / bs
		}
		return 0, i / bs
	}
	for i := range s {
		h, _ := hb(i)
		pos[i] = i - h*half
		for j := range s {
			hk, bk := hb(j)
			hq, bq := hb(i)
			var ok bool
			if half == 0 {
				ok = bk <= bq
			} else {
				ok = (hq == hk && bq == bk) || (hq == 0 && hk == 1 && bq > bk) || (hq == 1 && hk == 1 && bq >= bk)
			}
			allow[i*s+j] = ok
		}
	}
	return allow, pos
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

// at returns the index of element k of the Q (which 0), K (1) or V (2) that
// query head h uses at token (bi, i) in qkv. Query head h shares the key and
// value head h/(nh/nkv) with the other heads of its group (repeat-interleave),
// so gradients that the reference adds at K and V indices sum over the group.
func (g attnGeom) at(bi, i, which, h, k int) int {
	nkv := g.kv()
	head := h
	switch which {
	case 1:
		head = g.nh + h/(g.nh/nkv)
	case 2:
		head = g.nh + nkv + h/(g.nh/nkv)
	}
	return ((bi*g.s+i)*(g.nh+2*nkv)+head)*g.d + k
}

// refAttention computes out and lse; a query that sees no key gets zeros and
// lse = +Inf.
func refAttention(qkv []float64, g attnGeom) (out, lse []float64) {
	out = make([]float64, g.b*g.s*g.nh*g.d)
	lse = make([]float64, g.b*g.nh*g.s)
	scores := make([]float64, g.s)
	for bi := range g.b {
		for h := range g.nh {
			for i := range g.s {
				m := math.Inf(-1)
				for j := range g.s {
					scores[j] = math.Inf(-1)
					if !g.visible(bi, i, j) {
						continue
					}
					s := 0.0
					for k := range g.d {
						s += qkv[g.at(bi, i, 0, h, k)] * qkv[g.at(bi, j, 1, h, k)]
					}
					scores[j] = s * g.scale
					m = math.Max(m, scores[j])
				}
				li := (bi*g.nh+h)*g.s + i
				if math.IsInf(m, -1) {
					lse[li] = math.Inf(1)
					continue
				}
				sum := 0.0
				for j := range g.s {
					sum += math.Exp(scores[j] - m)
				}
				lse[li] = m + math.Log(sum)
				for j := range g.s {
					p := math.Exp(scores[j]-m) / sum
					for k := range g.d {
						out[((bi*g.s+i)*g.nh+h)*g.d+k] += p * qkv[g.at(bi, j, 2, h, k)]
					}
				}
			}
		}
	}
	return out, lse
}

// refGather returns rows idx of a table with rows of length d. Rows whose
// index is skip come out as zeros: the embedding of a padding id, detached
// from the table for the gradient check.
func refGather(table []float64, idx []int, d, skip int) []float64 {
	out := make([]float64, len(idx)*d)
	for i, r := range idx {
		if r == skip {
			continue
		}
		copy(out[i*d:(i+1)*d], table[r*d:(r+1)*d])
	}
	return out
}

// refCrossEntropy returns the per-row losses and log-sum-exps; weights may be
// nil (all 1).
func refCrossEntropy(logits []float64, targets []int, weights []float64, v, ignore int) (loss, lse []float64) {
	n := len(targets)
	loss, lse = make([]float64, n), make([]float64, n)
	for i := range n {
		row := logits[i*v : (i+1)*v]
		m := math.Inf(-1)
		for _, x := range row {
			m = math.Max(m, x)
		}
		s := 0.0
		for _, x := range row {
			s += math.Exp(x - m)
		}
		lse[i] = m + math.Log(s)
		if targets[i] == ignore {
			continue
		}
		w := 1.0
		if weights != nil {
			w = weights[i]
		}
		loss[i] = w * (lse[i] - row[targets[i]])
	}
	return loss, lse
}

// refMatMul returns alpha·op(a)·op(b) + beta·c for one product: op(a) is
// m×k, op(b) is k×n, both stored row-major (transposed when asked).
func refMatMul(a, b, c []float64, m, n, k int, transA, transB bool, alpha, beta float64) []float64 {
	out := make([]float64, m*n)
	for i := range m {
		for j := range n {
			s := 0.0
			for p := range k {
				av := a[i*k+p]
				if transA {
					av = a[p*m+i]
				}
				bv := b[p*n+j]
				if transB {
					bv = b[j*k+p]
				}
				s += av * bv
			}
			out[i*n+j] = alpha * s
			if beta != 0 {
				out[i*n+j] += beta * c[i*n+j]
			}
		}
	}
	return out
}

// refAdamW is one AdamW step: decoupled weight decay, bias-corrected moments
// and eps outside the square root (PyTorch's torch.optim.AdamW).
func refAdamW(p, g, m, v []float64, lr, b1, b2, eps, wd float64, step int) (np, nm, nv []float64) {
	np, nm, nv = make([]float64, len(p)), make([]float64, len(p)), make([]float64, len(p))
	bc1 := 1 - math.Pow(b1, float64(step))
	bc2 := 1 - math.Pow(b2, float64(step))
	for i := range p {
		nm[i] = b1*m[i] + (1-b1)*g[i]
		nv[i] = b2*v[i] + (1-b2)*g[i]*g[i]
		mhat, vhat := nm[i]/bc1, nv[i]/bc2
		np[i] = p[i]*(1-lr*wd) - lr*mhat/(math.Sqrt(vhat)+eps)
	}
	return np, nm, nv
}

// refLayerNormBackward is the analytic gradient of refLayerNorm's y against
// x, gamma and beta for output gradient dy, used where finite differences
// would be too slow (the suite's own tests check it against them):
//
//	x̂ = (x − μ)·rstd,  g = dy ⊙ gamma,
//	dx = rstd·(g − mean(g) − x̂·mean(g ⊙ x̂)),  dgamma = Σ dy ⊙ x̂,  dbeta = Σ dy.
func refLayerNormBackward(dy, x, gamma []float64, d int, eps float64) (dx, dgamma, dbeta []float64) {
	_, mean, rstd := refLayerNorm(x, gamma, nil, d, eps)
	dx, dgamma, dbeta = make([]float64, len(x)), make([]float64, d), make([]float64, d)
	for r := range mean {
		var mg, mgx float64
		for j := range d {
			i := r*d + j
			xhat := (x[i] - mean[r]) * rstd[r]
			g := dy[i] * gamma[j]
			mg += g / float64(d)
			mgx += g * xhat / float64(d)
			dgamma[j] += dy[i] * xhat
			dbeta[j] += dy[i]
		}
		for j := range d {
			i := r*d + j
			xhat := (x[i] - mean[r]) * rstd[r]
			dx[i] = rstd[r] * (dy[i]*gamma[j] - mg - xhat*mgx)
		}
	}
	return dx, dgamma, dbeta
}

// refAttentionBackward is the analytic gradient of refAttention's out with
// respect to qkv for output gradient dout (checked against finite
// differences by this package's tests): per query, with p the attention
// probabilities, dp_j = dout·v_j and ds_j = p_j·(dp_j − Σ_l p_l·dp_l),
//
//	dv_j += p_j·dout,   dq += scale·Σ_j ds_j·k_j,   dk_j += scale·ds_j·q.
func refAttentionBackward(qkv, dout []float64, g attnGeom) []float64 {
	dqkv := make([]float64, len(qkv))
	p := make([]float64, g.s)
	dp := make([]float64, g.s)
	for bi := range g.b {
		for h := range g.nh {
			for i := range g.s {
				m := math.Inf(-1)
				for j := range g.s {
					p[j] = math.Inf(-1)
					if !g.visible(bi, i, j) {
						continue
					}
					s := 0.0
					for k := range g.d {
						s += qkv[g.at(bi, i, 0, h, k)] * qkv[g.at(bi, j, 1, h, k)]
					}
					p[j] = s * g.scale
					m = math.Max(m, p[j])
				}
				if math.IsInf(m, -1) {
					continue // no key: the output is a constant 0
				}
				sum := 0.0
				for j := range g.s {
					p[j] = math.Exp(p[j] - m)
					sum += p[j]
				}
				do := dout[((bi*g.s+i)*g.nh+h)*g.d:][:g.d]
				dsum := 0.0
				for j := range g.s {
					p[j] /= sum
					dp[j] = 0
					for k := range g.d {
						dp[j] += do[k] * qkv[g.at(bi, j, 2, h, k)]
					}
					dsum += p[j] * dp[j]
				}
				for j := range g.s {
					if p[j] == 0 {
						continue
					}
					ds := p[j] * (dp[j] - dsum) * g.scale
					for k := range g.d {
						dqkv[g.at(bi, j, 2, h, k)] += p[j] * do[k]
						dqkv[g.at(bi, i, 0, h, k)] += ds * qkv[g.at(bi, j, 1, h, k)]
						dqkv[g.at(bi, j, 1, h, k)] += ds * qkv[g.at(bi, i, 0, h, k)]
					}
				}
			}
		}
	}
	return dqkv
}

// refCrossEntropyBackward is backend.go's formula for the gradient of
// scale·Σ loss: scale·w[i]·(softmax(logits[i]) − onehot(t[i])), zero for
// ignored rows (checked against finite differences by this package's tests).
func refCrossEntropyBackward(logits []float64, targets []int, weights []float64, v, ignore int, scale float64) []float64 {
	g := refSoftmax(logits, v)
	for i, t := range targets {
		a := scale
		if weights != nil {
			a *= weights[i]
		}
		if t == ignore {
			a = 0
		}
		for j := range v {
			g[i*v+j] *= a
		}
		if t != ignore {
			g[i*v+t] -= a
		}
	}
	return g
}

// refRMSNorm normalises rows of length d by their root mean square and
// scales them by w + offset. It returns y and rstd = 1/√(mean(x²) + eps).
func refRMSNorm(x, w []float64, d int, eps, offset float64) (y, rstd []float64) {
	n := len(x) / d
	y, rstd = make([]float64, len(x)), make([]float64, n)
	for r := range n {
		row := x[r*d : (r+1)*d]
		ms := 0.0
		for _, v := range row {
			ms += v * v
		}
		ms /= float64(d)
		rstd[r] = 1 / math.Sqrt(ms+eps)
		for j, v := range row {
			y[r*d+j] = v * rstd[r] * (w[j] + offset)
		}
	}
	return y, rstd
}

// refRMSNormBackward is the analytic gradient of refRMSNorm's y against x
// and w for output gradient dy (checked against finite differences by this
// package's tests): with x̂ = x·rstd and g = dy ⊙ (w + offset), per row
//
//	dx = rstd·(g − x̂·mean(g ⊙ x̂)),   dw = Σ_rows dy ⊙ x̂.
func refRMSNormBackward(dy, x, w []float64, d int, eps, offset float64) (dx, dw []float64) {
	_, rstd := refRMSNorm(x, w, d, eps, offset)
	dx, dw = make([]float64, len(x)), make([]float64, d)
	for r, rs := range rstd {
		m := 0.0
		for j := range d {
			i := r*d + j
			m += dy[i] * (w[j] + offset) * x[i] * rs / float64(d)
			dw[j] += dy[i] * x[i] * rs
		}
		for j := range d {
			i := r*d + j
			dx[i] = rs * (dy[i]*(w[j]+offset) - x[i]*rs*m)
		}
	}
	return dx, dw
}

// refSiLU is z·σ(z) = z/(1 + e^(−z)).
func refSiLU(z float64) float64 { return z / (1 + math.Exp(-z)) }

// refSwiGLU maps rows [gate | up] of length 2·inner to silu(gate)·up.
func refSwiGLU(x []float64, inner int) []float64 {
	n := len(x) / (2 * inner)
	y := make([]float64, n*inner)
	for r := range n {
		for j := range inner {
			y[r*inner+j] = refSiLU(x[r*2*inner+j]) * x[r*2*inner+inner+j]
		}
	}
	return y
}
