package tensor

// SwiGLU (Shazeer 2020), the gated MLP of Llama-style models:
//
//	y = silu(gate) ⊙ up,   silu(z) = z·σ(z),   σ(z) = 1/(1 + e^(−z))
//
// with gate and up the two halves of each row of the fused gate/up
// projection's output, gate first (the GeGLU chunk order). The math is in
// float64; e^(−gate) comes from the vectorised exponential of cpu_vec.go,
// rounded to float32 on the way (a relative error of 6e-8, which moves σ by
// less than that), and each result is rounded once more to float32.

// expNeg sets e[j] = e^(−z[j]) (vectorised where the CPU allows). For very
// negative z it overflows to +Inf, and σ = 1/(1 + e) is then 0, as it
// should be; no cancellation occurs anywhere below.
func expNeg(e, z []float32) {
	for j, v := range z {
		e[j] = -v
	}
	expSum(e, e, 0)
}

// siluAndGrad returns silu(z) = z·σ(z) and its derivative
// silu'(z) = σ(z) + z·σ(z)·(1 − σ(z)) = σ(z)·(1 + z·(1 − σ(z))), given
// e = e^(−z), so that σ(z) = 1/(1 + e).
func siluAndGrad(z, e float64) (s, ds float64) {
	sg := 1 / (1 + e)
	return z * sg, sg * (1 + z*(1-sg))
}

// swigluDims checks y [N, I] against x [N, 2I] and returns N and I.
func swigluDims(op string, y, x *Tensor) (n, inner int) {
	rows, twoI := rowsOf(op, x)
	check(twoI%2 == 0, op, "x %v: the last dimension must be even (two halves)", x)
	inner = twoI / 2
	check(y.Numel() == rows*inner && y.Dim(-1) == inner, op, "y %v must be x %v with the last dimension halved", y, x)
	return rows, inner
}

func (cpuBackend) SwiGLU(y, x *Tensor) {
	checkF32("SwiGLU", y, x)
	n, inner := swigluDims("SwiGLU", y, x)
	out, in := y.F32(), x.F32()
	parallelFor(n, rowGrain(inner), func(lo, hi int) {
		for r := lo; r < hi; r++ {
			gate := in[2*r*inner : (2*r+1)*inner]
			up := in[(2*r+1)*inner : (2*r+2)*inner]
			o := out[r*inner : (r+1)*inner]
			expNeg(o, gate) // o holds e^(−gate) until it is overwritten
			for j, z := range gate {
				o[j] = float32(float64(z) / (1 + float64(o[j])) * float64(up[j]))
			}
		}
	})
}

// SwiGLUBackward: with y = silu(gate)·up,
//
//	dgate = dy·up·silu'(gate),   dup = dy·silu(gate).
func (cpuBackend) SwiGLUBackward(dx, x, dy *Tensor) {
	const op = "SwiGLUBackward"
	checkF32(op, dx, x, dy)
	n, inner := swigluDims(op, dy, x)
	check(SameShape(dx.shape, x.shape), op, "dx %v and x %v differ in shape", dx, x)
	grad, in, d := dx.F32(), x.F32(), dy.F32()
	parallelFor(n, rowGrain(inner), func(lo, hi int) {
		e := make([]float32, inner)
		for r := lo; r < hi; r++ {
			gate := in[2*r*inner : (2*r+1)*inner]
			up := in[(2*r+1)*inner : (2*r+2)*inner]
			dgate := grad[2*r*inner : (2*r+1)*inner]
			dup := grad[(2*r+1)*inner : (2*r+2)*inner]
			dyr := d[r*inner : (r+1)*inner]
			expNeg(e, gate)
			for j, z := range gate {
				s, ds := siluAndGrad(float64(z), float64(e[j]))
				dyj := float64(dyr[j])
				dgate[j] = float32(float64(dgate[j]) + dyj*float64(up[j])*ds)
				dup[j] = float32(float64(dup[j]) + dyj*s)
			}
		}
	})
}
