package tensor

import "math"

// AdamW step, in PyTorch's formulation (torch.optim.AdamW, the single-tensor
// path), operation by operation in float32 with the scalars computed in
// float64 from the step count:
//
//	param ← param·(1 − lr·wd)                       decoupled weight decay
//	m ← lerp(m, g, 1 − β1)                          = β1·m + (1 − β1)·g
//	v ← β2·v + (1 − β2)·g·g
//	param ← param − (lr/(1 − β1ᵗ))·m / (√v/√(1 − β2ᵗ) + eps)
//
// that is, param −= lr·m̂/(√v̂ + eps) with m̂ = m/(1 − β1ᵗ) and
// v̂ = v/(1 − β2ᵗ), eps added outside the square root and after the bias
// correction of v, as PyTorch does.
func (cpuBackend) AdamW(param, grad, m, v *Tensor, p AdamWParams) {
	CheckAdamW(param, grad, m, v, p)
	param.DropPacked() // a weight kept packed for inference changes
	step := float64(p.Step)
	decay := float32(1 - float64(p.LR)*float64(p.WeightDecay))
	stepSize := float32(float64(p.LR) / (1 - math.Pow(float64(p.Beta1), step)))
	bc2Sqrt := float32(math.Sqrt(1 - math.Pow(float64(p.Beta2), step)))
	w1 := float32(1 - float64(p.Beta1))
	w2 := float32(1 - float64(p.Beta2))
	beta2, eps := p.Beta2, p.Eps
	ps, gs, ms, vs := param.F32(), grad.F32(), m.F32(), v.F32()
	k := adamwConsts{decay: decay, w1: w1, beta2: beta2, w2: w2, bc2Sqrt: bc2Sqrt, eps: eps, negStep: -stepSize}
	elementwise(len(ps), func(lo, hi int) {
		if useVec && w1 < 0.5 && hi-lo >= 8 {
			// The same float32 operations, eight at a time (bit for bit).
			n := (hi - lo) &^ 7
			adamwAVX2(&ps[lo], &gs[lo], &ms[lo], &vs[lo], n, &k)
			lo += n
		}
		for i := lo; i < hi; i++ {
			g := gs[i]
			ps[i] = ps[i] * decay
			ms[i] = lerp32(ms[i], g, w1)
			vs[i] = float32(vs[i]*beta2) + float32(float32(w2*g)*g)
			denom := float32(float32(math.Sqrt(float64(vs[i])))/bc2Sqrt) + eps
			ps[i] += float32(-stepSize*ms[i]) / denom
		}
	})
}

// lerp32 is torch.lerp: a + w·(b − a) for w < ½, else b − (b − a)·(1 − w),
// the form that is exact at both ends.
func lerp32(a, b, w float32) float32 {
	if w < 0.5 {
		return a + float32(w*(b-a))
	}
	return b - float32((b-a)*(1-w))
}

// adamwConsts are the per-call scalars of adamwAVX2, in the order it reads
// them.
type adamwConsts struct {
	decay, w1, beta2, w2, bc2Sqrt, eps, negStep float32
}
