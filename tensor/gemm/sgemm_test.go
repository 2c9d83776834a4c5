package gemm

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// matrix is a test operand: rows×cols values stored with row stride ld. The
// padding between rows holds NaN, so a kernel that reads it poisons C.
type matrix struct {
	rows, cols, ld int
	data           []float32
}

func randomMatrix(rng *rand.Rand, rows, cols, pad int) matrix {
	x := matrix{rows: rows, cols: cols, ld: max(1, cols+pad)}
	x.data = make([]float32, max(0, (rows-1)*x.ld+cols))
	for i := range x.data {
		if i%x.ld < cols {
			x.data[i] = float32(rng.Float64()*2 - 1)
		} else {
			x.data[i] = float32(math.NaN())
		}
	}
	return x
}

// at reads element (i, j) of op(x).
func (x matrix) at(trans bool, i, j int) float64 {
	if trans {
		i, j = j, i
	}
	return float64(x.data[i*x.ld+j])
}

// reference computes alpha·op(A)·op(B) + beta·C in float64, and for each
// element the scale its float32 rounding error is measured against:
// |alpha|·Σ|a||b| + |beta·c|.
func reference(transA, transB bool, m, n, k int, alpha float32, a, b matrix, beta float32, c matrix) (want, scale []float64) {
	want, scale = make([]float64, m*n), make([]float64, m*n)
	for i := range m {
		for j := range n {
			var sum, abs float64
			for p := range k {
				prod := a.at(transA, i, p) * b.at(transB, p, j)
				sum += prod
				abs += math.Abs(prod)
			}
			want[i*n+j] = float64(alpha) * sum
			scale[i*n+j] = math.Abs(float64(alpha)) * abs
			if beta != 0 {
				old := float64(beta) * float64(c.data[i*c.ld+j])
				want[i*n+j] += old
				scale[i*n+j] += math.Abs(old)
			}
		}
	}
	return want, scale
}

// checkProduct compares got (stored like c) with the float64 reference. A
// float32 sum of k products, each rounded once, is off by at most about
// k·ε·Σ|a||b|; the kernels' FMAs and alpha/beta add a few more roundings.
func checkProduct(t *testing.T, got matrix, want, scale []float64, k int) {
	t.Helper()
	const eps = 1.0 / (1 << 24)
	bad := 0
	for i := range got.rows {
		for j := range got.cols {
			g := float64(got.data[i*got.ld+j])
			w, s := want[i*got.cols+j], scale[i*got.cols+j]
			if tol := float64(k+4) * eps * s; !(math.Abs(g-w) <= tol) {
				if bad++; bad <= 5 {
					t.Errorf("C[%d][%d] = %g, want %g (tolerance %.3g)", i, j, g, w, tol)
				}
			}
		}
		for j := got.cols; j < got.ld && i < got.rows-1; j++ {
			if v := got.data[i*got.ld+j]; !math.IsInf(float64(v), 1) {
				t.Fatalf("C padding at row %d col %d was written: %g", i, j, v)
			}
		}
	}
	if bad > 5 {
		t.Errorf("... %d wrong elements in all", bad)
	}
}

// withSmallBlocks returns a copy of kern whose cache blocks are a few tiles,
// so that small products cross every block boundary. kc = 11 is odd and not
// a multiple of 8, so the kernels' unrolled k loops and the 8-wide vector
// transposes of packing both run their tails.
func withSmallBlocks(kern *kernel) *kernel {
	small := *kern
	small.mc, small.kc, small.nc = 2*kern.mr, 11, 3*kern.nr
	return &small
}

type gemmCase struct {
	m, n, k     int
	alpha, beta float32
	pad         int // extra floats per row of A, B and C
}

func (tc gemmCase) String() string {
	return fmt.Sprintf("%dx%dx%d/alpha=%g/beta=%g/pad=%d", tc.m, tc.k, tc.n, tc.alpha, tc.beta, tc.pad)
}

// runCase multiplies random matrices with kern and checks against float64.
func runCase(t *testing.T, rng *rand.Rand, kern *kernel, threads int, transA, transB bool, tc gemmCase) {
	t.Helper()
	aRows, aCols := tc.m, tc.k
	if transA {
		aRows, aCols = aCols, aRows
	}
	bRows, bCols := tc.k, tc.n
	if transB {
		bRows, bCols = bCols, bRows
	}
	a := randomMatrix(rng, aRows, aCols, tc.pad)
	b := randomMatrix(rng, bRows, bCols, tc.pad)
	c := randomMatrix(rng, tc.m, tc.n, tc.pad)
	for i := range c.data {
		switch {
		case i%c.ld >= tc.n:
			c.data[i] = float32(math.Inf(1)) // padding: must stay untouched
		case tc.beta == 0:
			c.data[i] = float32(math.NaN()) // must be overwritten, not scaled
		}
	}
	want, scale := reference(transA, transB, tc.m, tc.n, tc.k, tc.alpha, a, b, tc.beta, c)
	g := newProblem("Sgemm", transA, transB, tc.m, tc.n, tc.k, tc.alpha, a.data, a.ld, b.data, b.ld, tc.beta, c.data, c.ld)
	g.checkLengths("Sgemm", a.data, len(b.data), c.data)
	g.run(kern, threads)
	checkProduct(t, c, want, scale, tc.k)
}

var transposes = []struct {
	name           string
	transA, transB bool
}{{"NN", false, false}, {"NT", false, true}, {"TN", true, false}, {"TT", true, true}}

// TestKernelsMatchFloat64 runs every kernel this CPU has on odd shapes, all
// transposes, alpha/beta and padded strides, with the real cache blocks and
// with tiny ones.
func TestKernelsMatchFloat64(t *testing.T) {
	cases := []gemmCase{
		{m: 1, n: 1, k: 1, alpha: 1, beta: 0},
		{m: 1, n: 37, k: 5, alpha: 1, beta: 0},
		{m: 29, n: 1, k: 3, alpha: 1, beta: 1},
		{m: 3, n: 5, k: 1, alpha: -0.5, beta: 2},
		{m: 14, n: 32, k: 8, alpha: 1, beta: 0},
		{m: 6, n: 16, k: 4, alpha: 1, beta: -1, pad: 3},
		{m: 15, n: 33, k: 9, alpha: 0.75, beta: 0.5, pad: 1},
		{m: 31, n: 47, k: 61, alpha: 1.5, beta: 0},
		{m: 45, n: 70, k: 203, alpha: -1, beta: 0.25, pad: 5},
		{m: 67, n: 131, k: 17, alpha: 1, beta: 1, pad: 2},
		{m: 97, n: 65, k: 400, alpha: 2, beta: 0},
	}
	t.Logf("kernels on this CPU: %v", Kernels())
	for _, name := range Kernels() {
		for _, blocks := range []string{"blocks", "smallblocks"} {
			kern := lookup(name)
			if blocks == "smallblocks" {
				kern = withSmallBlocks(kern)
			}
			for _, tr := range transposes {
				t.Run(fmt.Sprintf("%s/%s/%s", name, blocks, tr.name), func(t *testing.T) {
					rng := rand.New(rand.NewPCG(1, uint64(len(tr.name)+len(blocks)+len(name))))
					for _, tc := range cases {
						t.Run(tc.String(), func(t *testing.T) {
							runCase(t, rng, kern, 2, tr.transA, tr.transB, tc)
						})
					}
				})
			}
		}
	}
}

// TestLargeBlocks crosses the real mc, kc and nc of every kernel with sizes
// a few elements past them.
func TestLargeBlocks(t *testing.T) {
	for _, name := range Kernels() {
		kern := lookup(name)
		for _, tc := range []gemmCase{
			{m: kern.mc + 3, n: 2*kern.nr + 1, k: kern.kc + 5, alpha: 1, beta: 0.5},
			{m: 2*kern.mr + 1, n: kern.nc + 7, k: 3, alpha: 1, beta: 0},
		} {
			t.Run(fmt.Sprintf("%s/%s", name, tc), func(t *testing.T) {
				rng := rand.New(rand.NewPCG(2, uint64(tc.m)))
				runCase(t, rng, kern, 3, false, true, tc)
			})
		}
	}
}

// TestParallelTasks runs small products on many goroutines, so that rows
// are cut in bands and, for short wide C, columns in ranges.
func TestParallelTasks(t *testing.T) {
	defer func(old int) { minWorkPerThread = old }(minWorkPerThread)
	minWorkPerThread = 1
	for _, name := range Kernels() {
		kern := withSmallBlocks(lookup(name))
		for _, tc := range []gemmCase{
			{m: 3, n: 301, k: 20, alpha: 1, beta: 0.5},
			{m: 40, n: 90, k: 33, alpha: -1, beta: 0, pad: 1},
			{m: 200, n: 5, k: 12, alpha: 2, beta: 1},
		} {
			for _, threads := range []int{2, 3, 5} {
				t.Run(fmt.Sprintf("%s/%s/threads=%d", name, tc, threads), func(t *testing.T) {
					rng := rand.New(rand.NewPCG(7, uint64(threads)))
					runCase(t, rng, kern, threads, false, false, tc)
				})
			}
		}
	}
}

// TestSgemmDefault checks the exported entry point with the default kernel.
func TestSgemmDefault(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 3))
	m, n, k := 33, 50, 71
	a, b := randomMatrix(rng, m, k, 0), randomMatrix(rng, n, k, 0)
	c := randomMatrix(rng, m, n, 0)
	want, scale := reference(false, true, m, n, k, 0.5, a, b, 1, c)
	Sgemm(false, true, m, n, k, 0.5, a.data, k, b.data, k, 1, c.data, n)
	checkProduct(t, c, want, scale, k)
}

// TestThreadsDoNotChangeResults checks the bit-for-bit reproducibility that
// doc.go promises: the split along panel boundaries never changes the order
// in which an element is summed.
func TestThreadsDoNotChangeResults(t *testing.T) {
	rng := rand.New(rand.NewPCG(4, 4))
	for _, shape := range [][3]int{{150, 170, 300}, {9, 700, 40}} {
		m, n, k := shape[0], shape[1], shape[2]
		a, b := randomMatrix(rng, k, m, 0), randomMatrix(rng, k, n, 0)
		c0 := randomMatrix(rng, m, n, 0)
		for _, name := range Kernels() {
			var first []float32
			for _, threads := range []int{1, 2, 3, 4, 7} {
				c := append([]float32(nil), c0.data...)
				Config{Kernel: name, Threads: threads}.Sgemm(true, false, m, n, k, 1, a.data, m, b.data, n, 0.5, c, n)
				if first == nil {
					first = c
					continue
				}
				require.Equal(t, first, c, "kernel %s, %dx%dx%d: %d threads differ from 1 thread", name, m, k, n, threads)
			}
		}
	}
}

// TestConcurrentCalls runs products from several goroutines at once, as the
// CPU attention does with serial products, and checks each against the same
// product run alone.
func TestConcurrentCalls(t *testing.T) {
	rng := rand.New(rand.NewPCG(8, 8))
	const calls = 8
	m, n, k := 67, 90, 130 // big enough for 2 goroutines
	var as, bs, want, got [calls][]float32
	for i := range calls {
		as[i], bs[i] = randomMatrix(rng, m, k, 0).data, randomMatrix(rng, k, n, 0).data
		want[i], got[i] = make([]float32, m*n), make([]float32, m*n)
		Config{Threads: 1}.Sgemm(false, false, m, n, k, 1, as[i], k, bs[i], n, 0, want[i], n)
	}
	parallel(calls, func(i int) {
		for range 20 {
			Config{Threads: 1 + i%3}.Sgemm(false, false, m, n, k, 1, as[i], k, bs[i], n, 0, got[i], n)
		}
	})
	for i := range calls {
		require.Equal(t, want[i], got[i], "call %d", i)
	}
}

// TestSgemmStrided compares each product of a batch with a lone Sgemm, for a
// batch smaller than the thread count (products run one after another) and a
// larger one (products run side by side), and a shared B (strideB 0).
func TestSgemmStrided(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 5))
	m, n, k := 19, 23, 29
	for _, batch := range []int{1, 2, 9} {
		for _, strideB := range []int{0, n*k + 3} {
			t.Run(fmt.Sprintf("batch=%d/strideB=%d", batch, strideB), func(t *testing.T) {
				strideA, strideC := m*k+1, m*n+2
				a := randomMatrix(rng, 1, batch*strideA, 0).data
				b := randomMatrix(rng, 1, max(1, batch*strideB)+n*k, 0).data
				c := randomMatrix(rng, 1, batch*strideC, 0).data
				want := append([]float32(nil), c...)
				for i := range batch {
					Config{Threads: 1}.Sgemm(false, false, m, n, k, 1.5, a[i*strideA:], k, b[i*strideB:], n, -1, want[i*strideC:], n)
				}
				Config{Threads: 4}.SgemmStrided(false, false, m, n, k, 1.5, a, k, strideA, b, n, strideB, -1, c, n, strideC, batch)
				require.Equal(t, want, c)
			})
		}
	}
}

// TestScaleOnly covers the products that only scale C: alpha = 0 must not
// read A or B (they hold NaN here), k = 0 has no products at all.
func TestScaleOnly(t *testing.T) {
	nan := float32(math.NaN())
	a := []float32{nan, nan, nan, nan}
	b := []float32{nan, nan, nan, nan}
	c := []float32{1, 2, 3, 4}
	Sgemm(false, false, 2, 2, 2, 0, a, 2, b, 2, 3, c, 2)
	assert.Equal(t, []float32{3, 6, 9, 12}, c)
	Sgemm(false, false, 2, 2, 0, 1, nil, 1, nil, 2, -1, c, 2)
	assert.Equal(t, []float32{-3, -6, -9, -12}, c)
	Sgemm(false, false, 2, 2, 2, 0, a, 2, b, 2, 1, c, 2)
	assert.Equal(t, []float32{-3, -6, -9, -12}, c)
	c = []float32{nan, 1, nan, 1}
	Sgemm(true, true, 2, 2, 0, 1, nil, 2, nil, 1, 0, c, 2)
	assert.Equal(t, []float32{0, 0, 0, 0}, c)
	Sgemm(false, false, 0, 5, 5, 1, nil, 5, nil, 5, 0, nil, 5)
	c = []float32{1, 2, 3, 4, 5, 6}
	SgemmStrided(false, false, 1, 2, 0, 1, nil, 1, 7, nil, 2, 7, 2, c, 2, 2, 3)
	assert.Equal(t, []float32{2, 4, 6, 8, 10, 12}, c)
	SgemmStrided(false, false, 0, 2, 3, 1, nil, 3, 7, nil, 2, 7, 2, nil, 2, 2, 3)
}

func TestSetThreads(t *testing.T) {
	prev := SetThreads(3)
	defer SetThreads(prev)
	assert.Equal(t, 3, Threads())
	assert.Equal(t, 3, SetThreads(0))
	assert.Equal(t, runtime.GOMAXPROCS(0), Threads())
}

// TestBadArguments checks that programmer errors panic with a message that
// names the op and the problem.
func TestBadArguments(t *testing.T) {
	f := make([]float32, 100)
	cases := []struct {
		name string
		call func()
		want string
	}{
		{"negative m", func() { Sgemm(false, false, -1, 2, 2, 1, f, 2, f, 2, 0, f, 2) }, "negative dimension"},
		{"lda too small", func() { Sgemm(false, false, 2, 2, 3, 1, f, 2, f, 2, 0, f, 2) }, "lda=2 < 3"},
		{"lda too small transposed", func() { Sgemm(true, false, 4, 2, 3, 1, f, 3, f, 2, 0, f, 2) }, "lda=3 < 4"},
		{"ldb too small", func() { Sgemm(false, true, 2, 2, 5, 1, f, 5, f, 4, 0, f, 2) }, "ldb=4 < 5"},
		{"ldc too small", func() { Sgemm(false, false, 2, 3, 2, 1, f, 2, f, 3, 0, f, 2) }, "ldc=2 < 3"},
		{"short a", func() { Sgemm(false, false, 20, 2, 10, 1, f, 10, f, 2, 0, f, 2) }, "len(a)=100 < 200"},
		{"short b", func() { Sgemm(false, false, 2, 20, 10, 1, f, 10, f, 20, 0, f, 20) }, "len(b)=100 < 200"},
		{"short c", func() { Sgemm(false, false, 11, 10, 1, 1, f, 1, f, 10, 0, f, 10) }, "len(c)=100 < 110"},
		{"unknown kernel", func() { Config{Kernel: "sse9"}.Sgemm(false, false, 1, 1, 1, 1, f, 1, f, 1, 0, f, 1) }, `kernel "sse9" is not supported`},
		{"overlapping batch", func() {
			SgemmStrided(false, false, 2, 2, 2, 1, f, 2, 4, f, 2, 4, 0, f, 2, 3, 2)
		}, "strideC=3 < 4"},
		{"short batch", func() {
			SgemmStrided(false, false, 2, 2, 2, 1, f, 2, 98, f, 2, 4, 0, f, 2, 4, 2)
		}, "len(a)=2 < 4"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			defer func() {
				msg := fmt.Sprint(recover())
				assert.Contains(t, msg, "gemm.")
				assert.Contains(t, msg, tc.want)
			}()
			tc.call()
			t.Error("did not panic")
		})
	}
}
