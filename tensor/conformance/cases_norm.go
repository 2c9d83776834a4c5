package conformance

import (
	"fmt"

	"github.com/dllmgo/dllm/tensor"
)

const lnEps = 1e-5

func layerNormCases() []testCase {
	type lnCase struct {
		n, d  int
		beta  bool
		stats bool // mean and rstd requested
	}
	return []testCase{
		{"LayerNorm", func(e *env) error {
			var trs []trial
			for _, c := range []lnCase{{1, 1, false, true}, {11, 37, false, true}, {13, 256, true, true}, {9, 64, true, false}, {300, 257, false, true}} {
				// A mean far from zero tests the variance computation.
				x := e.normal(1.5, c.n, c.d)
				for i := range x.v {
					x.t.F32()[i] += 3
					x.v[i] = float64(x.t.F32()[i])
				}
				gamma := e.normal(1, c.d)
				var beta host
				var betaV []float64
				if c.beta {
					beta = e.normal(1, c.d)
					betaV = beta.v
				}
				y, mean, rstd := refLayerNorm(x.v, gamma.v, betaV, c.d, float64(float32(lnEps)))
				outs := []expect{{name: "y", want: y}}
				if c.stats {
					outs = append(outs, expect{name: "mean", want: mean}, expect{name: "rstd", want: rstd})
				}
				trs = append(trs, trial{name: fmt.Sprintf("N=%d D=%d beta=%t stats=%t", c.n, c.d, c.beta, c.stats), op: "LayerNorm", run: func(b tensor.Backend) []*tensor.Tensor {
					yt := poisoned(b, c.n, c.d)
					var m, r *tensor.Tensor
					if c.stats {
						m, r = poisoned(b, c.n), poisoned(b, c.n)
					}
					b.LayerNorm(yt, m, r, up(b, x.t), up(b, gamma.t), up(b, beta.t), lnEps)
					if c.stats {
						return []*tensor.Tensor{yt, m, r}
					}
					return []*tensor.Tensor{yt}
				}, outs: outs})
			}
			return e.collect(trs...)
		}},
		{"LayerNormBackward", func(e *env) error {
			var trs []trial
			for _, c := range []lnCase{{1, 3, false, true}, {7, 13, true, true}, {5, 33, false, true}} {
				x, gamma, dy := e.normal(1.5, c.n, c.d), e.normal(1, c.d), e.normal(1, c.n, c.d)
				var beta host
				var betaV []float64
				if c.beta {
					beta = e.normal(1, c.d)
					betaV = beta.v
				}
				eps := float64(float32(lnEps))
				_, mean, rstd := refLayerNorm(x.v, gamma.v, betaV, c.d, eps)
				forward := func(xv, gv, bv []float64) []float64 { y, _, _ := refLayerNorm(xv, gv, bv, c.d, eps); return y }
				dxWant := NumericalGradient(projected(dy.v, func(v []float64) []float64 { return forward(v, gamma.v, betaV) }), x.v)
				dgWant := NumericalGradient(projected(dy.v, func(v []float64) []float64 { return forward(x.v, v, betaV) }), gamma.v)
				dx0, dg0 := e.seedGrad(dxWant, c.n, c.d), e.seedGrad(dgWant, c.d)
				outs := []expect{
					{name: "dx", want: plus(dx0.v, dxWant), base: dx0.v},
					{name: "dgamma", want: plus(dg0.v, dgWant), base: dg0.v},
				}
				var db0 host
				if c.beta {
					dbWant := NumericalGradient(projected(dy.v, func(v []float64) []float64 { return forward(x.v, gamma.v, v) }), beta.v)
					db0 = e.seedGrad(dbWant, c.d)
					outs = append(outs, expect{name: "dbeta", want: plus(db0.v, dbWant), base: db0.v})
				}
				meanT, rstdT := roundF32(mean, c.n), roundF32(rstd, c.n)
				trs = append(trs, trial{name: fmt.Sprintf("N=%d D=%d beta=%t", c.n, c.d, c.beta), op: "LayerNormBackward", run: func(b tensor.Backend) []*tensor.Tensor {
					dx, dg, db := up(b, dx0.t), up(b, dg0.t), up(b, db0.t)
					b.LayerNormBackward(dx, dg, db, up(b, dy.t), up(b, x.t), up(b, meanT), up(b, rstdT), up(b, gamma.t))
					if c.beta {
						return []*tensor.Tensor{dx, dg, db}
					}
					return []*tensor.Tensor{dx, dg}
				}, outs: outs})
			}
			// A large case for the parallel paths, against the analytic
			// gradient of the reference (checked against finite differences
			// by this package's tests).
			n, d := 300, 257
			x, gamma, dy := e.normal(1.5, n, d), e.normal(1, d), e.normal(1, n, d)
			eps := float64(float32(lnEps))
			_, mean, rstd := refLayerNorm(x.v, gamma.v, nil, d, eps)
			dxWant, dgWant, dbWant := refLayerNormBackward(dy.v, x.v, gamma.v, d, eps)
			dx0, dg0, db0 := e.seedGrad(dxWant, n, d), e.seedGrad(dgWant, d), e.seedGrad(dbWant, d)
			meanT, rstdT := roundF32(mean, n), roundF32(rstd, n)
			trs = append(trs, trial{name: "N=300 D=257 analytic", op: "LayerNormBackward", run: func(b tensor.Backend) []*tensor.Tensor {
				dx, dg, db := up(b, dx0.t), up(b, dg0.t), up(b, db0.t)
				b.LayerNormBackward(dx, dg, db, up(b, dy.t), up(b, x.t), up(b, meanT), up(b, rstdT), up(b, gamma.t))
				return []*tensor.Tensor{dx, dg, db}
			}, outs: []expect{
				{name: "dx", want: plus(dx0.v, dxWant), base: dx0.v},
				{name: "dgamma", want: plus(dg0.v, dgWant), base: dg0.v},
				{name: "dbeta", want: plus(db0.v, dbWant), base: db0.v},
			}})
			return e.collect(trs...)
		}},
	}
}
