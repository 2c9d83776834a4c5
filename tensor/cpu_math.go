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
