package tensor

// GeGLU: GELU(u)·g over the two halves of each row, GELU as in cpu_gelu.go,
// in float32 (cpu_vec32.go).

func (cpuBackend) GeGLU(y, x *Tensor) {
	n, inner := CheckGeGLU(y, x)
	out, in := y.F32(), x.F32()
	parallelFor(n, rowGrain(inner), func(lo, hi int) {
		for r := lo; r < hi; r++ {
			u := in[2*r*inner : (2*r+1)*inner]
			g := in[(2*r+1)*inner : (2*r+2)*inner]
			gegluSlice(out[r*inner:(r+1)*inner], u, g)
		}
	})
}

// GeGLUBackward: with y = GELU(u)·g, du = dy·g·GELU'(u) and dg = dy·GELU(u).
func (cpuBackend) GeGLUBackward(dx, x, dy *Tensor) {
	n, inner := CheckGeGLUBackward(dx, x, dy)
	grad, in, d := dx.F32(), x.F32(), dy.F32()
	parallelFor(n, rowGrain(inner), func(lo, hi int) {
		for r := lo; r < hi; r++ {
			u := in[2*r*inner : (2*r+1)*inner]
			g := in[(2*r+1)*inner : (2*r+2)*inner]
			du := grad[2*r*inner : (2*r+1)*inner]
			dg := grad[(2*r+1)*inner : (2*r+2)*inner]
			gegluBackSlice(du, dg, u, g, d[r*inner:(r+1)*inner])
		}
	})
}
