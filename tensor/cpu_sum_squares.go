package tensor

// SumSquares: Σ x² in float64, for gradient-norm clipping.

// SumSquares sums x² of each tensor in float64 and adds the tensors' sums
// in order.
func (c cpuBackend) SumSquares(xs ...*Tensor) float64 {
	CheckSumSquares(xs...)
	total := 0.0
	for _, x := range xs {
		total += sumSquares(x)
	}
	return total
}

// sumSquares sums x² in float64 over fixed chunks, then adds the chunks'
// sums in order: the same result for any GOMAXPROCS.
func sumSquares(x *Tensor) float64 {
	xs := x.F32()
	const chunk = 1 << 14
	partial := make([]float64, (len(xs)+chunk-1)/chunk)
	forChunks(len(xs), chunk, func(c, lo, hi int) {
		var s0, s1 float64
		i := lo
		for ; i+2 <= hi; i += 2 {
			a, b := float64(xs[i]), float64(xs[i+1])
			s0 += a * a
			s1 += b * b
		}
		if i < hi {
			a := float64(xs[i])
			s0 += a * a
		}
		partial[c] = s0 + s1
	})
	total := 0.0
	for _, s := range partial {
		total += s
	}
	return total
}
