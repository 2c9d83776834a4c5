package conformance

import (
	"fmt"

	"github.com/dllmgo/dllm/tensor"
)

// swigluShapes are (N, I) pairs: odd widths for the scalar GPU path, widths
// divisible by 4 for the float4 one.
var swigluShapes = [][2]int{{1, 1}, {9, 19}, {5, 8}, {301, 384}}

// swigluTails is a row whose gates reach the ends of the sigmoid, where
// e^(−z) overflows (z ≪ 0: silu → −0) or vanishes (z ≫ 0: silu → z).
func swigluTails() host {
	gate := []float32{-90, -40, -17, -5, -1e-3, 1e-3, 5, 17, 40, 90}
	up := []float32{1.5, -2, 0.75, 3, -1, 2, -0.5, 1.25, -3, 0.5}
	return fromF32(append(gate, up...), 1, 2*len(gate))
}

func swigluCases() []testCase {
	return []testCase{
		{"SwiGLU", func(e *env) error {
			var trs []trial
			run := func(name string, x host, n, inner int) {
				trs = append(trs, trial{name: name, op: "SwiGLU", run: func(b tensor.Backend) []*tensor.Tensor {
					y := poisoned(b, n, inner)
					b.SwiGLU(y, up(b, x.t))
					return []*tensor.Tensor{y}
				}, outs: []expect{{name: "y", want: refSwiGLU(x.v, inner)}}})
			}
			for _, c := range swigluShapes {
				n, inner := c[0], c[1]
				run(fmt.Sprintf("N=%d I=%d", n, inner), e.normal(2, n, 2*inner), n, inner)
			}
			run("tails", swigluTails(), 1, 10)
			return e.collect(trs...)
		}},
		{"SwiGLUBackward", func(e *env) error {
			var trs []trial
			check := func(name string, x, dy host, n, inner int) {
				var want []float64
				if n*inner < 100 {
					// The general check: the gradient of Σ dy ⊙ SwiGLU(x).
					want = NumericalGradient(projected(dy.v, func(v []float64) []float64 { return refSwiGLU(v, inner) }), x.v)
				} else {
					// Large: y[r,j] depends only on gate = x[r,j] and
					// up = x[r,I+j], so each element's difference quotient is
					// taken alone.
					want = make([]float64, len(x.v))
					for r := range n {
						for j := range inner {
							ig, iu := r*2*inner+j, r*2*inner+inner+j
							g, u, d := x.v[ig], x.v[iu], dy.v[r*inner+j]
							want[ig] = d * u * NumericalGradient(func(v []float64) float64 { return refSiLU(v[0]) }, []float64{g})[0]
							want[iu] = d * refSiLU(g)
						}
					}
				}
				d0 := e.seedGrad(want, n, 2*inner)
				trs = append(trs, trial{name: name, op: "SwiGLUBackward", run: func(b tensor.Backend) []*tensor.Tensor {
					dx := up(b, d0.t)
					b.SwiGLUBackward(dx, up(b, x.t), up(b, dy.t))
					return []*tensor.Tensor{dx}
				}, outs: []expect{{name: "dx", want: plus(d0.v, want), base: d0.v}}})
			}
			for _, c := range [][2]int{{1, 1}, {7, 11}, {3, 8}, {129, 384}} {
				n, inner := c[0], c[1]
				check(fmt.Sprintf("N=%d I=%d", n, inner), e.normal(2, n, 2*inner), e.normal(1, n, inner), n, inner)
			}
			check("tails", swigluTails(), e.normal(1, 1, 10), 1, 10)
			return e.collect(trs...)
		}},
	}
}
