package tensor

import "math"

// Reductions and softmax. Sums run in float64: a float32 accumulator loses
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

// SumSquares sums x² in float64 over fixed chunks, then adds the chunks'
// sums in order: the same result for any GOMAXPROCS.
func (cpuBackend) SumSquares(x *Tensor) float64 {
	CheckSumSquares(x)
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

func (cpuBackend) Softmax(dst, src *Tensor) {
	rows, d := CheckSoftmax(dst, src)
	out, x := dst.F32(), src.F32()
	parallelFor(rows, rowGrain(d), func(lo, hi int) {
		for r := lo; r < hi; r++ {
			softmaxRow(out[r*d:(r+1)*d], x[r*d:(r+1)*d])
		}
	})
}

// softmaxRow writes softmax(x) into y (which may be x): the exponentials of
// x − max(x), summed in float64 and divided by the sum.
func softmaxRow(y, x []float32) {
	if len(x) == 0 {
		return
	}
	inv := 1 / expSum(y, x, float64(maxF32(x)))
	for j, e := range y {
		y[j] = float32(float64(e) * inv)
	}
}

// maxF32 is the largest element of x (−Inf for an empty x). NaNs compare
// false and are skipped here; they still reach the result through the sum.
func maxF32(x []float32) float32 {
	m := float32(math.Inf(-1))
	for _, v := range x {
		if v > m {
			m = v
		}
	}
	return m
}
