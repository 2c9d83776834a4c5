package tensor

// SumLastAxis and MeanLastAxis. Sums run in float64: a float32 accumulator loses
// about log2(n) bits over n terms, a float64 one none that a float32 result
// can show.

func (cpuBackend) SumLastAxis(dst, src *Tensor) {
	rows, d := CheckSumLastAxis(dst, src)
	sumLastAxis(dst, src, rows, d, false)
}

func (cpuBackend) MeanLastAxis(dst, src *Tensor) {
	rows, d := CheckMeanLastAxis(dst, src)
	sumLastAxis(dst, src, rows, d, true)
}

// sumLastAxis sets dst to the sums (or means) of the rows of src.
func sumLastAxis(dst, src *Tensor, rows, d int, mean bool) {
	out, x := dst.F32(), src.F32()
	parallelFor(rows, rowGrain(d), func(lo, hi int) {
		for r := lo; r < hi; r++ {
			s := sumF64(x[r*d : (r+1)*d])
			if mean {
				s /= float64(d)
			}
			out[r] = float32(s)
		}
	})
}

// sumF64 sums x in float64, with four accumulators so that consecutive adds
// do not wait for each other.
func sumF64(x []float32) float64 {
	var s0, s1, s2, s3 float64
	i := 0
	for ; i+4 <= len(x); i += 4 {
		s0 += float64(x[i])
		s1 += float64(x[i+1])
		s2 += float64(x[i+2])
		s3 += float64(x[i+3])
	}
	for ; i < len(x); i++ {
		s0 += float64(x[i])
	}
	return (s0 + s1) + (s2 + s3)
}
