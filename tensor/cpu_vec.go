package tensor

import "math"

// Slice kernels in float64 for the exponentials of SwiGLU's sigmoid and the
// samplers' normaliser (the training path's float32 ones are in
// cpu_vec32.go), and the vectorised elementwise helpers: the AVX2+FMA
// versions where the CPU has them, the scalar code of cpu_math.go for the
// rest of a slice and on other CPUs. The exponentials compute the same
// float64 formulas and round once to float32, so they agree to within a
// float32 rounding.

// expSum sets dst[i] = e^(src[i] − shift) and returns Σ e^(src[i] − shift)
// summed in float64. dst may be src.
func expSum(dst, src []float32, shift float64) float64 {
	n, s := 0, 0.0
	if useVec && len(src) >= 8 {
		n = len(src) &^ 7
		s = expSumAVX2(&dst[0], &src[0], n, shift)
	}
	for i := n; i < len(src); i++ {
		e := expF64(float64(src[i]) - shift)
		dst[i] = float32(e)
		s += e
	}
	return s
}

// SumExp returns Σ e^(x[i] − shift) summed in float64, each exponential
// computed in float64 from the float32 x[i] with a relative error below
// 1e-9 (see expF64), with AVX2+FMA where the CPU has them. It is the
// normaliser of a softmax over float32 logits, for the samplers.
func SumExp(x []float32, shift float64) float64 {
	n, s := 0, 0.0
	if useVec && len(x) >= 8 {
		n = len(x) &^ 7
		s = sumExpAVX2(&x[0], n, shift)
	}
	for i := n; i < len(x); i++ {
		s += expF64(float64(x[i]) - shift)
	}
	return s
}

// scaleF64 sets x[i] = float32(float64(x[i])·s), one rounding per element
// (the same result with or without AVX2): the normalisation of a softmax
// row by its float64 sum.
func scaleF64(x []float32, s float64) {
	n := 0
	if useVec && len(x) >= 8 {
		n = len(x) &^ 7
		scaleF64AVX2(&x[0], n, s)
	}
	for i := n; i < len(x); i++ {
		x[i] = float32(float64(x[i]) * s)
	}
}

// IndexF32 returns the first index i with x[i] == v (as Go's ==: a NaN v
// is found nowhere, −0 and +0 are equal), or −1, comparing eight at a time
// with AVX2 where the CPU has it. It is the second pass of the samplers'
// float32 argmax: the first index of the maximum MaxF32 found.
func IndexF32(x []float32, v float32) int {
	n := 0
	if useVec && len(x) >= 8 {
		n = len(x) &^ 7
		if i := indexEqAVX2(&x[0], n, v); i < n {
			return i
		}
	}
	for i := n; i < len(x); i++ {
		if x[i] == v {
			return i
		}
	}
	return -1
}

// MaxF32 returns the largest element of x (−Inf for an empty x) and whether
// any element is NaN (NaNs are left out of the maximum), with AVX2 where
// the CPU has it. It is the first pass of the samplers' float32 argmax.
func MaxF32(x []float32) (m float32, nan bool) {
	m = float32(math.Inf(-1))
	n := 0
	if useVec && len(x) >= 8 {
		n = len(x) &^ 7
		m, nan = maxNaNAVX2(&x[0], n)
		if nan {
			m = float32(math.Inf(-1)) // the vector maximum may have started at a NaN
			n = 0
		}
	}
	for _, v := range x[n:] {
		if v != v {
			nan = true
		} else if v > m {
			m = v
		}
	}
	return m, nan
}

// addF32 sets dst[i] = x[i] + v[i], one float32 add per element (the same
// result with or without AVX2). dst may be x; len(x) and len(v) ≥ len(dst).
func addF32(dst, x, v []float32) {
	n := 0
	if useVec && len(dst) >= 8 {
		n = len(dst) &^ 7
		addF32AVX2(&dst[0], &x[0], &v[0], n)
	}
	for i := n; i < len(dst); i++ {
		dst[i] = x[i] + v[i]
	}
}

// subMul sets d[i] = p[i]·(d[i] − s) in float32 (the same result with or
// without AVX2); len(p) ≥ len(d).
func subMul(d, p []float32, s float32) {
	n := 0
	if useVec && len(d) >= 8 {
		n = len(d) &^ 7
		subMulAVX2(&d[0], &p[0], n, s)
	}
	for i := n; i < len(d); i++ {
		d[i] = p[i] * (d[i] - s)
	}
}
