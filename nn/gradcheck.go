package nn

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/dllmgo/dllm/tensor"
)

// GradCheck compares the gradients that the tape computes for f with central
// finite differences. f builds a forward pass from inputs (CPU F32 Leaf vars)
// and returns any output; the scalar being differentiated is a fixed random
// projection Σ rᵢ·outᵢ, so every output element takes part and a wrong
// gradient cannot cancel out.
//
// The finite differences run f's float32 forward with the projection
// accumulated in float64, so step must be large enough to rise above float32
// rounding (1e-2 for values of order one). It returns an error naming the
// first input whose gradient differs by more than tol, measured as
// max|analytic − numeric| / max|numeric| over the input.
func GradCheck(inputs []*Var, f func(tp *Tape) *Var, step, tol float64, seed uint64) error {
	cpu := tensor.CPU()
	rng := rand.New(rand.NewPCG(seed, 1))

	// Analytic gradients. Clear old ones first: backward steps add into them.
	for _, in := range inputs {
		in.Grad = nil
	}
	tp := NewTape(cpu)
	out := f(tp)
	r := make([]float32, out.Value.Numel())
	for i := range r {
		r[i] = float32(rng.NormFloat64())
	}
	proj := tp.Sum(tp.Mul(out, Constant(tensor.FromF32(r, out.Shape()...))))
	tp.Backward(proj)

	loss := func() float64 {
		o := f(NoGrad(cpu)).Value.ToCPU().F32()
		s := 0.0
		for i, v := range o {
			s += float64(r[i]) * float64(v)
		}
		return s
	}
	for k, in := range inputs {
		x := in.Value.F32()
		if in.Grad == nil {
			return fmt.Errorf("gradcheck: input %d got no gradient", k)
		}
		ana := in.Grad.ToCPU().F32()
		var maxErr, maxNum float64
		for i := range x {
			orig := x[i]
			x[i] = orig + float32(step)
			up := loss()
			x[i] = orig - float32(step)
			down := loss()
			x[i] = orig
			// Divide by the step actually taken after float32 rounding.
			h := float64(orig+float32(step)) - float64(orig-float32(step))
			num := (up - down) / h
			maxErr = math.Max(maxErr, math.Abs(num-float64(ana[i])))
			maxNum = math.Max(maxNum, math.Abs(num))
		}
		if maxNum == 0 {
			maxNum = 1
		}
		if rel := maxErr / maxNum; rel > tol || math.IsNaN(rel) {
			return fmt.Errorf("gradcheck: input %d %v: relative error %.3g > %.3g", k, in.Shape(), rel, tol)
		}
	}
	return nil
}
