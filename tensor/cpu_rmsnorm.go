package tensor

import "math"

// RMSNorm over the last axis (Zhang & Sennrich 2019), the normalisation of
// Llama-style models: no mean is subtracted and there is no bias.
//
//	rstd = 1/√(mean(x²) + eps),   x̂ = x·rstd,   y = x̂·(w + offset)
//
// The mean of squares is accumulated in float64, and the row is then scaled
// in float64 and rounded once per element.

// rmsNormDims checks the RMSNorm operands and returns rows and width. out is
// y in the forward pass and dx in the backward.
func rmsNormDims(op string, out, x, w, rstd *Tensor) (n, d int) {
	checkF32(op, out, x, w)
	n, d = rowsOf(op, x)
	check(SameShape(out.shape, x.shape), op, "%v and x %v differ in shape", out, x)
	check(d > 0, op, "x %v has empty rows", x)
	check(w.Numel() == d, op, "w %v must have x's last dimension %d", w, d)
	if rstd != nil {
		checkF32(op, rstd)
		check(rstd.Numel() == n, op, "rstd %v must hold one value per row of x %v", rstd, x)
	}
	return n, d
}

func (cpuBackend) RMSNorm(y, rstd, x, w *Tensor, p RMSNormParams) {
	n, d := rmsNormDims("RMSNorm", y, x, w, rstd)
	ys, xs, ws := y.F32(), x.F32(), w.F32()
	var rs []float32
	if rstd != nil {
		rs = rstd.F32()
	}
	off := float64(p.WeightOffset)
	parallelFor(n, rowGrain(d), func(lo, hi int) {
		for r := lo; r < hi; r++ {
			row, out := xs[r*d:(r+1)*d], ys[r*d:(r+1)*d]
			ss := 0.0
			for _, v := range row {
				ss += float64(v) * float64(v)
			}
			inv := 1 / math.Sqrt(ss/float64(d)+float64(p.Eps))
			for j, v := range row {
				out[j] = float32(float64(v) * inv * (float64(ws[j]) + off))
			}
			if rs != nil {
				rs[r] = float32(inv)
			}
		}
	})
}

// RMSNormBackward. With g = dy ⊙ (w + offset), the derivative of
// y_j = x_j·rstd·(w_j + offset) through rstd = (mean(x²) + eps)^(−1/2),
// ∂rstd/∂x_k = −rstd³·x_k/D, gives per row
//
//	dx_k += rstd·g_k − rstd³·x_k·Σ_j g_j·x_j / D = rstd·(g_k − x̂_k·mean(g ⊙ x̂))
//	dw_j += Σ_rows dy_j·x̂_j
//
// dx is computed row by row; dw is a sum over rows, done in a second pass in
// which each goroutine owns a range of columns (as LayerNormBackward), so it
// comes out the same for any GOMAXPROCS.
func (cpuBackend) RMSNormBackward(dx, dw, dy, x, rstd, w *Tensor, p RMSNormParams) {
	const op = "RMSNormBackward"
	check(rstd != nil, op, "needs rstd from the forward pass")
	n, d := rmsNormDims(op, dx, x, w, rstd)
	checkF32(op, dy)
	check(SameShape(dy.shape, x.shape), op, "dy %v and x %v differ in shape", dy, x)
	if dw != nil {
		checkF32(op, dw)
		check(dw.Numel() == d, op, "dw %v must have x's last dimension %d", dw, d)
	}
	dxs, dys, xs, rs, ws := dx.F32(), dy.F32(), x.F32(), rstd.F32(), w.F32()
	off := float64(p.WeightOffset)

	parallelFor(n, rowGrain(d), func(lo, hi int) {
		for r := lo; r < hi; r++ {
			row, dyr, dxr := xs[r*d:(r+1)*d], dys[r*d:(r+1)*d], dxs[r*d:(r+1)*d]
			inv := float64(rs[r])
			sgx := 0.0 // Σ g ⊙ x̂
			for j, v := range row {
				sgx += float64(dyr[j]) * (float64(ws[j]) + off) * float64(v) * inv
			}
			sgx /= float64(d)
			for j, v := range row {
				g := float64(dyr[j]) * (float64(ws[j]) + off)
				dxr[j] = float32(float64(dxr[j]) + inv*(g-float64(v)*inv*sgx))
			}
		}
	})

	if dw == nil {
		return
	}
	dws := dw.F32()
	parallelFor(d, max(16, grainElems/max(1, n)), func(lo, hi int) {
		acc := make([]float64, hi-lo)
		for r := range n {
			inv := float64(rs[r])
			row, dyr := xs[r*d+lo:r*d+hi], dys[r*d+lo:r*d+hi]
			for j, v := range row {
				acc[j] += float64(dyr[j]) * float64(v) * inv
			}
		}
		for j, a := range acc {
			dws[lo+j] = float32(float64(dws[lo+j]) + a)
		}
	})
}
