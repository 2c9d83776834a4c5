package tensor

// GELU and GeGLU, the exact erf form (SPEC: hidden_activation "gelu"), with
// the math in float64 (cpu_math.go) and one rounding to float32 per output.

func (cpuBackend) GELU(dst, src *Tensor) {
	checkF32("GELU", dst, src)
	checkSameNumel("GELU", dst, src)
	y, x := dst.F32(), src.F32()
	elementwise(len(y), func(lo, hi int) {
		for i := lo; i < hi; i++ {
			y[i] = float32(gelu(float64(x[i])))
		}
	})
}

func (cpuBackend) GELUBackward(dx, x, dy *Tensor) {
	checkF32("GELUBackward", dx, x, dy)
	checkSameNumel("GELUBackward", dx, x, dy)
	g, xs, d := dx.F32(), x.F32(), dy.F32()
	elementwise(len(g), func(lo, hi int) {
		for i := lo; i < hi; i++ {
			g[i] = float32(float64(g[i]) + float64(d[i])*geluGrad(float64(xs[i])))
		}
	})
}

// gegluDims checks y [N, I] against x [N, 2I] and returns N and I.
func gegluDims(op string, y, x *Tensor) (n, inner int) {
	rows, twoI := rowsOf(op, x)
	check(twoI%2 == 0, op, "x %v: the last dimension must be even (two halves)", x)
	inner = twoI / 2
	check(y.Numel() == rows*inner && y.Dim(-1) == inner, op, "y %v must be x %v with the last dimension halved", y, x)
	return rows, inner
}

func (cpuBackend) GeGLU(y, x *Tensor) {
	checkF32("GeGLU", y, x)
	n, inner := gegluDims("GeGLU", y, x)
	out, in := y.F32(), x.F32()
	parallelFor(n, rowGrain(inner), func(lo, hi int) {
		for r := lo; r < hi; r++ {
			u := in[2*r*inner : (2*r+1)*inner]
			g := in[(2*r+1)*inner : (2*r+2)*inner]
			o := out[r*inner : (r+1)*inner]
			for j := range o {
				o[j] = float32(gelu(float64(u[j])) * float64(g[j]))
			}
		}
	})
}

// GeGLUBackward: with y = GELU(u)·g, du = dy·g·GELU'(u) and dg = dy·GELU(u).
func (cpuBackend) GeGLUBackward(dx, x, dy *Tensor) {
	checkF32("GeGLUBackward", dx, x, dy)
	n, inner := gegluDims("GeGLUBackward", dy, x)
	check(SameShape(dx.shape, x.shape), "GeGLUBackward", "dx %v and x %v differ in shape", dx, x)
	grad, in, d := dx.F32(), x.F32(), dy.F32()
	parallelFor(n, rowGrain(inner), func(lo, hi int) {
		for r := lo; r < hi; r++ {
			u := in[2*r*inner : (2*r+1)*inner]
			g := in[(2*r+1)*inner : (2*r+2)*inner]
			du := grad[2*r*inner : (2*r+1)*inner]
			dg := grad[(2*r+1)*inner : (2*r+2)*inner]
			dyr := d[r*inner : (r+1)*inner]
			for j, dyj := range dyr {
				a, da := geluAndGrad(float64(u[j]))
				du[j] = float32(float64(du[j]) + float64(dyj)*float64(g[j])*da)
				dg[j] = float32(float64(dg[j]) + float64(dyj)*a)
			}
		}
	})
}
