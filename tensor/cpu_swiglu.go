package tensor

// SwiGLU (Shazeer 2020), the gated MLP of Llama-style models:
//
//	y = silu(gate) ⊙ up,   silu(z) = z·σ(z),   σ(z) = 1/(1 + e^(−z))
//
// with gate and up the two halves of each row of the fused gate/up
// projection's output, gate first (the GeGLU chunk order). The math is in
// float64 with one rounding to float32 per value.

// sigmoid is σ(z) = 1/(1 + e^(−z)). For very negative z, e^(−z) overflows to
// +Inf and σ is 0, as it should be; no cancellation occurs anywhere.
func sigmoid(z float64) float64 { return 1 / (1 + expF64(-z)) }

// siluAndGrad returns silu(z) = z·σ(z) and its derivative
// silu'(z) = σ(z) + z·σ(z)·(1 − σ(z)) = σ(z)·(1 + z·(1 − σ(z))).
func siluAndGrad(z float64) (s, ds float64) {
	sg := sigmoid(z)
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
			for j, z := range gate {
				zf := float64(z)
				o[j] = float32(zf * sigmoid(zf) * float64(up[j]))
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
		for r := lo; r < hi; r++ {
			gate := in[2*r*inner : (2*r+1)*inner]
			up := in[(2*r+1)*inner : (2*r+2)*inner]
			dgate := grad[2*r*inner : (2*r+1)*inner]
			dup := grad[(2*r+1)*inner : (2*r+2)*inner]
			dyr := d[r*inner : (r+1)*inner]
			for j, z := range gate {
				s, ds := siluAndGrad(float64(z))
				dyj := float64(dyr[j])
				dgate[j] = float32(float64(dgate[j]) + dyj*float64(up[j])*ds)
				dup[j] = float32(float64(dup[j]) + dyj*s)
			}
		}
	})
}
