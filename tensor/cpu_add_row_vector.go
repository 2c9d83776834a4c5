package tensor

// AddRowVector: a bias added to every row.

func (c cpuBackend) AddRowVector(x, v *Tensor) { c.AddRowVectorTo(x, x, v) }

// AddRowVectorTo sets dst = x + v with v [D] added to every row of x
// [N, D], in one pass (dst may be x). It is what Copy then AddRowVector
// compute, bit for bit, without the second pass over dst; a backend may
// offer it (see BiasAdder).
func (cpuBackend) AddRowVectorTo(dst, x, v *Tensor) {
	rows, d := CheckAddRowVector(x, v)
	if dst != x {
		CheckCopy(dst, x)
		dst.DropPacked()
	}
	if d == 0 {
		return
	}
	ds, xs, vs := dst.F32(), x.F32(), v.F32()
	parallelFor(rows, rowGrain(d), func(lo, hi int) {
		for r := lo; r < hi; r++ {
			addF32(ds[r*d:(r+1)*d], xs[r*d:(r+1)*d], vs)
		}
	})
}

// BiasAdder is a Backend that adds a bias into a new tensor in one pass:
// AddRowVectorTo(dst, x, v) is Copy(dst, x) then AddRowVector(dst, v).
// The CPU backend is one; callers fall back to the two calls otherwise.
type BiasAdder interface {
	AddRowVectorTo(dst, x, v *Tensor)
}
