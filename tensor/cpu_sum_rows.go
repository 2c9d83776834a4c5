package tensor

// SumRows: the column sums of a matrix, in float64.

// SumRows adds the column sums into dst. Each goroutine owns a range of
// columns and sums them over all rows in order, so no sum depends on how the
// columns were shared out.
func (cpuBackend) SumRows(dst, src *Tensor) {
	rows, d := CheckSumRows(dst, src)
	out, x := dst.F32(), src.F32()
	parallelFor(d, max(16, grainElems/max(1, rows)), func(lo, hi int) {
		acc := make([]float64, hi-lo)
		for r := range rows {
			row := x[r*d+lo : r*d+hi]
			for j, v := range row {
				acc[j] += float64(v)
			}
		}
		for j, s := range acc {
			out[lo+j] = float32(float64(out[lo+j]) + s)
		}
	})
}
