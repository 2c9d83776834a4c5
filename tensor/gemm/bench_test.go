package gemm

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/gonum"
)

// benchShape is one product, named M×K×N: C[M×N] = A[M×K]·B[K×N], with "-NT"
// or "-TN" when B or A is stored transposed.
type benchShape struct {
	m, k, n        int
	transA, transB bool
}

func (s benchShape) String() string {
	name := fmt.Sprintf("%dx%dx%d", s.m, s.k, s.n)
	switch {
	case s.transA && s.transB:
		name += "-TT"
	case s.transA:
		name += "-TN"
	case s.transB:
		name += "-NT"
	}
	return name
}

// The square reference shape, then the GEMMs of the small ModernBERT of
// PERF.md (2048 tokens, hidden 256, MLP 768 = 2×384, vocab 4096): forward
// projections and their backward products, which read an operand transposed.
var benchShapes = []benchShape{
	{m: 1024, k: 1024, n: 1024},
	{m: 2048, k: 256, n: 768},
	{m: 2048, k: 768, n: 256},
	{m: 2048, k: 256, n: 4096},
	{m: 2048, k: 4096, n: 256},
}

var benchTransposedShapes = []benchShape{
	{m: 1024, k: 1024, n: 1024, transB: true},
	{m: 1024, k: 1024, n: 1024, transA: true},
	{m: 2048, k: 256, n: 768, transB: true}, // x·Wᵀ with W stored [out, in]
	{m: 256, k: 2048, n: 768, transA: true}, // dW = xᵀ·dy
	// The other transposed-A products of the small model's backward pass,
	// and the short products of sampling (16-32 rows times a weight [out, in]).
	{m: 768, k: 2048, n: 256, transA: true},
	{m: 4096, k: 2048, n: 256, transA: true},
	{m: 16, k: 768, n: 50368, transB: true},
	{m: 16, k: 256, n: 50368, transB: true},
	{m: 32, k: 256, n: 1024, transB: true},
	{m: 32, k: 768, n: 1024, transB: true},
}

// BenchmarkMatMul reports GFLOP/s (2·M·N·K per product). f32 is Sgemm as the
// rest of dllm calls it (fastest kernel, GOMAXPROCS threads); avx512, avx2 and
// go force one kernel; gonum is gonum's pure-Go Sgemm on the same inputs.
//
// On Linux it also reports GFLOP/cpu-s: the flops over the CPU time of all
// the process's threads. On a quiet machine that is GFLOP/s divided by the
// cores in use; on a machine shared with other work, where wall-clock numbers
// swing with the load, it still measures how well each core is used.
func BenchmarkMatMul(b *testing.B) {
	for _, s := range append(benchShapes, benchTransposedShapes...) {
		b.Run("f32/"+s.String(), func(b *testing.B) { benchSgemm(b, s, Config{}.Sgemm) })
	}
	for _, name := range Kernels() {
		for _, s := range benchShapes {
			b.Run(string(name)+"/"+s.String(), func(b *testing.B) {
				benchSgemm(b, s, Config{Kernel: name}.Sgemm)
			})
		}
	}
	for _, s := range benchShapes {
		b.Run("gonum/"+s.String(), func(b *testing.B) { benchSgemm(b, s, gonumSgemm) })
	}
}

type sgemmFunc func(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int)

func gonumSgemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	tr := func(t bool) blas.Transpose {
		if t {
			return blas.Trans
		}
		return blas.NoTrans
	}
	gonum.Implementation{}.Sgemm(tr(transA), tr(transB), m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

func benchSgemm(b *testing.B, s benchShape, sgemm sgemmFunc) {
	rng := rand.New(rand.NewPCG(1, 2))
	random := func(n int) []float32 {
		x := make([]float32, n)
		for i := range x {
			x[i] = float32(rng.Float64()*2 - 1)
		}
		return x
	}
	a, bm, c := random(s.m*s.k), random(s.k*s.n), random(s.m*s.n)
	lda, ldb := s.k, s.n
	if s.transA {
		lda = s.m
	}
	if s.transB {
		ldb = s.k
	}
	reportFlops(b, 2*float64(s.m)*float64(s.n)*float64(s.k), func() {
		sgemm(s.transA, s.transB, s.m, s.n, s.k, 1, a, lda, bm, ldb, 0, c, s.n)
	})
}

// reportFlops runs f in a benchmark loop and reports GFLOP/s and, where the
// process CPU time can be read, GFLOP/cpu-s.
func reportFlops(b *testing.B, flopsPerOp float64, f func()) {
	cpu0 := processCPU()
	for b.Loop() {
		f()
	}
	cpu := processCPU() - cpu0
	flops := flopsPerOp * float64(b.N)
	b.ReportMetric(flops/b.Elapsed().Seconds()/1e9, "GFLOP/s")
	if cpu > 0 {
		b.ReportMetric(flops/cpu.Seconds()/1e9, "GFLOP/cpu-s")
	}
}

// BenchmarkKernelTile times the micro-kernels alone on packed panels that sit
// in L1, one thread: the ceiling the blocked loops can approach.
func BenchmarkKernelTile(b *testing.B) {
	for _, name := range Kernels() {
		kern := lookup(name)
		b.Run(string(name), func(b *testing.B) {
			const kc = 128
			a := alignedFloats(kern.mr * kc)
			bp := alignedFloats(kern.nr * kc)
			c := alignedFloats(kern.mr * kern.nr)
			for i := range a {
				a[i] = float32(i%7) - 3
			}
			for i := range bp {
				bp[i] = float32(i%5) - 2
			}
			reportFlops(b, 2*float64(kern.mr*kern.nr*kc), func() {
				kern.tile(kc, a, bp, c, kern.nr, 1, 0)
			})
		})
	}
}

// BenchmarkSgemmStrided times a batch of small products shaped like
// attention scores (batch 8 × 4 heads, sequence 256, head size 64):
// S = Q·Kᵀ, 256x64x256 each with B read transposed.
func BenchmarkSgemmStrided(b *testing.B) {
	const batch, m, k, n = 32, 256, 64, 256
	rng := rand.New(rand.NewPCG(1, 3))
	random := func(n int) []float32 {
		x := make([]float32, n)
		for i := range x {
			x[i] = float32(rng.Float64()*2 - 1)
		}
		return x
	}
	q, kt, s := random(batch*m*k), random(batch*n*k), random(batch*m*n)
	b.Run(fmt.Sprintf("f32/%dx%dx%dx%d-NT", batch, m, k, n), func(b *testing.B) {
		reportFlops(b, 2*float64(batch*m*n*k), func() {
			SgemmStrided(false, true, m, n, k, 0.125, q, k, m*k, kt, k, n*k, 0, s, n, m*n, batch)
		})
	})
}
