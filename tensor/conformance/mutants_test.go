package conformance

import (
	"math"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/dllmgo/dllm/tensor"
)

// Each mutant is the CPU backend with one plausible bug; the suite must
// catch every one, which shows that its checks can fail.
type mutant struct {
	tensor.Backend
	bug string
}

var cpu = tensor.CPU()

func (m mutant) AXPY(dst, src *tensor.Tensor, s float32) {
	if m.bug == "AXPY overwrites" {
		cpu.Scale(dst, src, s)
		return
	}
	cpu.AXPY(dst, src, s)
}

func (m mutant) GELU(dst, src *tensor.Tensor) {
	if m.bug == "GELU tanh approximation" {
		y, x := dst.F32(), src.F32()
		for i, v := range x {
			u := float64(v)
			y[i] = float32(0.5 * u * (1 + math.Tanh(math.Sqrt(2/math.Pi)*(u+0.044715*u*u*u))))
		}
		return
	}
	cpu.GELU(dst, src)
}

func (m mutant) SumSquares(xs ...*tensor.Tensor) float64 {
	if m.bug == "SumSquares sums the first tensor only" && len(xs) > 1 {
		return cpu.SumSquares(xs[0])
	}
	return cpu.SumSquares(xs...)
}

func (m mutant) Softmax(dst, src *tensor.Tensor) {
	if m.bug == "Softmax skips the last row" {
		n := src.Dim(0)
		if n > 1 {
			cpu.Softmax(dst.Rows(0, n-1), src.Rows(0, n-1))
			return
		}
	}
	cpu.Softmax(dst, src)
}

func (m mutant) layerNorm(y, mean, rstd, x, gamma, beta *tensor.Tensor, eps float32) {
	if m.bug == "LayerNorm eps 1e-3" {
		eps = 1e-3
	}
	cpu.LayerNorm(y, mean, rstd, x, gamma, beta, eps)
}

func (m mutant) LayerNormBackward(dx, dgamma, dbeta, dy, x, mean, rstd, gamma *tensor.Tensor) {
	if m.bug == "LayerNormBackward drops dbeta" {
		dbeta = nil
	}
	cpu.LayerNormBackward(dx, dgamma, dbeta, dy, x, mean, rstd, gamma)
}

func (m mutant) GeGLU(y, x *tensor.Tensor) {
	if m.bug == "GeGLU activates the second half" {
		n, i2 := x.Dim(0), x.Dim(1)
		sw := cpu.New(tensor.F32, n, i2)
		xs, ss := x.F32(), sw.F32()
		for r := range n {
			copy(ss[r*i2:], xs[r*i2+i2/2:(r+1)*i2])
			copy(ss[r*i2+i2/2:], xs[r*i2:r*i2+i2/2])
		}
		x = sw
	}
	cpu.GeGLU(y, x)
}

func (m mutant) RMSNorm(y, rstd, x, w *tensor.Tensor, p tensor.RMSNormParams) {
	switch m.bug {
	case "RMSNorm ignores the weight offset":
		p.WeightOffset = 0
	case "RMSNorm normalises whole rows of heads":
		// The per-head bug: x [N, H, d] normalised over each of the N rows
		// of H·d values instead of over each head.
		if x.Rank() == 3 {
			n, d := x.Dim(0), x.Dim(-1)
			width := x.Numel() / n
			xs, ys, ws := x.F32(), y.F32(), w.F32()
			for r := range n {
				ss := 0.0
				for _, v := range xs[r*width : (r+1)*width] {
					ss += float64(v) * float64(v)
				}
				inv := 1 / math.Sqrt(ss/float64(width)+float64(p.Eps))
				for j := range width {
					ys[r*width+j] = float32(float64(xs[r*width+j]) * inv * (float64(ws[j%d]) + float64(p.WeightOffset)))
				}
				if rstd != nil {
					for h := range width / d {
						rstd.F32()[r*(width/d)+h] = float32(inv)
					}
				}
			}
			return
		}
	}
	cpu.RMSNorm(y, rstd, x, w, p)
}

func (m mutant) RMSNormBackward(dx, dw, dy, x, rstd, w *tensor.Tensor, p tensor.RMSNormParams) {
	if m.bug == "RMSNormBackward treats rstd as a constant" {
		// dx += rstd·dy·(w + offset), missing −rstd·x̂·mean(g ⊙ x̂); dw is right.
		if dw != nil {
			cpu.RMSNormBackward(cpu.New(tensor.F32, dx.Shape()...), dw, dy, x, rstd, w, p)
		}
		d := x.Dim(-1)
		dxs, dys, ws, rs := dx.F32(), dy.F32(), w.F32(), rstd.F32()
		for i := range dxs {
			dxs[i] += rs[i/d] * dys[i] * (ws[i%d] + p.WeightOffset)
		}
		return
	}
	cpu.RMSNormBackward(dx, dw, dy, x, rstd, w, p)
}

func (m mutant) SwiGLU(y, x *tensor.Tensor) {
	if m.bug == "SwiGLU activates the second half" {
		n, i2 := x.Dim(0), x.Dim(1)
		sw := cpu.New(tensor.F32, n, i2)
		xs, ss := x.F32(), sw.F32()
		for r := range n {
			copy(ss[r*i2:], xs[r*i2+i2/2:(r+1)*i2])
			copy(ss[r*i2+i2/2:], xs[r*i2:r*i2+i2/2])
		}
		x = sw
	}
	cpu.SwiGLU(y, x)
}

func (m mutant) SwiGLUBackward(dx, x, dy *tensor.Tensor) {
	if m.bug == "SwiGLUBackward takes σ for silu'" {
		// silu'(z) = σ(z)·(1 + z·(1 − σ(z))), not σ(z): the classic slip.
		inner := x.Dim(-1) / 2
		xs, dxs, dys := x.F32(), dx.F32(), dy.F32()
		for i, d := range dys {
			r, j := i/inner, i%inner
			z, u := float64(xs[r*2*inner+j]), float64(xs[r*2*inner+inner+j])
			sg := 1 / (1 + math.Exp(-z))
			dxs[r*2*inner+j] += float32(float64(d) * u * sg)
			dxs[r*2*inner+inner+j] += float32(float64(d) * z * sg)
		}
		return
	}
	cpu.SwiGLUBackward(dx, x, dy)
}

func (m mutant) RoPE(dst, src, pos *tensor.Tensor, p tensor.RoPEParams) {
	switch m.bug {
	case "RoPE ignores Llama3 scaling":
		p.Llama3 = tensor.RoPELlama3{}
	case "RoPE ignores the positions":
		// Row r at position r mod 7, what the "ordered" cases use: only
		// positions that are not consecutive per sequence tell.
		ps := cpu.New(tensor.I32, pos.Numel())
		for r := range ps.I32() {
			ps.I32()[r] = int32(r % 7)
		}
		pos = ps
	case "RoPE partial rotary pairs k with k+d/2":
		// The whole head's rotate-half pairs, with the frequencies of the
		// rotary size: features past RotaryDim move.
		if r := p.RotaryDim; r != 0 && r < src.Dim(-1) {
			d := src.Dim(-1)
			q := p
			q.RotaryDim = 0
			cpu.RoPE(dst, src, pos, q)
			// Rotation by the right angles (those of r) but across the
			// whole head: recompute φ for k < r/2 only, pass the rest.
			inv := p.InvFreq(d)
			x, y := src.F32(), dst.F32()
			heads, rot := src.Dim(-2), p.Heads
			if rot == 0 {
				rot = heads
			}
			for row, ps := range pos.I32() {
				for h := range rot {
					for k := range d / 2 {
						i := (row*heads+h)*d + k
						a, b := float64(x[i]), float64(x[i+d/2])
						c, sn := 1.0, 0.0
						if k < r/2 {
							phi := float64(float32(ps) * inv[k])
							c, sn = math.Cos(phi), math.Sin(phi)
						}
						y[i], y[i+d/2] = float32(a*c-b*sn), float32(b*c+a*sn)
					}
				}
			}
			return
		}
	}
	if m.bug == "RoPE angle in float64" {
		// Exact angles instead of Hugging Face's float32 ones: only the
		// large positions tell.
		d := src.Dim(-1)
		heads := src.Dim(-2)
		rot := p.Heads
		if rot == 0 {
			rot = heads
		}
		x, y := src.F32(), dst.F32()
		copy(y, x)
		for r, ps := range pos.I32() {
			for h := range rot {
				for k := range d / 2 {
					phi := float64(ps) * math.Pow(p.Theta, -2*float64(k)/float64(d))
					c, s := math.Cos(phi), math.Sin(phi)
					i := (r*heads+h)*d + k
					a, b := float64(x[i]), float64(x[i+d/2])
					y[i], y[i+d/2] = float32(a*c-b*s), float32(b*c+a*s)
				}
			}
		}
		return
	}
	cpu.RoPE(dst, src, pos, p)
}

func (m mutant) RoPEBackward(dsrc, dy, pos *tensor.Tensor, p tensor.RoPEParams) {
	if m.bug == "RoPEBackward rotates forward" {
		tmp := cpu.New(tensor.F32, dy.Shape()...)
		cpu.RoPE(tmp, dy, pos, p)
		cpu.AXPY(dsrc, tmp, 1)
		return
	}
	cpu.RoPEBackward(dsrc, dy, pos, p)
}

// expandKV copies a grouped qkv [B, S, nh + 2·nkv, d] into a multi-head
// [B, S, 3, nh, d] in which query head h gets KV head kvOf(h).
func expandKV(qkv *tensor.Tensor, p tensor.AttentionParams, kvOf func(h int) int) *tensor.Tensor {
	b, s, nh, nkv := qkv.Dim(0), qkv.Dim(1), p.Heads, p.KV()
	d := qkv.Numel() / (b * s * (nh + 2*nkv))
	wide := cpu.New(tensor.F32, b, s, 3, nh, d)
	x, w := qkv.F32(), wide.F32()
	for tok := range b * s {
		head := func(i int) []float32 { return x[(tok*(nh+2*nkv)+i)*d:][:d] }
		for h := range nh {
			copy(w[((tok*3+0)*nh+h)*d:], head(h))
			copy(w[((tok*3+1)*nh+h)*d:], head(nh+kvOf(h)))
			copy(w[((tok*3+2)*nh+h)*d:], head(nh+nkv+kvOf(h)))
		}
	}
	return wide
}

func (m mutant) Attention(out, lse, qkv, keyMask *tensor.Tensor, p tensor.AttentionParams) {
	switch m.bug {
	case "Attention tiles the KV heads instead of interleaving them":
		if nkv := p.KV(); nkv != p.Heads {
			// repeat instead of repeat_interleave: query head h gets KV head h mod nkv
			cpu.Attention(out, lse, expandKV(qkv, p, func(h int) int { return h % nkv }), keyMask,
				tensor.AttentionParams{Heads: p.Heads, Scale: p.Scale, Window: p.Window})
			return
		}
	case "Attention window off by one":
		if p.Window > 0 {
			p.Window += 2
		}
	case "Attention ignores the key mask":
		keyMask = nil
	case "Attention ignores the block pattern":
		p.Blocks = tensor.BlockPattern{}
	case "Attention block-causal over both halves":
		p.Blocks.Half = 0
	case "Attention blocks one token too long":
		if p.Blocks.Size > 0 {
			p.Blocks.Size++
		}
	}
	cpu.Attention(out, lse, qkv, keyMask, p)
}

func (m mutant) AttentionBackward(dqkv, dout, qkv, out, lse, keyMask *tensor.Tensor, p tensor.AttentionParams) {
	if m.bug == "AttentionBackward overwrites" {
		cpu.Fill(dqkv, 0)
	}
	if m.bug == "AttentionBackward ignores the block pattern" {
		p.Blocks = tensor.BlockPattern{}
	}
	if nkv := p.KV(); m.bug == "AttentionBackward keeps one query head's dK, dV per group" && nkv != p.Heads {
		// Right forward, but each shared K and V gets the gradient of the
		// last query head of its group instead of the group's sum.
		group := p.Heads / nkv
		wide := expandKV(qkv, p, func(h int) int { return h / group })
		dwide := cpu.New(tensor.F32, wide.Shape()...)
		cpu.Fill(dwide, 0)
		mha := tensor.AttentionParams{Heads: p.Heads, Scale: p.Scale, Window: p.Window}
		cpu.AttentionBackward(dwide, dout, wide, out, lse, keyMask, mha)
		b, s, nh, d := qkv.Dim(0), qkv.Dim(1), p.Heads, wide.Dim(4)
		dx, dw := dqkv.F32(), dwide.F32()
		for tok := range b * s {
			for h := range nh {
				for k := range d {
					dx[(tok*(nh+2*nkv)+h)*d+k] += dw[((tok*3+0)*nh+h)*d+k]
					if h%group == group-1 {
						dx[(tok*(nh+2*nkv)+nh+h/group)*d+k] += dw[((tok*3+1)*nh+h)*d+k]
						dx[(tok*(nh+2*nkv)+nh+nkv+h/group)*d+k] += dw[((tok*3+2)*nh+h)*d+k]
					}
				}
			}
		}
		return
	}
	cpu.AttentionBackward(dqkv, dout, qkv, out, lse, keyMask, p)
}

func (m mutant) EmbeddingBackward(dtable, ids, dy *tensor.Tensor, padIdx int) {
	if m.bug == "EmbeddingBackward updates the padding row" {
		padIdx = -1
	}
	cpu.EmbeddingBackward(dtable, ids, dy, padIdx)
}

func (m mutant) CrossEntropy(loss, lse, logits, targets, weights *tensor.Tensor, ignoreIndex int32) {
	if m.bug == "CrossEntropy ignores weights" {
		weights = nil
	}
	cpu.CrossEntropy(loss, lse, logits, targets, weights, ignoreIndex)
}

func (m mutant) CrossEntropyBackward(dlogits, logits, lse, targets, weights *tensor.Tensor, scale float32, ignoreIndex int32) {
	if m.bug == "CrossEntropyBackward ignores the ignore index" {
		ignoreIndex = math.MinInt32
		t := cpu.New(tensor.I32, targets.Numel())
		for i, v := range targets.I32() {
			t.I32()[i] = max(v, 0) // -100 becomes class 0
		}
		targets = t
	}
	cpu.CrossEntropyBackward(dlogits, logits, lse, targets, weights, scale, ignoreIndex)
}

func (m mutant) MatMul(c, a, b *tensor.Tensor, transA, transB bool, alpha, beta float32) {
	if m.bug == "MatMul ignores beta" {
		beta = 0
	}
	cpu.MatMul(c, a, b, transA, transB, alpha, beta)
}

func (m mutant) AdamW(param, grad, mm, v *tensor.Tensor, p tensor.AdamWParams) {
	if m.bug == "AdamW eps inside the square root" {
		p.Eps = p.Eps * p.Eps
	}
	if m.bug == "AdamW skips its contract" && p.Step < 1 {
		return
	}
	cpu.AdamW(param, grad, mm, v, p)
}

func (m mutant) Cast(dst, src *tensor.Tensor) {
	if m.bug == "Cast truncates to BF16" && src.DType() == tensor.F32 && dst.DType() == tensor.BF16 {
		for i, f := range src.F32() {
			dst.BF16Bits()[i] = uint16(math.Float32bits(f) >> 16)
		}
		return
	}
	cpu.Cast(dst, src)
}

func (m mutant) Add(dst, a, b *tensor.Tensor) {
	if m.bug == "Add checks in its own words" && (dst.Numel() != a.Numel() || a.Numel() != b.Numel()) {
		panic("mutant: Add: sizes differ")
	}
	cpu.Add(dst, a, b)
}

func (m mutant) LayerNorm(y, mean, rstd, x, gamma, beta *tensor.Tensor, eps float32) {
	if m.bug == "LayerNorm requires beta" && beta == nil {
		panic("tensor: LayerNorm: needs beta")
	}
	m.layerNorm(y, mean, rstd, x, gamma, beta, eps)
}

// TestContractsCatchBugs: RunContracts notices a backend that skips a
// contract, refuses with its own check instead, or refuses valid operands.
func TestContractsCatchBugs(t *testing.T) {
	for _, c := range []struct{ bug, op string }{
		{"AdamW skips its contract", "AdamW"},
		{"Add checks in its own words", "Add"},
		{"LayerNorm requires beta", "LayerNorm"},
	} {
		t.Run(c.bug, func(t *testing.T) {
			found := false
			for _, cc := range contractCases(mutant{cpu, c.bug}) {
				if cc.op == c.op {
					found = true
					assert.NotEmpty(t, cc.failures(), "RunContracts did not notice: %s", c.bug)
				}
			}
			assert.True(t, found, "no contract case %s", c.op)
		})
	}
}

func TestSuiteCatchesBugs(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the whole suite on each mutant backend (about 10 s): runs without -short (make test)")
	}
	for _, c := range []struct{ bug, cases string }{
		{"AXPY overwrites", "AXPY"},
		{"GELU tanh approximation", "GELU"},
		{"Softmax skips the last row", "Softmax"},
		{"SumSquares sums the first tensor only", "SumSquares"},
		{"LayerNorm eps 1e-3", "LayerNorm"},
		{"LayerNormBackward drops dbeta", "LayerNormBackward"},
		{"GeGLU activates the second half", "GeGLU"},
		{"RMSNorm ignores the weight offset", "RMSNorm"},
		{"RMSNorm normalises whole rows of heads", "RMSNorm"},
		{"RMSNormBackward treats rstd as a constant", "RMSNormBackward"},
		{"SwiGLU activates the second half", "SwiGLU"},
		{"SwiGLUBackward takes σ for silu'", "SwiGLUBackward"},
		{"RoPE angle in float64", "RoPE"},
		{"RoPEBackward rotates forward", "RoPEBackward"},
		{"RoPE ignores Llama3 scaling", "RoPE"},
		{"RoPE ignores the positions", "RoPE"},
		{"RoPE partial rotary pairs k with k+d/2", "RoPE"},
		{"Attention window off by one", "Attention"},
		{"Attention ignores the key mask", "Attention"},
		{"AttentionBackward overwrites", "AttentionBackward"},
		{"Attention ignores the block pattern", "Attention"},
		{"Attention block-causal over both halves", "Attention"},
		{"Attention blocks one token too long", "Attention"},
		{"AttentionBackward ignores the block pattern", "AttentionBackward"},
		{"Attention tiles the KV heads instead of interleaving them", "Attention"},
		{"AttentionBackward keeps one query head's dK, dV per group", "AttentionBackward"},
		{"EmbeddingBackward updates the padding row", "EmbeddingBackward"},
		{"CrossEntropy ignores weights", "CrossEntropy"},
		{"CrossEntropyBackward ignores the ignore index", "CrossEntropyBackward"},
		{"MatMul ignores beta", "MatMul"},
		{"MatMul ignores beta", "MatMulBF16"},
		{"AdamW eps inside the square root", "AdamW"},
		{"Cast truncates to BF16", "Cast/F32toBF16"},
	} {
		t.Run(c.bug, func(t *testing.T) {
			assert.NotEmpty(t, runNamed(mutant{cpu, c.bug}, c.cases), "the suite did not notice: %s", c.bug)
		})
	}
}
