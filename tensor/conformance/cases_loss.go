package conformance

import (
	"fmt"

	"github.com/dllmgo/dllm/tensor"
)

type ceCase struct {
	name     string
	n, v     int
	ignore   int32
	ignored  float64 // fraction of rows whose target is the ignore index
	weighted bool
}

var ceCaseList = []ceCase{
	{"one row", 1, 1, -100, 0, false},
	{"ignored rows, no weights", 13, 37, -100, 0.3, false},
	{"weights (one zero), ignore index inside the vocabulary", 11, 29, 5, 0.2, true},
	{"every row ignored", 4, 9, -100, 1, true},
	{"long rows V = 4099", 9, 4099, -100, 0.2, true},
}

// drawCE makes logits, targets (some set to the ignore index) and weights.
func (e *env) drawCE(c ceCase) (logits host, targets []int, weights host) {
	logits = e.normal(3, c.n, c.v)
	targets = make([]int, c.n)
	for i := range targets {
		targets[i] = e.rng.IntN(c.v)
		if int32(targets[i]) == c.ignore || e.rng.Float64() < c.ignored {
			targets[i] = int(c.ignore)
		}
	}
	if c.weighted {
		weights = e.uniform(0.1, 2, c.n)
		if c.n > 2 {
			weights.t.F32()[1], weights.v[1] = 0, 0
		}
	}
	return logits, targets, weights
}

func lossCases() []testCase {
	return []testCase{
		{"CrossEntropy", func(e *env) error {
			var trs []trial
			for _, c := range ceCaseList {
				logits, targets, weights := e.drawCE(c)
				loss, lse := refCrossEntropy(logits.v, targets, weights.v, c.v, int(c.ignore))
				tt := i32s(targets, c.n)
				trs = append(trs, trial{name: c.name, op: "CrossEntropy", run: func(b tensor.Backend) []*tensor.Tensor {
					l, s := poisoned(b, c.n), poisoned(b, c.n)
					b.CrossEntropy(l, s, up(b, logits.t), up(b, tt), up(b, weights.t), c.ignore)
					return []*tensor.Tensor{l, s}
				}, outs: []expect{{name: "loss", want: loss}, {name: "lse", want: lse}}})
			}
			c := ceCaseList[1]
			logits, targets, weights := e.drawCE(c)
			loss, _ := refCrossEntropy(logits.v, targets, weights.v, c.v, int(c.ignore))
			tt := i32s(targets, c.n)
			trs = append(trs, trial{name: "no lse", op: "CrossEntropy", run: func(b tensor.Backend) []*tensor.Tensor {
				l := poisoned(b, c.n)
				b.CrossEntropy(l, nil, up(b, logits.t), up(b, tt), up(b, weights.t), c.ignore)
				return []*tensor.Tensor{l}
			}, outs: []expect{{name: "loss", want: loss}}})
			return e.collect(trs...)
		}},
		{"CrossEntropyBackward", func(e *env) error {
			var trs []trial
			for _, c := range ceCaseList {
				logits, targets, weights := e.drawCE(c)
				const scale = 0.37
				_, lse := refCrossEntropy(logits.v, targets, weights.v, c.v, int(c.ignore))
				var want []float64
				how := "finite differences"
				if c.n*c.v <= 1000 {
					want = NumericalGradient(func(x []float64) float64 {
						loss, _ := refCrossEntropy(x, targets, weights.v, c.v, int(c.ignore))
						s := 0.0
						for _, l := range loss {
							s += l
						}
						return float64(float32(scale)) * s
					}, logits.v)
				} else {
					// Long rows: the formula of backend.go, which the small
					// cases and this package's tests check against finite
					// differences.
					want = refCrossEntropyBackward(logits.v, targets, weights.v, c.v, int(c.ignore), float64(float32(scale)))
					how = "analytic"
				}
				d0 := e.seedGrad(want, c.n, c.v)
				tt, lseT := i32s(targets, c.n), roundF32(lse, c.n)
				trs = append(trs, trial{name: fmt.Sprintf("%s (%s)", c.name, how), op: "CrossEntropyBackward", run: func(b tensor.Backend) []*tensor.Tensor {
					dl := up(b, d0.t)
					b.CrossEntropyBackward(dl, up(b, logits.t), up(b, lseT), up(b, tt), up(b, weights.t), scale, c.ignore)
					return []*tensor.Tensor{dl}
				}, outs: []expect{{name: "dlogits", want: plus(d0.v, want), base: d0.v}}})
			}
			return e.collect(trs...)
		}},
	}
}
