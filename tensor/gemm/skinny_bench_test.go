package gemm

import (
	"math/rand/v2"
	"testing"
	"time"
)

// BenchmarkSkinny times the short products of sampling (16-32 rows of a
// step's hidden states times a weight stored [out, in], B read transposed)
// three ways in turn within each iteration, so that all see the same load:
// "noedge" is Sgemm with full tiles computed and cut for the last rows (the
// driver before the edge kernels), "sgemm" is Sgemm, "packed" is SgemmPacked
// on the weight packed once. It reports each one's GFLOP/s and the ratios
// sgemm/noedge and packed/noedge.
func BenchmarkSkinny(b *testing.B) {
	for _, s := range []benchShape{
		{m: 16, k: 768, n: 50368, transB: true},
		{m: 16, k: 256, n: 50368, transB: true},
		{m: 32, k: 256, n: 1024, transB: true},
		{m: 16, k: 768, n: 2304, transB: true},
		{m: 32, k: 768, n: 768, transB: true},
	} {
		b.Run(s.String(), func(b *testing.B) {
			rng := rand.New(rand.NewPCG(1, 2))
			random := func(n int) []float32 {
				x := make([]float32, n)
				for i := range x {
					x[i] = float32(rng.Float64()*2 - 1)
				}
				return x
			}
			a, w, c := random(s.m*s.k), random(s.n*s.k), make([]float32, s.m*s.n)
			kern := lookup(Auto)
			noEdge := *kern
			noEdge.edges = nil
			pb := PackB(true, s.n, s.k, w, s.k)
			var tNo, tEdge, tPacked time.Duration
			timeIt := func(d *time.Duration, f func()) {
				t0 := time.Now()
				f()
				*d += time.Since(t0)
			}
			for b.Loop() {
				timeIt(&tNo, func() {
					g := newProblem("Sgemm", false, true, s.m, s.n, s.k, 1, a, s.k, w, s.k, 0, c, s.n)
					g.run(&noEdge, Threads())
				})
				timeIt(&tEdge, func() { Sgemm(false, true, s.m, s.n, s.k, 1, a, s.k, w, s.k, 0, c, s.n) })
				timeIt(&tPacked, func() { SgemmPacked(false, s.m, 1, a, s.k, pb, 0, c, s.n) })
			}
			flops := 2 * float64(s.m*s.n*s.k) * float64(b.N) / 1e9
			b.ReportMetric(flops/tNo.Seconds(), "noedge-GFLOP/s")
			b.ReportMetric(flops/tEdge.Seconds(), "sgemm-GFLOP/s")
			b.ReportMetric(flops/tPacked.Seconds(), "packed-GFLOP/s")
			b.ReportMetric(tNo.Seconds()/tEdge.Seconds(), "sgemm/noedge")
			b.ReportMetric(tNo.Seconds()/tPacked.Seconds(), "packed/noedge")
		})
	}
}
