package tensor

// Add, Sub, Mul: one loop over the flat slices each, cut into parallel
// chunks when the tensor is large. Outputs may alias inputs.

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
