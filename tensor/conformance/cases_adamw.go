package conformance

import (
	"fmt"

	"github.com/dllmgo/dllm/tensor"
)

func adamWCases() []testCase {
	return []testCase{{"AdamW", func(e *env) error {
		var trs []trial
		for _, p := range []tensor.AdamWParams{
			{LR: 0.1, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, WeightDecay: 0, Step: 1},
			{LR: 0.05, Beta1: 0.9, Beta2: 0.98, Eps: 1e-3, WeightDecay: 0.1, Step: 3},
			{LR: 0.02, Beta1: 0.8, Beta2: 0.95, Eps: 1e-6, WeightDecay: 0.01, Step: 1000},
		} {
			for _, shape := range [][]int{{1}, {37, 11}, {5, 9001}} {
				param, grad, m := e.normal(1, shape...), e.normal(1, shape...), e.normal(0.1, shape...)
				// v ≥ 0, about the size of g² so that eps = 1e-3 matters.
				v := e.normal(0.1, shape...)
				for i := range v.v {
					x := v.t.F32()[i]
					v.t.F32()[i] = x * x
					v.v[i] = float64(x * x)
				}
				np, nm, nv := refAdamW(param.v, grad.v, m.v, v.v, float64(p.LR), float64(p.Beta1), float64(p.Beta2), float64(p.Eps), float64(p.WeightDecay), p.Step)
				trs = append(trs, trial{name: fmt.Sprintf("%v %+v", shape, p), op: "AdamW", run: func(b tensor.Backend) []*tensor.Tensor {
					pt, mt, vt := up(b, param.t), up(b, m.t), up(b, v.t)
					b.AdamW(pt, up(b, grad.t), mt, vt, p)
					return []*tensor.Tensor{pt, mt, vt}
				}, outs: []expect{
					// Relative to the update, not to the parameter.
					{name: "param", want: np, base: param.v},
					{name: "m", want: nm},
					{name: "v", want: nv},
				}})
			}
		}
		return e.collect(trs...)
	}}}
}
