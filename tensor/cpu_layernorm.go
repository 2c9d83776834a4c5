package tensor

import "math"

// LayerNorm over the last axis. Mean and variance use two passes in float64
// (SPEC section 8: accumulate in at least float32; the variance as the mean
// of (x − μ)² never goes negative the way E[x²] − μ² can).

func (cpuBackend) LayerNorm(y, mean, rstd, x, gamma, beta *Tensor, eps float32) {
	n, d := CheckLayerNorm(y, mean, rstd, x, gamma, beta)
	ys, xs, gs := y.F32(), x.F32(), gamma.F32()
	var bs, ms, rs []float32
	if beta != nil {
		bs = beta.F32()
	}
	if mean != nil {
		ms = mean.F32()
	}
	if rstd != nil {
		rs = rstd.F32()
	}
	parallelFor(n, rowGrain(d), func(lo, hi int) {
		for r := lo; r < hi; r++ {
			row, out := xs[r*d:(r+1)*d], ys[r*d:(r+1)*d]
			mu := sumF64(row) / float64(d)
			v := 0.0
			for _, xv := range row {
				c := float64(xv) - mu
				v += c * c
			}
			inv := 1 / math.Sqrt(v/float64(d)+float64(eps))
			for j, xv := range row {
				o := (float64(xv) - mu) * inv * float64(gs[j])
				if bs != nil {
					o += float64(bs[j])
				}
				out[j] = float32(o)
			}
			if ms != nil {
				ms[r] = float32(mu)
			}
			if rs != nil {
				rs[r] = float32(inv)
			}
		}
	})
}

// LayerNormBackward, with x̂ = (x − μ)·rstd and g = dy ⊙ gamma:
//
//	dx     += rstd·(g − mean(g) − x̂·mean(g ⊙ x̂))   per row
//	dgamma += Σ_rows dy ⊙ x̂,   dbeta += Σ_rows dy
//
// dx is a per-row computation; dgamma and dbeta are sums over rows, done in a
// second pass in which each goroutine owns a range of columns (see
// cpu_parallel.go), so they come out the same for any GOMAXPROCS.
func (cpuBackend) LayerNormBackward(dx, dgamma, dbeta, dy, x, mean, rstd, gamma *Tensor) {
	n, d := CheckLayerNormBackward(dx, dgamma, dbeta, dy, x, mean, rstd, gamma)
	dxs, dys, xs, ms, rs, gs := dx.F32(), dy.F32(), x.F32(), mean.F32(), rstd.F32(), gamma.F32()

	parallelFor(n, rowGrain(d), func(lo, hi int) {
		for r := lo; r < hi; r++ {
			row, dyr, dxr := xs[r*d:(r+1)*d], dys[r*d:(r+1)*d], dxs[r*d:(r+1)*d]
			mu, inv := float64(ms[r]), float64(rs[r])
			var sg, sgx float64
			for j, xv := range row {
				g := float64(dyr[j]) * float64(gs[j])
				sg += g
				sgx += g * (float64(xv) - mu) * inv
			}
			sg /= float64(d)
			sgx /= float64(d)
			for j, xv := range row {
				g := float64(dyr[j]) * float64(gs[j])
				xhat := (float64(xv) - mu) * inv
				dxr[j] = float32(float64(dxr[j]) + inv*(g-sg-xhat*sgx))
			}
		}
	})

	dgs := dgamma.F32()
	var dbs []float32
	if dbeta != nil {
		dbs = dbeta.F32()
	}
	parallelFor(d, max(16, grainElems/max(1, n)), func(lo, hi int) {
		accG := make([]float64, hi-lo)
		accB := make([]float64, hi-lo)
		for r := range n {
			mu, inv := float64(ms[r]), float64(rs[r])
			row, dyr := xs[r*d+lo:r*d+hi], dys[r*d+lo:r*d+hi]
			for j, xv := range row {
				accG[j] += float64(dyr[j]) * (float64(xv) - mu) * inv
				accB[j] += float64(dyr[j])
			}
		}
		for j := range accG {
			dgs[lo+j] = float32(float64(dgs[lo+j]) + accG[j])
			if dbs != nil {
				dbs[lo+j] = float32(float64(dbs[lo+j]) + accB[j])
			}
		}
	})
}
