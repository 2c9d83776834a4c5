package tensor

import "math"

// Elementwise ops and casts. Each is a loop over a flat slice, cut into
// parallel chunks when the tensor is large. Outputs may alias inputs.

// elementwise runs body over [0, n) in parallel chunks.
func elementwise(n int, body func(lo, hi int)) { parallelFor(n, grainElems, body) }

func (cpuBackend) Cast(dst, src *Tensor) {
	CheckCast(dst, src)
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

func (cpuBackend) Add(dst, a, b *Tensor) {
	CheckAdd(dst, a, b)
	d, x, y := dst.F32(), a.F32(), b.F32()
	elementwise(len(d), func(lo, hi int) {
		for i := lo; i < hi; i++ {
			d[i] = x[i] + y[i]
		}
	})
}

func (cpuBackend) Sub(dst, a, b *Tensor) {
	CheckSub(dst, a, b)
	d, x, y := dst.F32(), a.F32(), b.F32()
	elementwise(len(d), func(lo, hi int) {
		for i := lo; i < hi; i++ {
			d[i] = x[i] - y[i]
		}
	})
}

func (cpuBackend) Mul(dst, a, b *Tensor) {
	CheckMul(dst, a, b)
	d, x, y := dst.F32(), a.F32(), b.F32()
	elementwise(len(d), func(lo, hi int) {
		for i := lo; i < hi; i++ {
			d[i] = x[i] * y[i]
		}
	})
}

func (cpuBackend) Scale(dst, src *Tensor, s float32) {
	CheckScale(dst, src)
	d, x := dst.F32(), src.F32()
	elementwise(len(d), func(lo, hi int) {
		for i := lo; i < hi; i++ {
			d[i] = s * x[i]
		}
	})
}

func (cpuBackend) AXPY(dst, src *Tensor, s float32) {
	CheckAXPY(dst, src)
	d, x := dst.F32(), src.F32()
	elementwise(len(d), func(lo, hi int) {
		for i := lo; i < hi; i++ {
			// The explicit conversion keeps the product rounded on its own,
			// as on every other architecture, instead of letting the compiler
			// fuse it into an FMA.
			d[i] += float32(s * x[i])
		}
	})
}

func (cpuBackend) AddRowVector(x, v *Tensor) {
	rows, d := CheckAddRowVector(x, v)
	if d == 0 {
		return
	}
	xs, vs := x.F32(), v.F32()
	parallelFor(rows, rowGrain(d), func(lo, hi int) {
		for r := lo; r < hi; r++ {
			row := xs[r*d : (r+1)*d]
			for j, b := range vs {
				row[j] += b
			}
		}
	})
}
