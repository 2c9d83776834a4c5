package conformance

import (
	"fmt"

	"github.com/dllmgo/dllm/tensor"
)

// rmsCase is one RMSNorm problem: x of shape (the last axis normalised; a
// rank-3 shape [N, H, d] is the per-head q/k norm of Qwen3, w [d]), the
// weight convention and whether rstd is requested.
type rmsCase struct {
	shape  []int
	eps    float32
	offset float32 // 0: plain weight, 1: Gemma's (1 + w)
	scale  float64 // standard deviation of x
	stats  bool    // rstd requested (forward); dw requested (backward)
}

func (c rmsCase) String() string {
	return fmt.Sprintf("x%v eps=%g offset=%g σ=%g stats=%t", c.shape, c.eps, c.offset, c.scale, c.stats)
}

func (c rmsCase) params() tensor.RMSNormParams {
	return tensor.RMSNormParams{Eps: c.eps, WeightOffset: c.offset}
}

// draw returns x and w: w around 1 for the plain convention, around 0 for
// the offset one (Gemma stores w with 1 + w ≈ 1), never zero.
func (e *env) drawRMS(c rmsCase) (x, w host) {
	d := c.shape[len(c.shape)-1]
	x = e.normal(c.scale, c.shape...)
	if c.offset == 0 {
		w = e.uniform(0.5, 1.5, d)
	} else {
		w = e.normal(0.3, d)
	}
	return x, w
}

func rmsNormCases() []testCase {
	return []testCase{
		{"RMSNorm", func(e *env) error {
			var trs []trial
			for _, c := range []rmsCase{
				{[]int{1, 1}, 1e-6, 0, 1, true},
				{[]int{11, 37}, 1e-6, 0, 1.5, true},
				{[]int{13, 256}, 1e-6, 1, 1, true},
				{[]int{9, 64}, 1e-5, 0, 2, false},
				{[]int{300, 257}, 1e-5, 0, 1, true},
				// Per-head norms: rows of one head each.
				{[]int{6, 8, 64}, 1e-6, 0, 1, true},
				{[]int{5, 4, 128}, 1e-6, 1, 1, true},
				// mean(x²) ≈ 1e-6, below eps: eps decides the scale.
				{[]int{7, 33}, 1e-5, 0, 1e-3, true},
			} {
				x, w := e.drawRMS(c)
				d := c.shape[len(c.shape)-1]
				n := x.t.Numel() / d
				y, rstd := refRMSNorm(x.v, w.v, d, float64(c.eps), float64(c.offset))
				outs := []expect{{name: "y", want: y}}
				if c.stats {
					outs = append(outs, expect{name: "rstd", want: rstd})
				}
				trs = append(trs, trial{name: c.String(), op: "RMSNorm", run: func(b tensor.Backend) []*tensor.Tensor {
					yt := poisoned(b, c.shape...)
					var r *tensor.Tensor
					if c.stats {
						r = poisoned(b, n)
					}
					b.RMSNorm(yt, r, up(b, x.t), up(b, w.t), c.params())
					if c.stats {
						return []*tensor.Tensor{yt, r}
					}
					return []*tensor.Tensor{yt}
				}, outs: outs})
			}
			return e.collect(trs...)
		}},
		{"RMSNormBackward", func(e *env) error {
			var trs []trial
			for _, c := range []rmsCase{
				{[]int{1, 3}, 1e-6, 0, 1, true},
				{[]int{7, 13}, 1e-6, 1, 1.5, true},
				{[]int{5, 33}, 1e-5, 0, 1, true},
				{[]int{3, 4, 16}, 1e-6, 0, 1, true}, // per head
				{[]int{4, 9}, 1e-6, 0, 1, false},    // frozen weight: dw nil
				{[]int{6, 11}, 1e-5, 0, 1e-3, true}, // eps dominates
				// Large, for the parallel paths, against the analytic
				// gradient (checked against finite differences by this
				// package's tests).
				{[]int{300, 257}, 1e-5, 0, 1, true},
				{[]int{33, 4, 64}, 1e-6, 0, 1, true},
				{[]int{17, 2, 128}, 1e-6, 1, 1, true},
			} {
				x, w := e.drawRMS(c)
				d := c.shape[len(c.shape)-1]
				n := x.t.Numel() / d
				dy := e.normal(1, c.shape...)
				eps, off := float64(c.eps), float64(c.offset)
				_, rstd := refRMSNorm(x.v, w.v, d, eps, off)
				var dxWant, dwWant []float64
				if x.t.Numel() <= 300 {
					forward := func(xv, wv []float64) []float64 { y, _ := refRMSNorm(xv, wv, d, eps, off); return y }
					dxWant = NumericalGradient(projected(dy.v, func(v []float64) []float64 { return forward(v, w.v) }), x.v)
					dwWant = NumericalGradient(projected(dy.v, func(v []float64) []float64 { return forward(x.v, v) }), w.v)
				} else {
					dxWant, dwWant = refRMSNormBackward(dy.v, x.v, w.v, d, eps, off)
				}
				dx0, dw0 := e.seedGrad(dxWant, c.shape...), e.seedGrad(dwWant, d)
				outs := []expect{{name: "dx", want: plus(dx0.v, dxWant), base: dx0.v}}
				if c.stats {
					outs = append(outs, expect{name: "dw", want: plus(dw0.v, dwWant), base: dw0.v})
				}
				rstdT := roundF32(rstd, n)
				trs = append(trs, trial{name: c.String(), op: "RMSNormBackward", run: func(b tensor.Backend) []*tensor.Tensor {
					dx := up(b, dx0.t)
					var dw *tensor.Tensor
					if c.stats {
						dw = up(b, dw0.t)
					}
					b.RMSNormBackward(dx, dw, up(b, dy.t), up(b, x.t), up(b, rstdT), up(b, w.t), c.params())
					if c.stats {
						return []*tensor.Tensor{dx, dw}
					}
					return []*tensor.Tensor{dx}
				}, outs: outs})
			}
			return e.collect(trs...)
		}},
	}
}
