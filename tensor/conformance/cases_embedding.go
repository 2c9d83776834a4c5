package conformance

import (
	"fmt"

	"github.com/dllmgo/dllm/tensor"
)

func embeddingCases() []testCase {
	return []testCase{
		{"Embedding", func(e *env) error {
			var trs []trial
			for _, c := range [][3]int{{1, 1, 1}, {11, 7, 29}, {4096, 256, 300}} {
				v, d, n := c[0], c[1], c[2]
				table := e.normal(1, v, d)
				ids, iv := e.ints(0, v, n)
				trs = append(trs, trial{name: fmt.Sprintf("V=%d D=%d N=%d", v, d, n), op: "Embedding", run: func(b tensor.Backend) []*tensor.Tensor {
					dst := poisoned(b, n, d)
					b.Embedding(dst, up(b, table.t), up(b, ids))
					return []*tensor.Tensor{dst}
				}, outs: []expect{{name: "dst", want: refGather(table.v, iv, d, -1), exact: true}}})
			}
			return e.collect(trs...)
		}},
		{"EmbeddingBF16Table", func(e *env) error {
			var trs []trial
			// Even rows: the CUDA backend moves BF16 values in pairs.
			for _, c := range [][3]int{{1, 2, 1}, {11, 8, 29}, {4096, 256, 300}} {
				v, d, n := c[0], c[1], c[2]
				table := e.bf16Normal(v, d)
				ids, iv := e.ints(0, v, n)
				trs = append(trs, trial{name: fmt.Sprintf("V=%d D=%d N=%d", v, d, n), op: "Embedding", run: func(b tensor.Backend) []*tensor.Tensor {
					dst := poisoned(b, n, d)
					b.Embedding(dst, up(b, table.t), up(b, ids))
					return []*tensor.Tensor{dst}
				}, outs: []expect{{name: "dst", want: refGather(table.v, iv, d, -1), exact: true}}})
			}
			return e.collect(trs...)
		}},
		{"EmbeddingBackward", func(e *env) error {
			var trs []trial
			for _, c := range []struct{ v, d, n, pad int }{{1, 1, 1, -1}, {11, 7, 29, 3}, {11, 5, 40, -1}, {50, 3, 400, 0}} {
				// Few ids over many rows: ids repeat, and their gradients add.
				table := e.normal(1, c.v, c.d)
				ids, iv := e.ints(0, c.v, c.n)
				if c.pad >= 0 {
					iv[0] = c.pad // the padding id occurs at least once
					ids.I32()[0] = int32(c.pad)
				}
				dy := e.normal(1, c.n, c.d)
				want := NumericalGradient(projected(dy.v, func(t []float64) []float64 { return refGather(t, iv, c.d, c.pad) }), table.v)
				d0 := e.seedGrad(want, c.v, c.d)
				trs = append(trs, trial{name: fmt.Sprintf("V=%d D=%d N=%d pad=%d", c.v, c.d, c.n, c.pad), op: "EmbeddingBackward", run: func(b tensor.Backend) []*tensor.Tensor {
					dt := up(b, d0.t)
					b.EmbeddingBackward(dt, up(b, ids), up(b, dy.t), c.pad)
					return []*tensor.Tensor{dt}
				}, outs: []expect{{name: "dtable", want: plus(d0.v, want), base: d0.v}}})
			}
			return e.collect(trs...)
		}},
		{"GatherRows", func(e *env) error {
			src := e.normal(1, 9, 13)
			idx, iv := e.ints(0, 9, 20)
			return e.check(trial{name: "[9,13] by 20 indices", op: "GatherRows", run: func(b tensor.Backend) []*tensor.Tensor {
				dst := poisoned(b, 20, 13)
				b.GatherRows(dst, up(b, src.t), up(b, idx))
				return []*tensor.Tensor{dst}
			}, outs: []expect{{name: "dst", want: refGather(src.v, iv, 13, -1), exact: true}}})
		}},
		{"ScatterAddRows", func(e *env) error {
			var trs []trial
			for _, c := range [][3]int{{1, 1, 1}, {9, 13, 20}, {7, 300, 500}} {
				n, d, m := c[0], c[1], c[2]
				dst := e.normal(1, n, d)
				src := e.normal(1, m, d)
				idx, iv := e.ints(0, n, m)
				// ScatterAddRows is GatherRows' backward: the gradient of
				// Σ src ⊙ GatherRows(table) with respect to the table.
				want := make([]float64, n*d)
				if n*d <= 200 {
					want = NumericalGradient(projected(src.v, func(t []float64) []float64 { return refGather(t, iv, d, -1) }), make([]float64, n*d))
				} else {
					for i, r := range iv {
						for j := range d {
							want[r*d+j] += src.v[i*d+j]
						}
					}
				}
				trs = append(trs, trial{name: fmt.Sprintf("N=%d D=%d M=%d", n, d, m), op: "ScatterAddRows", run: func(b tensor.Backend) []*tensor.Tensor {
					t := up(b, dst.t)
					b.ScatterAddRows(t, up(b, src.t), up(b, idx))
					return []*tensor.Tensor{t}
				}, outs: []expect{{name: "dst", want: plus(dst.v, want), base: dst.v}}})
			}
			return e.collect(trs...)
		}},
	}
}
