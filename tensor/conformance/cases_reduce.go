package conformance

import (
	"fmt"

	"github.com/dllmgo/dllm/tensor"
)

func reductionCases() []testCase {
	// [3, 20011] is the long reduction: a float32 accumulator over 20k
	// terms loses digits a float64 one keeps.
	shapes := [][]int{{1, 1}, {13, 37}, {2, 3, 129}, {3, 20011}}
	rowSums := func(x []float64, d int) []float64 {
		out := make([]float64, len(x)/d)
		for i, v := range x {
			out[i/d] += v
		}
		return out
	}
	return []testCase{
		{"SumLastAxis", func(e *env) error {
			var trs []trial
			for _, shape := range shapes {
				d := shape[len(shape)-1]
				// An offset mean makes the sums large against their rounding.
				x := e.uniform(-0.5, 1.5, shape...)
				trs = append(trs, trial{name: fmt.Sprint(shape), op: "SumLastAxis", run: func(b tensor.Backend) []*tensor.Tensor {
					dst := poisoned(b, len(x.v)/d)
					b.SumLastAxis(dst, up(b, x.t))
					return []*tensor.Tensor{dst}
				}, outs: []expect{{name: "dst", want: rowSums(x.v, d)}}})
			}
			return e.collect(trs...)
		}},
		{"MeanLastAxis", func(e *env) error {
			var trs []trial
			for _, shape := range shapes {
				d := shape[len(shape)-1]
				x := e.uniform(-0.5, 1.5, shape...)
				want := mapF(rowSums(x.v, d), func(s float64) float64 { return s / float64(d) })
				trs = append(trs, trial{name: fmt.Sprint(shape), op: "MeanLastAxis", run: func(b tensor.Backend) []*tensor.Tensor {
					dst := poisoned(b, len(x.v)/d)
					b.MeanLastAxis(dst, up(b, x.t))
					return []*tensor.Tensor{dst}
				}, outs: []expect{{name: "dst", want: want}}})
			}
			return e.collect(trs...)
		}},
		{"SumRows", func(e *env) error {
			var trs []trial
			for _, shape := range [][]int{{1, 1}, {37, 13}, {2, 5, 33}, {9001, 3}} {
				d := shape[len(shape)-1]
				x := e.uniform(-0.5, 1.5, shape...)
				sums := make([]float64, d)
				for i, v := range x.v {
					sums[i%d] += v
				}
				d0 := e.seedGrad(sums, d)
				trs = append(trs, trial{name: fmt.Sprint(shape), op: "SumRows", run: func(b tensor.Backend) []*tensor.Tensor {
					dst := up(b, d0.t)
					b.SumRows(dst, up(b, x.t))
					return []*tensor.Tensor{dst}
				}, outs: []expect{{name: "dst", want: plus(d0.v, sums), base: d0.v}}})
			}
			return e.collect(trs...)
		}},
		{"SumSquares", func(e *env) error {
			var trs []trial
			for _, shape := range [][]int{{1}, {33, 77}, {70001}} {
				x := e.normal(1, shape...)
				want := dot(x.v, x.v)
				trs = append(trs, trial{name: fmt.Sprint(shape), op: "SumSquares", run: func(b tensor.Backend) []*tensor.Tensor {
					s := b.SumSquares(up(b, x.t))
					return []*tensor.Tensor{b.FromHost(tensor.FromF32([]float32{float32(s)}, 1))}
				}, outs: []expect{{name: "sum", want: []float64{want}}}})
			}
			// Several tensors at once: the global norm of a model's gradients,
			// an empty tensor among them.
			parts := []host{e.normal(1, 3, 5), e.normal(2, 4097), e.normal(0.5, 1, 1)}
			want := 0.0
			for _, p := range parts {
				want += dot(p.v, p.v)
			}
			trs = append(trs, trial{name: "several", op: "SumSquares", run: func(b tensor.Backend) []*tensor.Tensor {
				xs := []*tensor.Tensor{b.New(tensor.F32, 0)}
				for _, p := range parts {
					xs = append(xs, up(b, p.t))
				}
				s := b.SumSquares(xs...)
				return []*tensor.Tensor{b.FromHost(tensor.FromF32([]float32{float32(s)}, 1))}
			}, outs: []expect{{name: "sum", want: []float64{want}}}})
			return e.collect(trs...)
		}},
		{"Softmax", func(e *env) error {
			var trs []trial
			for _, c := range []struct {
				shape []int
				scale float64
			}{{[]int{1, 1}, 1}, {[]int{7, 19}, 4}, {[]int{2, 3, 1000}, 2}, {[]int{3, 5}, 300}} {
				// scale 300 makes exp overflow without the max subtraction.
				d := c.shape[len(c.shape)-1]
				x := e.normal(c.scale, c.shape...)
				trs = append(trs, trial{name: fmt.Sprintf("%v scale %v", c.shape, c.scale), op: "Softmax", run: func(b tensor.Backend) []*tensor.Tensor {
					dst := poisoned(b, c.shape...)
					b.Softmax(dst, up(b, x.t))
					return []*tensor.Tensor{dst}
				}, outs: []expect{{name: "dst", want: refSoftmax(x.v, d)}}})
			}
			return e.collect(trs...)
		}},
	}
}
