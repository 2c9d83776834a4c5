package tensor

import "math"

// Elementwise ops and casts. Each is a loop over a flat slice, cut into
// parallel chunks when the tensor is large. Outputs may alias inputs.

// checkF32 panics unless every tensor is F32.
func checkF32(op string, ts ...*Tensor) {
	for _, t := range ts {
		check(t.dtype == F32, op, "%v is not F32", t)
	}
}

// checkSameNumel panics unless all tensors hold the same number of elements.
func checkSameNumel(op string, ts ...*Tensor) {
	for _, t := range ts[1:] {
		check(t.Numel() == ts[0].Numel(), op, "element counts differ: %v and %v", ts[0], t)
	}
}

// elementwise runs body over [0, n) in parallel chunks.
func elementwise(n int, body func(lo, hi int)) { parallelFor(n, grainElems, body) }

func (cpuBackend) Cast(dst, src *Tensor) {
	check(dst.Numel() == src.Numel(), "Cast", "element counts differ: %v <- %v", dst, src)
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
	checkF32("Add", dst, a, b)
	checkSameNumel("Add", dst, a, b)
	d, x, y := dst.F32(), a.F32(), b.F32()
	elementwise(len(d), func(lo, hi int) {
		for i := lo; i < hi; i++ {
			d[i] = x[i] + y[i]
		}
	})
}

func (cpuBackend) Sub(dst, a, b *Tensor) {
	checkF32("Sub", dst, a, b)
	checkSameNumel("Sub", dst, a, b)
	d, x, y := dst.F32(), a.F32(), b.F32()
	elementwise(len(d), func(lo, hi int) {
		for i := lo; i < hi; i++ {
			d[i] = x[i] - y[i]
		}
	})
}

func (cpuBackend) Mul(dst, a, b *Tensor) {
	checkF32("Mul", dst, a, b)
	checkSameNumel("Mul", dst, a, b)
	d, x, y := dst.F32(), a.F32(), b.F32()
	elementwise(len(d), func(lo, hi int) {
		for i := lo; i < hi; i++ {
			d[i] = x[i] * y[i]
		}
	})
}

func (cpuBackend) Scale(dst, src *Tensor, s float32) {
	checkF32("Scale", dst, src)
	checkSameNumel("Scale", dst, src)
	d, x := dst.F32(), src.F32()
	elementwise(len(d), func(lo, hi int) {
		for i := lo; i < hi; i++ {
			d[i] = s * x[i]
		}
	})
}

func (cpuBackend) AXPY(dst, src *Tensor, s float32) {
	checkF32("AXPY", dst, src)
	checkSameNumel("AXPY", dst, src)
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
	checkF32("AddRowVector", x, v)
	check(x.Rank() >= 1 && v.Numel() == x.Dim(-1), "AddRowVector", "x %v, v %v: v must have x's last dimension", x, v)
	d := x.Dim(-1)
	if d == 0 {
		return
	}
	xs, vs := x.F32(), v.F32()
	rows := len(xs) / d
	parallelFor(rows, rowGrain(d), func(lo, hi int) {
		for r := lo; r < hi; r++ {
			row := xs[r*d : (r+1)*d]
			for j, b := range vs {
				row[j] += b
			}
		}
	})
}
