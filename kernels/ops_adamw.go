package kernels

import (
	"math"

	"github.com/dllmgo/dllm/tensor"
)

// AdamW: adamw.cu.

// AdamW updates param in place (PyTorch's formulation; see adamw.cu).
func (b *Backend) AdamW(param, grad, m, v *tensor.Tensor, p tensor.AdamWParams) {
	const op = "AdamW"
	tensor.CheckAdamW(param, grad, m, v, p)
	n := param.Numel()
	if n == 0 {
		return
	}
	s := adamScalars(p)
	b.launch("adamw.cu", "adamw_f32", b.grid(n), threads, 0,
		b.ptr(op, param), b.ptr(op, grad), b.ptr(op, m), b.ptr(op, v), int64(n),
		s.decay, s.step, s.bc2Sqrt, s.w1, p.Beta2, s.w2, p.Eps)
}

// adamW's scalars, computed as the CPU reference computes them (float64 from
// the step count, then rounded to float32).
type adamWScalars struct{ decay, step, bc2Sqrt, w1, w2 float32 }

func adamScalars(p tensor.AdamWParams) adamWScalars {
	t := float64(p.Step)
	return adamWScalars{
		decay:   float32(1 - float64(p.LR)*float64(p.WeightDecay)),
		step:    float32(float64(p.LR) / (1 - math.Pow(float64(p.Beta1), t))),
		bc2Sqrt: float32(math.Sqrt(1 - math.Pow(float64(p.Beta2), t))),
		w1:      float32(1 - float64(p.Beta1)),
		w2:      float32(1 - float64(p.Beta2)),
	}
}
