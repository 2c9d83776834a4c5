package conformance

import (
	"fmt"

	"github.com/dllmgo/dllm/tensor"
)

// shapes for elementwise ops: a single element, an odd matrix, and one large
// enough to be split across goroutines or thread blocks.
var elementwiseShapes = [][]int{{1}, {7, 13}, {5, 7001}}

func elementwiseCases() []testCase {
	return []testCase{
		{"Add", func(e *env) error {
			return e.binary("Add", tensor.Backend.Add, func(x, y float64) float64 { return x + y })
		}},
		{"Sub", func(e *env) error {
			return e.binary("Sub", tensor.Backend.Sub, func(x, y float64) float64 { return x - y })
		}},
		{"Mul", func(e *env) error {
			return e.binary("Mul", tensor.Backend.Mul, func(x, y float64) float64 { return x * y })
		}},
		{"Scale", func(e *env) error {
			var trs []trial
			for _, shape := range elementwiseShapes {
				x := e.normal(1, shape...)
				trs = append(trs, trial{name: fmt.Sprint(shape), op: "Scale", run: func(b tensor.Backend) []*tensor.Tensor {
					d := poisoned(b, shape...)
					b.Scale(d, up(b, x.t), -1.75)
					return []*tensor.Tensor{d}
				}, outs: []expect{{name: "dst", want: mapF(x.v, func(v float64) float64 { return -1.75 * v })}}})
			}
			x := e.normal(1, 9, 4)
			trs = append(trs, trial{name: "in place", op: "Scale", run: func(b tensor.Backend) []*tensor.Tensor {
				d := up(b, x.t)
				b.Scale(d, d, 0.3)
				return []*tensor.Tensor{d}
			}, outs: []expect{{name: "dst", want: mapF(x.v, func(v float64) float64 { return float64(float32(0.3)) * v })}}})
			return e.collect(trs...)
		}},
		{"AXPY", func(e *env) error {
			var trs []trial
			for _, shape := range elementwiseShapes {
				x, d0 := e.normal(1, shape...), e.normal(1, shape...)
				s := float32(0.625)
				want := make([]float64, len(x.v))
				for i := range want {
					want[i] = d0.v[i] + float64(s)*x.v[i]
				}
				trs = append(trs, trial{name: fmt.Sprint(shape), op: "AXPY", run: func(b tensor.Backend) []*tensor.Tensor {
					d := up(b, d0.t)
					b.AXPY(d, up(b, x.t), s)
					return []*tensor.Tensor{d}
				}, outs: []expect{{name: "dst", want: want, base: d0.v}}})
			}
			return e.collect(trs...)
		}},
		{"AddRowVector", func(e *env) error {
			var trs []trial
			for _, shape := range [][]int{{1, 1}, {9, 17}, {3, 5, 2003}} {
				d := shape[len(shape)-1]
				x, v := e.normal(1, shape...), e.normal(1, d)
				want := make([]float64, len(x.v))
				for i := range want {
					want[i] = x.v[i] + v.v[i%d]
				}
				trs = append(trs, trial{name: fmt.Sprint(shape), op: "AddRowVector", run: func(b tensor.Backend) []*tensor.Tensor {
					t := up(b, x.t)
					b.AddRowVector(t, up(b, v.t))
					return []*tensor.Tensor{t}
				}, outs: []expect{{name: "x", want: want, base: x.v}}})
			}
			return e.collect(trs...)
		}},
	}
}

// binary checks an op dst = f(a, b) on several shapes, and with dst aliasing a.
func (e *env) binary(op string, call func(b tensor.Backend, dst, x, y *tensor.Tensor), f func(x, y float64) float64) error {
	var trs []trial
	ref := func(x, y host) []float64 {
		out := make([]float64, len(x.v))
		for i := range out {
			out[i] = f(x.v[i], y.v[i])
		}
		return out
	}
	for _, shape := range elementwiseShapes {
		x, y := e.normal(1, shape...), e.normal(1, shape...)
		trs = append(trs, trial{name: fmt.Sprint(shape), op: op, run: func(b tensor.Backend) []*tensor.Tensor {
			d := poisoned(b, shape...)
			call(b, d, up(b, x.t), up(b, y.t))
			return []*tensor.Tensor{d}
		}, outs: []expect{{name: "dst", want: ref(x, y)}}})
	}
	x, y := e.normal(1, 11, 3), e.normal(1, 33)
	trs = append(trs, trial{name: "in place, other shape", op: op, run: func(b tensor.Backend) []*tensor.Tensor {
		d := up(b, x.t)
		call(b, d, d, up(b, y.t))
		return []*tensor.Tensor{d}
	}, outs: []expect{{name: "dst", want: ref(x, y)}}})
	return e.collect(trs...)
}
