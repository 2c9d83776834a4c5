package tensor

// Float32 slice kernels of the training path (attention's softmax and its
// backward, the cross-entropy and its backward, GELU and GeGLU): the AVX2+FMA
// kernels of cpu_vec32_amd64.s eight elements at a time, a slice's last
// n mod 8 elements in masked lanes, where the CPU has them (so an element's
// result depends only on its inputs, not on where it sits in the slice: a
// padded batch gives the logits of the unpadded one bit for bit); the scalar
// twins of cpu_math32.go on other CPUs. Error bounds: cpu_math32.go.

// exp32 sets dst[i] = e^(src[i] − shift), the difference rounded to float32
// first. dst may be src.
func exp32(dst, src []float32, shift float32) {
	n := 0
	if useVec && len(src) > 0 {
		n = len(src)
		exp32AVX2(&dst[0], &src[0], n, shift)
	}
	for i := n; i < len(src); i++ {
		dst[i] = expF32(src[i] - shift)
	}
}

// expSum32 is exp32 returning Σ dst[i], summed in float64.
func expSum32(dst, src []float32, shift float32) float64 {
	n, s := 0, 0.0
	if useVec && len(src) > 0 {
		n = len(src)
		s = expSum32AVX2(&dst[0], &src[0], n, shift)
	}
	for i := n; i < len(src); i++ {
		dst[i] = expF32(src[i] - shift)
		s += float64(dst[i])
	}
	return s
}

// addExp32 sets g[i] = g[i] + a·e^(x[i] − shift) in float32, or with write
// g[i] = a·e^(x[i] − shift) without reading g (the same values as adding into
// zeros).
func addExp32(g, x []float32, shift, a float32, write bool) {
	n := 0
	if useVec && len(x) > 0 {
		n = len(x)
		addExp32AVX2(&g[0], &x[0], n, shift, a, write)
	}
	for i := n; i < len(x); i++ {
		if write {
			g[i] = 0
		}
		g[i] += a * expF32(x[i]-shift)
	}
}

// geluSlice sets y[i] = GELU(x[i]). y may be x.
func geluSlice(y, x []float32) {
	n := 0
	if useVec && len(x) > 0 {
		n = len(x)
		gelu32AVX2(&y[0], &x[0], n)
	}
	for i := n; i < len(x); i++ {
		y[i] = geluF32(x[i])
	}
}

// geluBackSlice sets dx[i] = dx[i] + dy[i]·GELU'(x[i]).
func geluBackSlice(dx, x, dy []float32) {
	n := 0
	if useVec && len(x) > 0 {
		n = len(x)
		geluBack32AVX2(&dx[0], &x[0], &dy[0], n)
	}
	for i := n; i < len(x); i++ {
		_, s := geluGradF32(x[i])
		dx[i] += dy[i] * s
	}
}

// gegluSlice sets o[i] = GELU(u[i])·g[i] (GELU rounded, then the product).
func gegluSlice(o, u, g []float32) {
	n := 0
	if useVec && len(u) > 0 {
		n = len(u)
		geglu32AVX2(&o[0], &u[0], &g[0], n)
	}
	for i := n; i < len(u); i++ {
		o[i] = geluF32(u[i]) * g[i]
	}
}

// gegluBackSlice adds GeGLU's gradients for y = GELU(u)·g:
// du[i] += (dy[i]·g[i])·GELU'(u[i]) and dg[i] += dy[i]·GELU(u[i]); with write
// it sets them (the same values as adding into zeros) without reading du, dg.
func gegluBackSlice(du, dg, u, g, dy []float32, write bool) {
	n := 0
	if useVec && len(u) > 0 {
		n = len(u)
		gegluBack32AVX2(&du[0], &dg[0], &u[0], &g[0], &dy[0], n, write)
	}
	for i := n; i < len(u); i++ {
		if write {
			du[i], dg[i] = 0, 0
		}
		v, s := geluGradF32(u[i])
		dg[i] += dy[i] * v
		du[i] += dy[i] * g[i] * s
	}
}
