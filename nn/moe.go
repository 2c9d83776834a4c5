package nn

import (
	"fmt"

	"github.com/dllmgo/dllm/tensor"
)

// Softmax returns the softmax over the last axis of x [N, E] (a router's
// probabilities). Its backward is dx = y ⊙ (dy − Σ_j y_j·dy_j), the row sums
// broadcast by a product with a matrix of ones, so that it runs on any
// backend with the ops every backend has.
func (tp *Tape) Softmax(x *Var) *Var {
	if x.Value.Rank() != 2 {
		panic(fmt.Sprintf("nn: Softmax of %v, want [N, E]", x.Shape()))
	}
	out := tp.newVar(tensor.F32, x.Shape()...)
	tp.B.Softmax(out.Value, x.Value)
	return tp.record(out, func() {
		if out.Grad == nil { // the output fed nothing that was differentiated
			return
		}
		n, e := x.Value.Dim(0), x.Value.Dim(1)
		t := tp.B.New(tensor.F32, n, e)
		tp.B.Mul(t, out.Value, out.Grad) // y ⊙ dy
		ones := tp.B.New(tensor.F32, e, e)
		tp.B.Fill(ones, 1)
		s := tp.B.New(tensor.F32, n, e)
		tp.B.MatMul(s, t, ones, false, false, 1, 0) // every column: Σ_j y_j·dy_j
		ys := tp.B.New(tensor.F32, n, e)
		tp.B.Mul(ys, s, out.Value)
		tp.B.AXPY(x.grad(), t, 1)
		tp.B.AXPY(x.grad(), ys, -1)
		for _, u := range []*tensor.Tensor{t, ones, s, ys} {
			u.Free()
		}
	}, x)
}

// ScatterAddRows returns the [n, D] sum of x's rows [M, D] into rows idx [M]
// (I32, each in [0, n)): row r of the output is Σ_{m: idx[m]=r} x[m]. It is
// GatherRows's transpose; a mixture of experts combines its experts' rows
// with it.
func (tp *Tape) ScatterAddRows(x *Var, idx *tensor.Tensor, n int) *Var {
	if x.Value.Rank() != 2 || idx.Numel() != x.Value.Dim(0) {
		panic(fmt.Sprintf("nn: ScatterAddRows of %v by %d indices", x.Shape(), idx.Numel()))
	}
	out := tp.newVar(tensor.F32, n, x.Value.Dim(1))
	tp.B.Fill(out.Value, 0)
	tp.B.ScatterAddRows(out.Value, x.Value, idx)
	return tp.record(out, func() {
		if !x.needGrad || out.Grad == nil {
			return
		}
		g := tp.B.New(tensor.F32, x.Shape()...)
		tp.B.GatherRows(g, out.Grad, idx)
		tp.B.AXPY(x.grad(), g, 1)
		g.Free()
	}, x)
}
