package tensor

// GELU, the exact erf form (SPEC: hidden_activation "gelu"), with
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
