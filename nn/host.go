package nn

import "github.com/dllmgo/dllm/tensor"

// HostScalar records a scalar function of x evaluated on the host: f reads
// x's values and returns f(x) and ∂f/∂x (x's length), both in float64. It
// is for small pieces of a loss that have no backend op of their own (a
// softplus, a clamped logarithm over a few hundred values), where copying x
// to the host costs less than it would to write kernels for them.
func (tp *Tape) HostScalar(x *Var, f func(x []float32) (value float64, grad []float64)) *Var {
	v, g := f(x.Value.ToCPU().F32())
	out := tp.newVar(tensor.F32, 1)
	tp.B.Fill(out.Value, float32(v))
	return tp.record(out, func() {
		up := float64(out.Grad.ToCPU().F32()[0])
		gs := make([]float32, len(g))
		for i, d := range g {
			gs[i] = float32(d * up)
		}
		gt := tp.B.FromHost(tensor.FromF32(gs, x.Shape()...))
		tp.B.AXPY(x.grad(), gt, 1)
		gt.Free()
	}, x)
}
