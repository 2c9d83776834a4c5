package tensor

// AddRowVector: a bias added to every row.

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
