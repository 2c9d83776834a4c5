package tensor

// GELU and GeGLU, the exact erf form (SPEC: hidden_activation "gelu"), with
// the math in float64 (cpu_math.go, vectorised in cpu_vec.go) and one
// rounding to float32 per GELU value.

// geluChunk is how many elements a goroutine stages in its scratch buffers.
const geluChunk = 1024

func (cpuBackend) GELU(dst, src *Tensor) {
	CheckGELU(dst, src)
	y, x := dst.F32(), src.F32()
	elementwise(len(y), func(lo, hi int) { geluSlice(y[lo:hi], x[lo:hi]) })
}

func (cpuBackend) GELUBackward(dx, x, dy *Tensor) {
	CheckGELUBackward(dx, x, dy)
	g, xs, d := dx.F32(), x.F32(), dy.F32()
	elementwise(len(g), func(lo, hi int) {
		val, grad := make([]float32, geluChunk), make([]float32, geluChunk)
		for c := lo; c < hi; c += geluChunk {
			e := min(hi, c+geluChunk)
			geluGradSlice(val[:e-c], grad[:e-c], xs[c:e])
			for i, dg := range grad[:e-c] {
				g[c+i] = float32(float64(g[c+i]) + float64(d[c+i])*float64(dg))
			}
		}
	})
}

func (cpuBackend) GeGLU(y, x *Tensor) {
	n, inner := CheckGeGLU(y, x)
	out, in := y.F32(), x.F32()
	parallelFor(n, rowGrain(inner), func(lo, hi int) {
		for r := lo; r < hi; r++ {
			u := in[2*r*inner : (2*r+1)*inner]
			g := in[(2*r+1)*inner : (2*r+2)*inner]
			o := out[r*inner : (r+1)*inner]
			geluSlice(o, u)
			for j, gj := range g {
				o[j] *= gj
			}
		}
	})
}

// GeGLUBackward: with y = GELU(u)·g, du = dy·g·GELU'(u) and dg = dy·GELU(u).
func (cpuBackend) GeGLUBackward(dx, x, dy *Tensor) {
	n, inner := CheckGeGLUBackward(dx, x, dy)
	grad, in, d := dx.F32(), x.F32(), dy.F32()
	parallelFor(n, rowGrain(inner), func(lo, hi int) {
		val, slope := make([]float32, inner), make([]float32, inner)
		for r := lo; r < hi; r++ {
			u := in[2*r*inner : (2*r+1)*inner]
			g := in[(2*r+1)*inner : (2*r+2)*inner]
			du := grad[2*r*inner : (2*r+1)*inner]
			dg := grad[(2*r+1)*inner : (2*r+2)*inner]
			dyr := d[r*inner : (r+1)*inner]
			geluGradSlice(val, slope, u)
			for j, dyj := range dyr {
				du[j] = float32(float64(du[j]) + float64(dyj)*float64(g[j])*float64(slope[j]))
				dg[j] = float32(float64(dg[j]) + float64(dyj)*float64(val[j]))
			}
		}
	})
}
