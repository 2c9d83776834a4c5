package tensor

// Softmax over the last axis: max-subtracted, the float32 exponentials
// (cpu_math32.go) summed in float64, the same arithmetic as the fused
// attention's softmax (softmaxVisible), so that attention composed from
// ops (a block cache's, a dense mask's) gives the fused kernel's
// probabilities bit for bit.

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
// x − max(x), summed in float64, each multiplied by 1/sum in float64 and
// rounded once.
func softmaxRow(y, x []float32) {
	if len(x) == 0 {
		return
	}
	scaleF64(y, 1/expSum32(y, x, maxF32(x)))
}

// maxF32 is the largest element of x (−Inf for an empty x), with AVX2
// where the CPU has it (MaxF32). NaNs are skipped here; they still reach the
// result through the sum.
func maxF32(x []float32) float32 {
	m, _ := MaxF32(x)
	return m
}
