package tensor

// Scale and AXPY: one loop over the flat slices each. Outputs may alias
// inputs.

func (cpuBackend) Scale(dst, src *Tensor, s float32) {
	CheckScale(dst, src)
	dst.DropPacked()
	d, x := dst.F32(), src.F32()
	elementwise(len(d), func(lo, hi int) {
		for i := lo; i < hi; i++ {
			d[i] = s * x[i]
		}
	})
}

func (cpuBackend) AXPY(dst, src *Tensor, s float32) {
	CheckAXPY(dst, src)
	dst.DropPacked()
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
