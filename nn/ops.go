package nn

import (
	"fmt"
	"slices"

	"github.com/dllmgo/dllm/tensor"
)

// Each op below computes its forward result with one backend call and records
// a backward step that calls the matching backward kernel. Backward kernels
// add into gradients, so a Var used twice (a residual stream) simply receives
// two contributions.

// Reshape returns a view of x with a new shape. Its gradient is a view of x's
// gradient, so no backward step is needed; the view is made when a backward
// step first writes into it, so that x's gradient is not allocated during the
// forward pass.
func (tp *Tape) Reshape(x *Var, shape ...int) *Var {
	out := &Var{Value: x.Value.Reshape(shape...)}
	if !tp.off && x.needGrad {
		out.needGrad = true
		out.base = x
	}
	return out
}

// Add returns a + b (same element count).
func (tp *Tape) Add(a, b *Var) *Var {
	out := tp.newVar(tensor.F32, a.Shape()...)
	tp.B.Add(out.Value, a.Value, b.Value)
	return tp.record(out, func() {
		// Each input's gradient gains out's. Where a has none yet it takes
		// out's buffer itself, which out's step frees otherwise (the sum is
		// a residual's: out.Grad is exactly what x's gradient starts as).
		if a.needGrad && a != b && a.Grad == nil && a.base == nil && slices.Equal(a.Shape(), out.Shape()) {
			a.Grad, out.Grad = out.Grad, nil
			if b.needGrad {
				b.addGrad(tp.B, a.Grad)
			}
			return
		}
		if a.needGrad {
			a.addGrad(tp.B, out.Grad)
		}
		if b.needGrad {
			b.addGrad(tp.B, out.Grad)
		}
	}, a, b)
}

// Mul returns a ⊙ b (same element count).
func (tp *Tape) Mul(a, b *Var) *Var {
	out := tp.newVar(tensor.F32, a.Shape()...)
	tp.B.Mul(out.Value, a.Value, b.Value)
	return tp.record(out, func() {
		tmp := tp.B.New(tensor.F32, a.Shape()...)
		if a.needGrad {
			tp.B.Mul(tmp, out.Grad, b.Value)
			tp.B.AXPY(a.grad(), tmp, 1)
		}
		if b.needGrad {
			tp.B.Mul(tmp, out.Grad, a.Value)
			tp.B.AXPY(b.grad(), tmp, 1)
		}
		tmp.Free()
	}, a, b)
}

// Scale returns s·x.
func (tp *Tape) Scale(x *Var, s float32) *Var {
	out := tp.newVar(tensor.F32, x.Shape()...)
	tp.B.Scale(out.Value, x.Value, s)
	return tp.record(out, func() { tp.B.AXPY(x.grad(), out.Grad, s) }, x)
}

// Linear returns x·wᵀ for x [N, in] and w [out, in] (PyTorch's layout), in
// the tape's Precision: F32, or bf16 operands with f32 accumulation (see
// linearBF16). It is the only matrix product of the ops, so the precision
// of a whole model is decided here. A BF16 w (weights kept in BF16 for
// inference) is read as it is: under F32 the product is x times the widened
// w, exactly (the CPU backend; the CUDA backend multiplies BF16 by BF16
// only, so it needs PrecisionBF16).
func (tp *Tape) Linear(x, w *Var) *Var {
	n, in := x.Value.Dim(0), x.Value.Dim(1)
	if x.Value.Rank() != 2 || w.Value.Rank() != 2 || w.Value.Dim(1) != in {
		panic(fmt.Sprintf("nn: Linear x %v, w %v", x.Shape(), w.Shape()))
	}
	out := tp.newVar(tensor.F32, n, w.Value.Dim(0))
	if tp.Precision == PrecisionBF16 {
		return tp.linearBF16(out, x, w)
	}
	tp.B.MatMul(out.Value, x.Value, w.Value, false, true, 1, 0) // beta 0: every element written
	return tp.record(out, func() {
		if x.needGrad { // dx += dy·w (written, beta 0, into a fresh dx)
			dx, fresh := x.freshGrad()
			beta := float32(1)
			if fresh {
				beta = 0
			}
			tp.B.MatMul(dx, out.Grad, w.Value, false, false, 1, beta)
		}
		if w.needGrad { // dw += dyᵀ·x
			tp.B.MatMul(w.grad(), out.Grad, x.Value, true, false, 1, 1)
		}
	}, x, w)
}

// AddBias returns x + b for x [N, D] and b [D].
func (tp *Tape) AddBias(x, b *Var) *Var {
	out := tp.newVar(tensor.F32, x.Shape()...)
	if ba, ok := tp.B.(tensor.BiasAdder); ok { // one pass, the same sums
		ba.AddRowVectorTo(out.Value, x.Value, b.Value)
	} else {
		tp.B.Copy(out.Value, x.Value)
		tp.B.AddRowVector(out.Value, b.Value)
	}
	return tp.record(out, func() {
		if x.needGrad {
			x.addGrad(tp.B, out.Grad)
		}
		if b.needGrad {
			tp.B.SumRows(b.grad(), out.Grad)
		}
	}, x, b)
}

// LinearBias returns x·wᵀ + b, AddBias(Linear(x, w), b). Under NoGrad the
// bias goes into the product in place (nothing else holds that fresh
// buffer): one buffer and one pass over it fewer, the same sums.
func (tp *Tape) LinearBias(x, w, b *Var) *Var {
	y := tp.Linear(x, w)
	if !tp.off {
		return tp.AddBias(y, b)
	}
	if ba, ok := tp.B.(tensor.BiasAdder); ok {
		ba.AddRowVectorTo(y.Value, y.Value, b.Value)
	} else {
		tp.B.AddRowVector(y.Value, b.Value)
	}
	return y
}

// GELU applies the exact (erf) GELU.
func (tp *Tape) GELU(x *Var) *Var {
	out := tp.newVar(tensor.F32, x.Shape()...)
	tp.B.GELU(out.Value, x.Value)
	return tp.record(out, func() { tp.B.GELUBackward(x.grad(), x.Value, out.Grad) }, x)
}

// GeGLU maps x [N, 2I] to GELU(x[:, :I]) ⊙ x[:, I:].
func (tp *Tape) GeGLU(x *Var) *Var {
	n, twoI := x.Value.Dim(0), x.Value.Dim(1)
	out := tp.newVar(tensor.F32, n, twoI/2)
	tp.B.GeGLU(out.Value, x.Value)
	return tp.record(out, func() {
		if w, ok := tp.B.(tensor.GradWriter); ok && x.Grad == nil && x.base == nil {
			dx, _ := x.freshGrad()
			w.GeGLUBackwardTo(dx, x.Value, out.Grad)
			return
		}
		tp.B.GeGLUBackward(x.grad(), x.Value, out.Grad)
	}, x)
}

// LayerNorm normalises the rows of x [N, D] with weight gamma [D] and
// optional bias beta (nil for ModernBERT, which has none).
func (tp *Tape) LayerNorm(x, gamma, beta *Var, eps float32) *Var {
	n := x.Value.Dim(0)
	out := tp.newVar(tensor.F32, x.Shape()...)
	var mean, rstd *tensor.Tensor
	if !tp.off {
		mean = tp.B.New(tensor.F32, n)
		rstd = tp.B.New(tensor.F32, n)
	}
	var betaV *tensor.Tensor
	if beta != nil {
		betaV = beta.Value
	}
	tp.B.LayerNorm(out.Value, mean, rstd, x.Value, gamma.Value, betaV, eps)
	return tp.record(out, func() {
		// The fused kernel writes all its outputs at once, so an input that
		// needs no gradient gets a throwaway buffer.
		var scratch []*tensor.Tensor
		gradOrScratch := func(v *Var) *tensor.Tensor {
			if v.needGrad {
				return v.grad()
			}
			t := tp.B.New(tensor.F32, v.Shape()...)
			scratch = append(scratch, t)
			return t
		}
		dx, dgamma := gradOrScratch(x), gradOrScratch(gamma)
		var dbeta *tensor.Tensor
		if beta != nil {
			dbeta = gradOrScratch(beta)
		}
		tp.B.LayerNormBackward(dx, dgamma, dbeta, out.Grad, x.Value, mean, rstd, gamma.Value)
		for _, t := range append(scratch, mean, rstd) {
			t.Free()
		}
	}, x, gamma, beta)
}

// SwiGLU maps x [N, 2I] to silu(x[:, :I]) ⊙ x[:, I:], the gated MLP of
// Llama-style models (gate first, then up, as a fused gate/up projection
// stores them).
func (tp *Tape) SwiGLU(x *Var) *Var {
	n, twoI := x.Value.Dim(0), x.Value.Dim(1)
	out := tp.newVar(tensor.F32, n, twoI/2)
	tp.B.SwiGLU(out.Value, x.Value)
	return tp.record(out, func() { tp.B.SwiGLUBackward(x.grad(), x.Value, out.Grad) }, x)
}

// RMSNorm normalises the last axis of x by its root mean square and scales
// it by w + p.WeightOffset (w has x's last dimension). x may have any rank:
// x [N, H, d] with w [d] is a per-head q/k norm. rstd is kept for the
// backward pass only when a gradient will be needed; w gets a gradient only
// if it needs one (the kernel skips dw otherwise).
func (tp *Tape) RMSNorm(x, w *Var, p tensor.RMSNormParams) *Var {
	out := tp.newVar(tensor.F32, x.Shape()...)
	var rstd *tensor.Tensor
	if !tp.off && (x.needGrad || w.needGrad) {
		rstd = tp.B.New(tensor.F32, x.Value.Numel()/x.Value.Dim(-1))
	}
	tp.B.RMSNorm(out.Value, rstd, x.Value, w.Value, p)
	return tp.record(out, func() {
		// dx is always written by the kernel; a throwaway buffer takes it
		// when x needs no gradient.
		var dx, dw *tensor.Tensor
		if x.needGrad {
			dx = x.grad()
		} else {
			dx = tp.B.New(tensor.F32, x.Shape()...)
			defer dx.Free()
		}
		if w.needGrad {
			dw = w.grad()
		}
		tp.B.RMSNormBackward(dx, dw, out.Grad, x.Value, rstd, w.Value, p)
		rstd.Free()
	}, x, w)
}

// Embedding looks up rows of table [V, D] for ids [N] (I32). The row padIdx
// receives no gradient (padIdx < 0: none), as PyTorch's padding_idx.
func (tp *Tape) Embedding(table *Var, ids *tensor.Tensor, padIdx int) *Var {
	out := tp.newVar(tensor.F32, ids.Numel(), table.Value.Dim(1))
	tp.B.Embedding(out.Value, table.Value, ids)
	return tp.record(out, func() { tp.B.EmbeddingBackward(table.grad(), ids, out.Grad, padIdx) }, table)
}

// GatherRows selects rows idx [M] (I32) of x [N, D].
func (tp *Tape) GatherRows(x *Var, idx *tensor.Tensor) *Var {
	out := tp.newVar(tensor.F32, idx.Numel(), x.Value.Dim(1))
	tp.B.GatherRows(out.Value, x.Value, idx)
	return tp.record(out, func() { tp.B.ScatterAddRows(x.grad(), out.Grad, idx) }, x)
}

// RoPE rotates the leading p.Heads heads of each row of x [rows, H, d] by
// the row's position pos [rows] (I32).
func (tp *Tape) RoPE(x *Var, pos *tensor.Tensor, p tensor.RoPEParams) *Var {
	out := tp.newVar(tensor.F32, x.Shape()...)
	tp.B.RoPE(out.Value, x.Value, pos, p)
	return tp.record(out, func() { tp.B.RoPEBackward(x.grad(), out.Grad, pos, p) }, x)
}

// Attention runs multi-head attention on a packed qkv [B, S, 3, nh, d] and
// returns [B, S, nh·d]. keyMask [B, S] (I32, 1 = real) may be nil. With
// grouped-query attention (p.KVHeads = nkv) qkv is [B, S, nh + 2·nkv, d]:
// the query heads, then the key heads, then the value heads.
func (tp *Tape) Attention(qkv *Var, keyMask *tensor.Tensor, p tensor.AttentionParams) *Var {
	s := qkv.Shape()
	mha := len(s) == 5 && s[2] == 3 && s[3] == p.Heads && p.KV() == p.Heads
	gqa := len(s) == 4 && p.Heads > 0 && p.KV() > 0 && s[2] == p.Heads+2*p.KV()
	if !mha && !gqa {
		panic(fmt.Sprintf("nn: Attention qkv %v with %d heads and %d KV heads", s, p.Heads, p.KV()))
	}
	bsz, seq, nh, d := s[0], s[1], p.Heads, s[len(s)-1]
	if tp.Precision == PrecisionBF16 {
		p.BF16 = true // a backend with bf16 attention kernels may use them
	}
	out := tp.newVar(tensor.F32, bsz, seq, nh*d)
	var lse *tensor.Tensor
	if !tp.off {
		lse = tp.B.New(tensor.F32, bsz, nh, seq)
	}
	tp.B.Attention(out.Value.Reshape(bsz, seq, nh, d), lse, qkv.Value, keyMask, p)
	return tp.record(out, func() {
		tp.B.AttentionBackward(qkv.grad(), out.Grad.Reshape(bsz, seq, nh, d), qkv.Value,
			out.Value.Reshape(bsz, seq, nh, d), lse, keyMask, p)
		lse.Free()
	}, qkv)
}

// CrossEntropy returns the scalar Σᵢ wᵢ·CE(logits[i], targets[i]) over rows
// of logits [N, V]; targets [N] (I32), weights [N] (F32, nil = 1). Rows whose
// target is ignoreIndex contribute nothing. Callers put the normalisation
// (1/number of tokens, 1/t, ...) into the weights.
func (tp *Tape) CrossEntropy(logits *Var, targets, weights *tensor.Tensor, ignoreIndex int32) *Var {
	n := logits.Value.Dim(0)
	rowLoss := tp.B.New(tensor.F32, n)
	lse := tp.B.New(tensor.F32, n)
	tp.B.CrossEntropy(rowLoss, lse, logits.Value, targets, weights, ignoreIndex)
	out := tp.newVar(tensor.F32, 1)
	tp.B.SumLastAxis(out.Value, rowLoss.Reshape(1, n))
	rowLoss.Free()
	return tp.record(out, func() {
		// The loss is a plain sum, so its gradient reaches every row with the
		// scalar upstream gradient; read it back once.
		g := out.Grad.ToCPU().F32()[0]
		if w, ok := tp.B.(tensor.GradWriter); ok && logits.Grad == nil && logits.base == nil {
			dl, _ := logits.freshGrad() // written whole: no zero fill, no read
			w.CrossEntropyBackwardTo(dl, logits.Value, lse, targets, weights, g, ignoreIndex)
		} else {
			tp.B.CrossEntropyBackward(logits.grad(), logits.Value, lse, targets, weights, g, ignoreIndex)
		}
		lse.Free()
	}, logits)
}

// Sum returns the scalar sum of all elements of x.
func (tp *Tape) Sum(x *Var) *Var {
	n := x.Value.Numel()
	out := tp.newVar(tensor.F32, 1)
	tp.B.SumLastAxis(out.Value, x.Value.Reshape(1, n))
	return tp.record(out, func() {
		ones := tp.B.New(tensor.F32, x.Shape()...)
		tp.B.Fill(ones, out.Grad.ToCPU().F32()[0])
		tp.B.AXPY(x.grad(), ones, 1)
		ones.Free()
	}, x)
}

// Stacked is ConcatRows without the copy, for parameters that were made as
// consecutive row ranges of one tensor: w [Σn_i, ...] is the stack, and
// parts are Vars whose values are the views w.Rows(0, n_0),
// w.Rows(n_0, n_0+n_1), ... in order (the caller's promise; their shapes
// are checked). The result's value is w itself; the backward pass hands
// each part its rows of the gradient. Backward never frees w.
func (tp *Tape) Stacked(w *tensor.Tensor, parts ...*Var) *Var {
	rows := 0
	for _, p := range parts {
		s := p.Shape()
		if len(s) != w.Rank() || !slices.Equal(s[1:], w.Shape()[1:]) {
			panic(fmt.Sprintf("nn: Stacked %v from a part %v", w.Shape(), s))
		}
		rows += s[0]
	}
	if rows != w.Dim(0) {
		panic(fmt.Sprintf("nn: Stacked %v from parts of %d rows in all", w.Shape(), rows))
	}
	out := &Var{Value: w, borrowed: true}
	return tp.record(out, func() {
		at := 0
		for _, p := range parts {
			n := p.Value.Dim(0)
			if p.needGrad {
				tp.B.AXPY(p.grad(), out.Grad.Rows(at, at+n), 1)
			}
			at += n
		}
	}, parts...)
}

// ConcatRows stacks xs along their first axis: tensors [n_i, ...] with the
// same trailing shape give [Σn_i, ...]. A block whose checkpoint stores
// q_proj, k_proj and v_proj apart stacks their weights into the one packed
// QKV projection with it; the backward pass hands each input its rows of
// the gradient.
func (tp *Tape) ConcatRows(xs ...*Var) *Var {
	if len(xs) == 0 {
		panic("nn: ConcatRows of nothing")
	}
	tail := xs[0].Shape()[1:]
	rows := 0
	for _, x := range xs {
		s := x.Shape()
		if len(s) != len(tail)+1 || !slices.Equal(s[1:], tail) {
			panic(fmt.Sprintf("nn: ConcatRows of %v and %v", xs[0].Shape(), s))
		}
		rows += s[0]
	}
	out := tp.newVar(tensor.F32, append([]int{rows}, tail...)...)
	at := 0
	for _, x := range xs {
		n := x.Value.Dim(0)
		tp.B.Copy(out.Value.Rows(at, at+n), x.Value)
		at += n
	}
	return tp.record(out, func() {
		at := 0
		for _, x := range xs {
			n := x.Value.Dim(0)
			if x.needGrad {
				tp.B.AXPY(x.grad(), out.Grad.Rows(at, at+n), 1)
			}
			at += n
		}
	}, xs...)
}
