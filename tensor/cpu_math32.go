package tensor

import "math"

// Float32 math for the training path's exponentials and GELU: the scalar
// twins of cpu_vec32_amd64.s's kernels, the same method and constants, each
// operation in float32. Their errors against float64, measured over a
// million inputs and asserted by TestMath32Accuracy:
//
//   - expF32: relative error at most 9.7e-8 (vector kernel 7.4e-8, about
//     1 ulp) for −87.3 ≤ x ≤ 88.3, asserted below 1.2e-7; 0 below
//     x = −88.4 and for −Inf (results under 2⁻¹²⁶, float32's normal range,
//     may be 0 or lose digits), +Inf above 88.8 (and from 88.38 on, where
//     e^x > 2^127.5). A shifted argument x − shift is rounded to float32
//     first, which adds at most |x − shift|·2⁻²⁴ relatively.
//   - geluF32 (x·Φ(x), the exact erf GELU): relative error at most 4.5e-7
//     (4 to 7 ulp: the Chebyshev fit's own 1.2e-7 and the rounding of its
//     alternating polynomial in float32), asserted below 5e-7 for
//     −13 ≤ x ≤ 10 (the result a normal float32; 0 below −14); GELU' the
//     same, 4.3e-7, relative to |Φ(x)| + |x·φ(x)| (it crosses zero near
//     x = −0.75).
//
// The scalar twin and the AVX2 kernel agree to a few ulp (the kernel fuses
// multiply-adds the twin rounds twice).

const (
	exp32Lo    float32 = -88                      // e^x below it is 0: k = −127 makes the scale 0
	exp32Hi    float32 = 88.8                     // e^x above it is +Inf: k = 128 makes the scale +Inf
	log2E32    float32 = 1.4426950408889634       // 1/ln 2
	ln2Hi32    float32 = 0.693359375              // ln 2 rounded to 9 bits: k·ln2Hi32 is exact
	ln2Lo32    float32 = -2.12194440054690583e-04 // ln 2 − ln2Hi32
	gelu32Clip float32 = 14                       // Φ(−14) is far below float32's smallest normal
	sqrt1_2f   float32 = 0.70710678118654752440   // 1/√2
	invS2Pi32  float32 = 0.39894228040143267794   // 1/√(2π)
)

// expPoly32 is e^r for |r| ≲ ln2/2: its Taylor polynomial to degree 7,
// whose first dropped term is below 5.2e-9·e^r.
func expPoly32(r float32) float32 {
	p := float32(1.0 / 5040)
	p = p*r + 1.0/720
	p = p*r + 1.0/120
	p = p*r + 1.0/24
	p = p*r + 1.0/6
	p = p*r + 0.5
	p = p*r + 1
	return p*r + 1
}

// scale2k32 is 2^k for integral k in [−127, 128] built in the exponent bits:
// +0 for k = −127, +Inf for k = 128.
func scale2k32(k float32) float32 {
	return math.Float32frombits(uint32(int32(k)+127) << 23)
}

// expF32 is e^x in float32 (error bounds above): x = k·ln2 + r, e^x =
// 2^k·e^r.
func expF32(x float32) float32 {
	if x != x {
		return x
	}
	x = min(max(x, exp32Lo), exp32Hi)
	k := float32(math.RoundToEven(float64(x * log2E32)))
	r := x - k*ln2Hi32 - k*ln2Lo32
	return expPoly32(r) * scale2k32(k)
}

// expHL32 is e^(h + l) for h + l ≤ 88, where l is small beside h's rounding
// (the low half of an exact pair): l joins the reduced argument after
// h − k·ln2Hi32, which is exact, so the pair's digits all count.
func expHL32(h, l float32) float32 {
	k := float32(math.RoundToEven(float64(max(h+l, exp32Lo) * log2E32)))
	r := (h - k*ln2Hi32 + l) - k*ln2Lo32
	return expPoly32(r) * scale2k32(k)
}

// phiF32 returns Φ(x), the standard normal distribution, and x clamped to
// [−14, 14] with e^(−xc²/2) for the density, in float32. With a = |xc|/√2
// and t = 1/(1 + a/2), erfc(a) = t·exp(−a² + P(t)), the Chebyshev fit of
// Numerical Recipes (section 6.2, relative error below 1.2e-7); a² = xc²/2
// is carried as an exact pair hi + lo, so that the tails' large exponent
// loses nothing to rounding. Φ = erfc(a)/2 for x < 0 (a relative bound where
// Φ is tiny), 1 − erfc(a)/2 else.
func phiF32(x float32) (phi, xc, e2 float32) {
	xc = min(max(x, -gelu32Clip), gelu32Clip)
	hi := xc * xc
	lo := float32(float64(xc)*float64(xc) - float64(hi)) // exact: the product's rounding error
	hi, lo = -0.5*hi, -0.5*lo
	a := float32(math.Abs(float64(xc))) * sqrt1_2f
	t := 1 / (1 + 0.5*a)
	p := float32(0.17087277)
	for _, c := range [...]float32{-0.82215223, 1.48851587, -1.13520398, 0.27886807, -0.18628806,
		0.09678418, 0.37409196, 1.00002368, -1.26551223} {
		p = p*t + c
	}
	half := t * expHL32(hi, p+lo) * 0.5
	phi = 1 - half
	if math.Signbit(float64(x)) {
		phi = half
	}
	return phi, xc, expHL32(hi, lo)
}

// geluF32 is the exact GELU x·Φ(x) in float32.
func geluF32(x float32) float32 {
	phi, _, _ := phiF32(x)
	return x * phi
}

// geluGradF32 returns GELU(x) and GELU'(x) = Φ(x) + x·φ(x) in float32.
func geluGradF32(x float32) (val, slope float32) {
	phi, xc, e2 := phiF32(x)
	return x * phi, phi + xc*(e2*invS2Pi32)
}
