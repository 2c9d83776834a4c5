package tensor

import "math"

// Cast: F32 <-> BF16 (round to nearest even) and I32 <-> I64, elementwise.

func (cpuBackend) Cast(dst, src *Tensor) {
	CheckCast(dst, src)
	dst.DropPacked()
	switch {
	case dst.dtype == src.dtype:
		cpuBackend{}.Copy(dst, src)
	case src.dtype == F32 && dst.dtype == BF16:
		s, d := src.F32(), dst.BF16Bits()
		elementwise(len(d), func(lo, hi int) {
			for i := lo; i < hi; i++ {
				d[i] = BF16FromF32(s[i])
			}
		})
	case src.dtype == BF16 && dst.dtype == F32:
		s, d := src.BF16Bits(), dst.F32()
		elementwise(len(d), func(lo, hi int) {
			for i := lo; i < hi; i++ {
				d[i] = F32FromBF16(s[i])
			}
		})
	case src.dtype == I32 && dst.dtype == I64:
		s, d := src.I32(), dst.I64()
		for i, v := range s {
			d[i] = int64(v)
		}
	case src.dtype == I64 && dst.dtype == I32:
		s, d := src.I64(), dst.I32()
		for i, v := range s {
			check(v >= math.MinInt32 && v <= math.MaxInt32, "Cast", "%v <- %v: value %d at %d does not fit in I32", dst, src, v, i)
			d[i] = int32(v)
		}
	default:
		check(false, "Cast", "no cast from %v to %v", src, dst)
	}
}
