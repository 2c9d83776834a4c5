package gemm

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/require"
)

// TestSgemmPackedEqualsSgemm: a product with B packed once equals Sgemm's bit
// for bit, for every kernel (with its own blocks, and with blocks of a few
// tiles so that small products cross every k and column block), both layouts
// of A and B, edge tiles in every direction, and 1 or 3 goroutines; and it is
// within the float64 reference's rounding bound.
func TestSgemmPackedEqualsSgemm(t *testing.T) {
	defer func(w int) { minWorkPerThread = w }(minWorkPerThread)
	minWorkPerThread = 1 // small products on many goroutines too
	rng := rand.New(rand.NewPCG(23, 1))
	shapes := []struct{ m, n, k int }{
		{1, 1, 1}, {16, 50, 37}, {3, 129, 300}, {31, 200, 70}, {20, 300, 40}, {0, 5, 5}, {5, 5, 0},
	}
	for _, kname := range Kernels() {
		for _, small := range []bool{false, true} {
			kern := lookup(kname)
			if small {
				kern = withSmallBlocks(kern)
			}
			for _, s := range shapes {
				for _, tr := range [][2]bool{{false, true}, {false, false}, {true, true}, {true, false}} {
					transA, transB := tr[0], tr[1]
					for _, threads := range []int{1, 2, 3} {
						name := fmt.Sprintf("%s/small=%t/%dx%dx%d/tA=%t,tB=%t/threads=%d", kname, small, s.m, s.n, s.k, transA, transB, threads)
						t.Run(name, func(t *testing.T) {
							ar, ac := s.m, s.k
							if transA {
								ar, ac = ac, ar
							}
							br, bc := s.k, s.n
							if transB {
								br, bc = bc, br
							}
							a, b := randomMatrix(rng, ar, ac, 3), randomMatrix(rng, br, bc, 2)
							c0 := randomMatrix(rng, s.m, s.n, 1)
							for i := range c0.data {
								if i%c0.ld >= s.n {
									c0.data[i] = float32(math.Inf(1)) // padding must stay
								}
							}
							alpha, beta := float32(0.75), float32(-0.5)
							want := append([]float32(nil), c0.data...)
							g := newProblem("test", transA, transB, s.m, s.n, s.k, alpha, a.data, a.ld, b.data, b.ld, beta, want, c0.ld)
							g.run(kern, threads)
							pb := packB(kern, threads, transB, s.n, s.k, b.data, b.ld)
							require.Equal(t, s.n, pb.N())
							require.Equal(t, s.k, pb.K())
							for range 2 { // the packed copy is reused unchanged
								got := append([]float32(nil), c0.data...)
								Config{Threads: threads}.SgemmPacked(transA, s.m, alpha, a.data, a.ld, pb, beta, got, c0.ld)
								requireSameBits(t, want, got)
							}
							if s.m*s.n*s.k > 0 {
								ref, scale := reference(transA, transB, s.m, s.n, s.k, alpha, a, b, beta, c0)
								checkProduct(t, matrix{rows: s.m, cols: s.n, ld: c0.ld, data: want}, ref, scale, s.k)
							}
						})
					}
				}
			}
		}
	}
}

func requireSameBits(t *testing.T, want, got []float32) {
	t.Helper()
	require.Len(t, got, len(want))
	for i := range want {
		if math.Float32bits(want[i]) != math.Float32bits(got[i]) {
			t.Fatalf("element %d: packed %g, Sgemm %g", i, got[i], want[i])
		}
	}
}

// TestSgemmPackedChecks: bad shapes panic with the function's name.
func TestSgemmPackedChecks(t *testing.T) {
	b := make([]float32, 12)
	require.PanicsWithValue(t, "gemm.PackB(transA=false, transB=true, m=0, n=4, k=4, lda=4, ldb=4, ldc=4): len(b)=12 < 16",
		func() { PackB(true, 4, 4, b, 4) })
	pb := PackB(true, 3, 4, b, 4)
	require.Equal(t, 4*4*ceilDiv(3, pb.kern.nr)*pb.kern.nr, pb.Bytes())
	require.Panics(t, func() { SgemmPacked(false, 2, 1, make([]float32, 7), 4, pb, 0, make([]float32, 6), 3) })
	require.Panics(t, func() { SgemmPacked(false, 2, 1, make([]float32, 8), 4, pb, 0, make([]float32, 5), 3) })
}

// TestEdgeKernelsRoundAsFullTiles: the last rows of C, which an edge kernel
// of fewer rows computes, equal bit for bit the same rows computed inside a
// full tile (a taller product sharing those rows of A), for every row count,
// with and without beta, with full and partial column tiles.
func TestEdgeKernelsRoundAsFullTiles(t *testing.T) {
	rng := rand.New(rand.NewPCG(23, 4))
	for _, kname := range Kernels() {
		kern := lookup(kname)
		for r := 1; r < kern.mr; r++ {
			for _, n := range []int{kern.nr, 2*kern.nr + 5} {
				for _, beta := range []float32{0, 0.5} {
					m, tall, k := kern.mr+r, 2*kern.mr, 37
					a := randomMatrix(rng, tall, k, 0)
					b := randomMatrix(rng, k, n, 0)
					c0 := randomMatrix(rng, tall, n, 0)
					short := append([]float32(nil), c0.data[:m*n]...)
					full := append([]float32(nil), c0.data...)
					gs := newProblem("test", false, false, m, n, k, 1.5, a.data, k, b.data, n, beta, short, n)
					gs.run(kern, 1)
					gf := newProblem("test", false, false, tall, n, k, 1.5, a.data, k, b.data, n, beta, full, n)
					gf.run(kern, 1)
					requireSameBits(t, full[:m*n], short)
				}
			}
		}
	}
}

// TestSplitPackedCutsShortProductsAlongN: with B packed, a product of 16
// rows (a 14-row tile and 2 rows) is shared by columns, both goroutines
// taking all rows, instead of a band of 14 rows and one of 2 that each
// stream all of B; products of many rows keep split's choice.
func TestSplitPackedCutsShortProductsAlongN(t *testing.T) {
	kern := &kernel{mr: 14, nr: 32, mc: 224, kc: 256, nc: 3072} // AVX-512's geometry
	for _, c := range []struct{ threads, m, n, k, rows, cols int }{
		{2, 16, 3072, 256, 1, 2},
		{2, 24, 3072, 768, 1, 2},
		{2, 8, 3072, 256, 1, 2},
		{2, 192, 768, 256, 2, 1},
		{2, 192, 256, 384, 2, 1},
		{4, 20, 3072, 256, 1, 4},
		{1, 16, 3072, 256, 1, 1},
	} {
		r, cl := splitPacked(c.threads, c.m, c.n, c.k, kern)
		require.Equal(t, [2]int{c.rows, c.cols}, [2]int{r, cl}, "%+v", c)
		if c.m > 2*kern.mr {
			r0, c0 := split(c.threads, c.m, c.n, c.k, kern)
			require.Equal(t, [2]int{r0, c0}, [2]int{r, cl}, "split's choice for %+v", c)
		}
	}
}

// TestLargePackedBInHugePages: a packed B of hugePacked bytes or more lives
// in its own mapping (mapHuge, where the system has one) and multiplies
// exactly as Sgemm does; once unreachable, the mapping is unmapped by the
// cleanup, which a later product must not notice.
func TestLargePackedBInHugePages(t *testing.T) {
	rng := rand.New(rand.NewPCG(31, 2))
	const m, n, k = 5, 4100, 256 // 4100·256 floats: just over 4 MiB
	a, b := randomMatrix(rng, m, k, 3), randomMatrix(rng, n, k, 2)
	want := make([]float32, m*n)
	Sgemm(false, true, m, n, k, 1, a.data, a.ld, b.data, b.ld, 0, want, n)
	for range 3 {
		pb := PackB(true, n, k, b.data, b.ld)
		require.GreaterOrEqual(t, pb.Bytes(), hugePacked)
		if data, mem := mapHuge(16); data != nil { // the system maps: so does PackB
			unmapHuge(mem)
			require.Zero(t, uintptr(unsafe.Pointer(&pb.data[0]))%hugePage, "a huge-page-aligned mapping")
		}
		got := make([]float32, m*n)
		SgemmPacked(false, m, 1, a.data, a.ld, pb, 0, got, n)
		require.Equal(t, want, got)
		runtime.GC() // the previous copies' mappings go
	}
}
