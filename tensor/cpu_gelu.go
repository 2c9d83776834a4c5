package tensor

// GELU, the exact erf form (SPEC: hidden_activation "gelu"), in float32
// (cpu_math32.go, vectorised in cpu_vec32.go; error bounds there).

func (cpuBackend) GELU(dst, src *Tensor) {
	CheckGELU(dst, src)
	y, x := dst.F32(), src.F32()
	elementwise(len(y), func(lo, hi int) { geluSlice(y[lo:hi], x[lo:hi]) })
}

func (cpuBackend) GELUBackward(dx, x, dy *Tensor) {
	CheckGELUBackward(dx, x, dy)
	g, xs, d := dx.F32(), x.F32(), dy.F32()
	elementwise(len(g), func(lo, hi int) { geluBackSlice(g[lo:hi], xs[lo:hi], d[lo:hi]) })
}
