package tensor

import "math"

// Scalar math kernels used by the CPU ops. They compute in float64, which in
// scalar Go code costs the same as float32, so every float32 result below is
// within about one float32 rounding of the exact value.

const (
	log2E = 1.4426950408889634 // 1/ln 2
	// ln 2 split in a high part with trailing zero bits and the remainder,
	// so that k·ln2Hi is exact for the |k| < 2¹¹ that occur.
	ln2Hi = 6.93147180369123816490e-01
	ln2Lo = 1.90821492927058770002e-10
	// roundMagic is 1.5·2⁵²: adding it to a float64 of magnitude < 2⁵¹ rounds
	// it to an integer held in the low bits (round to nearest even).
	roundMagic = 6755399441055744.0
	sqrt1_2    = 0.70710678118654752440 // 1/√2
	invSqrt2Pi = 0.39894228040143267794 // 1/√(2π)
)

// expF64 is e^x with a relative error below 1e-9: far more than a float32
// result needs, and faster than math.Exp because it skips the last digits.
//
// x = k·ln2 + r with |r| ≤ ln2/2, e^x = 2^k·e^r, and e^r is its Taylor
// series to degree 8 (the first dropped term is below 1e-9·e^r).
func expF64(x float64) float64 {
	switch {
	case x != x:
		return x
	case x < -708:
		return 0
	case x > 709:
		return math.Inf(1)
	}
	k := x*log2E + roundMagic - roundMagic
	r := x - k*ln2Hi - k*ln2Lo
	p := 1 + r*(1+r*(1.0/2+r*(1.0/6+r*(1.0/24+r*(1.0/120+r*(1.0/720+r*(1.0/5040+r*(1.0/40320))))))))
	return p * math.Float64frombits(uint64(int64(k)+1023)<<52)
}

// erfcPos is erfc(z) for z ≥ 0 with a relative error below 1.2e-7: the
// Chebyshev fit erfc(z) ≈ t·exp(−z² + P(t)), t = 1/(1 + z/2), of Numerical
// Recipes (section 6.2). A relative bound matters for GELU of negative
// inputs, where GELU(x) = x·erfc(−x/√2)/2 is tiny: 1 + erf(x/√2) computed from
// erf would cancel to noise there.
func erfcPos(z float64) float64 {
	t := 1 / (1 + 0.5*z)
	return t * expF64(-z*z-1.26551223+t*(1.00002368+t*(0.37409196+t*(0.09678418+
		t*(-0.18628806+t*(0.27886807+t*(-1.13520398+t*(1.48851587+
			t*(-0.82215223+t*0.17087277)))))))))
}

// normCDF is Φ(x), the standard normal distribution function, = erfc(−x/√2)/2.
func normCDF(x float64) float64 {
	z := x * sqrt1_2
	if z <= 0 {
		return 0.5 * erfcPos(-z)
	}
	return 1 - 0.5*erfcPos(z)
}

// gelu is the exact GELU, x·Φ(x) = 0.5·x·(1 + erf(x/√2)).
func gelu(x float64) float64 { return x * normCDF(x) }

// geluGrad is GELU'(x) = Φ(x) + x·φ(x), φ the standard normal density.
func geluGrad(x float64) float64 {
	return normCDF(x) + x*invSqrt2Pi*expF64(-0.5*x*x)
}

// geluAndGrad returns GELU(x) and GELU'(x) together (GeGLU's backward needs
// both).
func geluAndGrad(x float64) (g, dg float64) {
	cdf := normCDF(x)
	return x * cdf, cdf + x*invSqrt2Pi*expF64(-0.5*x*x)
}
