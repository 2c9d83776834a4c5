package conformance

import (
	"fmt"

	"github.com/dllmgo/dllm/tensor"
)

func activationCases() []testCase {
	return []testCase{
		{"GELU", func(e *env) error {
			var trs []trial
			for _, shape := range elementwiseShapes {
				x := e.normal(2.5, shape...)
				trs = append(trs, trial{name: fmt.Sprint(shape), op: "GELU", run: func(b tensor.Backend) []*tensor.Tensor {
					d := poisoned(b, shape...)
					b.GELU(d, up(b, x.t))
					return []*tensor.Tensor{d}
				}, outs: []expect{{name: "dst", want: mapF(x.v, refGELU)}}})
			}
			// The tails: tiny negative outputs, and outputs that equal x.
			tails := fromF32([]float32{-12, -8, -5.5, -3, -1e-3, 1e-3, 3, 5.5, 8, 12}, 10)
			trs = append(trs, trial{name: "tails", op: "GELU", run: func(b tensor.Backend) []*tensor.Tensor {
				d := poisoned(b, 10)
				b.GELU(d, up(b, tails.t))
				return []*tensor.Tensor{d}
			}, outs: []expect{{name: "dst", want: mapF(tails.v, refGELU)}}})
			return e.collect(trs...)
		}},
		{"GELUBackward", func(e *env) error {
			var trs []trial
			for _, n := range []int{1, 97, 40001} {
				x, dy := e.normal(2.5, n), e.normal(1, n)
				// GELU is elementwise, so each element's finite difference
				// is taken on its own.
				want := make([]float64, n)
				for i := range want {
					want[i] = dy.v[i] * NumericalGradient(func(v []float64) float64 { return refGELU(v[0]) }, []float64{x.v[i]})[0]
				}
				d0 := e.seedGrad(want, n)
				trs = append(trs, trial{name: fmt.Sprint(n), op: "GELUBackward", run: func(b tensor.Backend) []*tensor.Tensor {
					dx := up(b, d0.t)
					b.GELUBackward(dx, up(b, x.t), up(b, dy.t))
					return []*tensor.Tensor{dx}
				}, outs: []expect{{name: "dx", want: plus(d0.v, want), base: d0.v}}})
			}
			return e.collect(trs...)
		}},
		{"GeGLU", func(e *env) error {
			var trs []trial
			for _, c := range [][2]int{{1, 1}, {9, 19}, {301, 384}} {
				n, inner := c[0], c[1]
				x := e.normal(2, n, 2*inner)
				trs = append(trs, trial{name: fmt.Sprintf("N=%d I=%d", n, inner), op: "GeGLU", run: func(b tensor.Backend) []*tensor.Tensor {
					y := poisoned(b, n, inner)
					b.GeGLU(y, up(b, x.t))
					return []*tensor.Tensor{y}
				}, outs: []expect{{name: "y", want: refGeGLU(x.v, inner)}}})
			}
			return e.collect(trs...)
		}},
		{"GeGLUBackward", func(e *env) error {
			var trs []trial
			for _, c := range [][2]int{{1, 1}, {7, 11}, {129, 384}} {
				n, inner := c[0], c[1]
				x, dy := e.normal(2, n, 2*inner), e.normal(1, n, inner)
				var want []float64
				if n*inner < 100 {
					// The general check: the gradient of Σ dy ⊙ GeGLU(x).
					want = NumericalGradient(projected(dy.v, func(v []float64) []float64 { return refGeGLU(v, inner) }), x.v)
				} else {
					// Large: y[r,j] depends only on u = x[r,j] and g = x[r,I+j],
					// so each element's difference quotient is taken alone.
					want = make([]float64, len(x.v))
					for r := range n {
						for j := range inner {
							iu, ig := r*2*inner+j, r*2*inner+inner+j
							u, g, d := x.v[iu], x.v[ig], dy.v[r*inner+j]
							want[iu] = d * g * NumericalGradient(func(v []float64) float64 { return refGELU(v[0]) }, []float64{u})[0]
							want[ig] = d * refGELU(u)
						}
					}
				}
				d0 := e.seedGrad(want, n, 2*inner)
				trs = append(trs, trial{name: fmt.Sprintf("N=%d I=%d", n, inner), op: "GeGLUBackward", run: func(b tensor.Backend) []*tensor.Tensor {
					dx := up(b, d0.t)
					b.GeGLUBackward(dx, up(b, x.t), up(b, dy.t))
					return []*tensor.Tensor{dx}
				}, outs: []expect{{name: "dx", want: plus(d0.v, want), base: d0.v}}})
			}
			return e.collect(trs...)
		}},
	}
}
