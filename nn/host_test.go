package nn

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dllmgo/dllm/tensor"
)

// A host function's value and gradient join the tape like any op's: here
// Σ sin(xᵢ)·i after a product, so the gradient must pass through both.
func TestHostScalar(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	a, b := randLeaf(rng, 2, 3), randLeaf(rng, 2, 3)
	f := func(x []float32) (float64, []float64) {
		v, g := 0.0, make([]float64, len(x))
		for i, xi := range x {
			v += math.Sin(float64(xi)) * float64(i+1)
			g[i] = math.Cos(float64(xi)) * float64(i+1)
		}
		return v, g
	}
	out := NoGrad(tensor.CPU()).HostScalar(a, f)
	want, _ := f(a.Value.F32())
	require.InDelta(t, want, float64(out.Value.F32()[0]), 1e-5)
	require.NoError(t, GradCheck([]*Var{a, b}, func(tp *Tape) *Var { return tp.HostScalar(tp.Mul(a, b), f) }, 1e-2, 1e-2, 3))
}
