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

// GeGLUBackward: with y = GELU(u)·g, du = dy·g·GELU'(u) and dg = dy·GELU(u)
// added into dx.
func (cpuBackend) GeGLUBackward(dx, x, dy *Tensor) { geGLUBackward(dx, x, dy, false) }

// GeGLUBackwardTo is GeGLUBackward writing dx instead of adding into it
// (GradWriter): the values of adding into zeros.
func (cpuBackend) GeGLUBackwardTo(dx, x, dy *Tensor) { geGLUBackward(dx, x, dy, true) }

// geGLUBackward adds (or with write, sets) GeGLU's gradient.
func geGLUBackward(dx, x, dy *Tensor, write bool) {
	n, inner := CheckGeGLUBackward(dx, x, dy)
	grad, in, d := dx.F32(), x.F32(), dy.F32()
	parallelFor(n, rowGrain(inner), func(lo, hi int) {
		for r := lo; r < hi; r++ {
			u := in[2*r*inner : (2*r+1)*inner]
			g := in[(2*r+1)*inner : (2*r+2)*inner]
			du := grad[2*r*inner : (2*r+1)*inner]
			dg := grad[(2*r+1)*inner : (2*r+2)*inner]
			gegluBackSlice(du, dg, u, g, d[r*inner:(r+1)*inner], write)
		}
	})
}
