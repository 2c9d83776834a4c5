package safetensors

import "math"

// Half-precision conversions, written with bit operations so that they are exact
// and fast. The tests check them against float64 arithmetic over every 16-bit
// pattern and across random float32 inputs.
//
// binary16 (F16): 1 sign bit, 5 exponent bits (bias 15), 10 mantissa bits.
// bfloat16 (BF16): the top 16 bits of a float32: 1 sign, 8 exponent (bias 127), 7 mantissa.

// F16ToF32 converts an IEEE binary16 value to float32. Every binary16 value,
// subnormals included, is exactly representable as a float32.
func F16ToF32(h uint16) float32 {
	sign := uint32(h&0x8000) << 16
	exp := uint32(h>>10) & 0x1f
	mant := uint32(h & 0x3ff)
	switch exp {
	case 0:
		// Zero or subnormal: mant * 2^-24. The product is exact in float32
		// because mant has at most 10 bits and the factor is a power of two.
		f := float32(mant) * (1.0 / (1 << 24))
		return math.Float32frombits(math.Float32bits(f) | sign)
	case 0x1f:
		// Infinity (mant 0) or NaN; the payload moves to the top mantissa bits.
		return math.Float32frombits(sign | 0x7f800000 | mant<<13)
	default:
		return math.Float32frombits(sign | (exp+127-15)<<23 | mant<<13)
	}
}

// F32ToF16 converts a float32 to the nearest IEEE binary16 value, ties to even.
// Magnitudes from 65520 up become infinity, magnitudes up to 2^-25 become zero
// (2^-25 itself is a tie and goes to the even zero), and NaN stays NaN.
func F32ToF16(f float32) uint16 {
	b := math.Float32bits(f)
	sign := uint16(b>>16) & 0x8000
	exp := int(b>>23) & 0xff
	mant := b & 0x7fffff

	if exp == 0xff {
		if mant == 0 {
			return sign | 0x7c00
		}
		// Keep the top payload bits; force the quiet bit so that a payload living
		// only in the low bits does not turn the NaN into an infinity.
		return sign | 0x7c00 | 0x200 | uint16(mant>>13)
	}

	e := exp - 127 + 15 // biased binary16 exponent
	if e >= 0x1f {
		return sign | 0x7c00 // too large even before rounding
	}
	if e <= 0 {
		// The result is subnormal (or zero): shift the full significand, implicit
		// bit included, right so that its unit is 2^-24.
		if e < -10 {
			return sign // below 2^-25: rounds to zero
		}
		sig := mant | 0x800000
		shift := uint(14 - e)
		m := sig >> shift
		rem := sig & (1<<shift - 1)
		half := uint32(1) << (shift - 1)
		if rem > half || (rem == half && m&1 == 1) {
			m++ // may carry into the smallest normal, 0x400, which is correct
		}
		return sign | uint16(m)
	}
	h := uint32(e)<<10 | mant>>13
	rem := mant & 0x1fff
	if rem > 0x1000 || (rem == 0x1000 && h&1 == 1) {
		h++ // a carry out of the mantissa bumps the exponent; 0x7c00 is infinity
	}
	return sign | uint16(h)
}

// BF16ToF32 converts a bfloat16 value to float32: the bits become the top half.
func BF16ToF32(h uint16) float32 {
	return math.Float32frombits(uint32(h) << 16)
}

// F32ToBF16 converts a float32 to the nearest bfloat16, ties to even. Values that
// round past the largest finite bfloat16 become infinity; NaN stays NaN.
func F32ToBF16(f float32) uint16 {
	b := math.Float32bits(f)
	if b&0x7fffffff > 0x7f800000 {
		return uint16(b>>16) | 0x40 // NaN: keep sign and payload, set the quiet bit
	}
	// Adding 0x7fff rounds up exactly when the low half exceeds one half ulp; the
	// extra lsb of the kept half turns the exact tie into round-to-even.
	b += 0x7fff + (b>>16)&1
	return uint16(b >> 16)
}
