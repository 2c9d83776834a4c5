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
			lnOut(out, row, gs, bs, mu, inv)
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
			lnDx(dxr, row, dyr, gs, mu, inv, sg, sgx)
		}
	})

	dgs := dgamma.F32()
	var dbs []float32
	if dbeta != nil {
		dbs = dbeta.F32()
	}
	// Whole vectors of columns per goroutine (at least 64, so that a row's
	// slice is worth a kernel call); which goroutine sums a column does not
	// change the sum.
	parallelFor(d, max(64, grainElems/max(1, n)), func(lo, hi int) {
		accG := make([]float64, hi-lo)
		var accB []float64
		if dbs != nil {
			accB = make([]float64, hi-lo)
		}
		for r := range n {
			mu, inv := float64(ms[r]), float64(rs[r])
			lnCols(accG, accB, xs[r*d+lo:r*d+hi], dys[r*d+lo:r*d+hi], mu, inv)
		}
		for j := range accG {
			dgs[lo+j] = float32(float64(dgs[lo+j]) + accG[j])
			if dbs != nil {
				dbs[lo+j] = float32(float64(dbs[lo+j]) + accB[j])
			}
		}
	})
}

// The per-element loops of LayerNorm, four float64 lanes at a time where
// the CPU has AVX2 (cpu_vec_amd64.s): the same float64 operations in the
// same order, each rounded once, so the results are bit for bit the scalar
// loops' (TestLayerNormVectorMatchesScalar). The row sums (mean, variance,
// and the backward's two means) stay scalar: summing in lanes would change
// their order.

// lnOut sets out[j] = float32((x[j] − mu)·inv·gamma[j] (+ beta[j])); beta
// may be nil.
func lnOut(out, x, gamma, beta []float32, mu, inv float64) {
	n := 0
	if useVec && len(x) >= 4 {
		n = len(x) &^ 3
		var b *float32
		if beta != nil {
			b = &beta[0]
		}
		lnOutAVX2(&out[0], &x[0], &gamma[0], b, n, mu, inv)
	}
	for j := n; j < len(x); j++ {
		o := (float64(x[j]) - mu) * inv * float64(gamma[j])
		if beta != nil {
			o += float64(beta[j])
		}
		out[j] = float32(o)
	}
}

// lnDx adds inv·(g − sg − x̂·sgx) into dx, g = dy·gamma, x̂ = (x − mu)·inv.
func lnDx(dx, x, dy, gamma []float32, mu, inv, sg, sgx float64) {
	n := 0
	if useVec && len(x) >= 4 {
		n = len(x) &^ 3
		lnDxAVX2(&dx[0], &x[0], &dy[0], &gamma[0], n, mu, inv, sg, sgx)
	}
	for j := n; j < len(x); j++ {
		g := float64(dy[j]) * float64(gamma[j])
		xhat := (float64(x[j]) - mu) * inv
		dx[j] = float32(float64(dx[j]) + inv*(g-sg-xhat*sgx))
	}
}

// lnCols adds one row's terms into the column sums: accG[j] +=
// dy[j]·(x[j] − mu)·inv, accB[j] += dy[j] (accB may be nil).
func lnCols(accG, accB []float64, x, dy []float32, mu, inv float64) {
	n := 0
	if useVec && len(x) >= 4 {
		n = len(x) &^ 3
		var b *float64
		if accB != nil {
			b = &accB[0]
		}
		lnColsAVX2(&accG[0], b, &x[0], &dy[0], n, mu, inv)
	}
	for j := n; j < len(x); j++ {
		accG[j] += float64(dy[j]) * (float64(x[j]) - mu) * inv
		if accB != nil {
			accB[j] += float64(dy[j])
		}
	}
}
