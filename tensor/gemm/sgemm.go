package gemm

import (
	"fmt"
	"runtime"
	"sync/atomic"
)

// Sgemm computes C = alpha·op(A)·op(B) + beta·C, where op(X) is X or Xᵀ.
// A is m×k (or k×m if transA), B is k×n (or n×k if transB), C is m×n; all are
// row-major and lda, ldb, ldc are their row strides. beta == 0 means C is
// overwritten (NaNs in C do not propagate); alpha == 0 or k == 0 leave
// C = beta·C without reading A or B.
//
// It uses the fastest kernel this CPU supports and the package's thread count
// (SetThreads). Bad dimensions or short slices panic.
func Sgemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	Config{}.Sgemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

// SgemmStrided runs batch independent Sgemms with the same shapes; product i
// reads a[i·strideA:], b[i·strideB:] and updates c[i·strideC:]. A stride may
// be 0 to share one operand across the batch (never strideC, unless batch ≤ 1).
func SgemmStrided(transA, transB bool, m, n, k int, alpha float32, a []float32, lda, strideA int, b []float32, ldb, strideB int, beta float32, c []float32, ldc, strideC int, batch int) {
	Config{}.SgemmStrided(transA, transB, m, n, k, alpha, a, lda, strideA, b, ldb, strideB, beta, c, ldc, strideC, batch)
}

// defaultThreads is what SetThreads set; 0 means runtime.GOMAXPROCS(0).
var defaultThreads atomic.Int64

// SetThreads sets how many goroutines Sgemm may use; n ≤ 0 restores the
// default, GOMAXPROCS. It returns the previous setting (0 for the default).
func SetThreads(n int) int {
	return int(defaultThreads.Swap(int64(max(n, 0))))
}

// Threads returns how many goroutines Sgemm may use now.
func Threads() int {
	if n := defaultThreads.Load(); n > 0 {
		return int(n)
	}
	return runtime.GOMAXPROCS(0)
}

// Config chooses the kernel and the parallelism of one call. The zero value
// is what Sgemm uses.
type Config struct {
	// Kernel is the micro-kernel (Auto: the fastest this CPU supports).
	// Naming one the CPU lacks panics.
	Kernel Kernel
	// Threads caps the goroutines (≤ 0: Threads()). Small products use fewer.
	Threads int
}

func (cfg Config) threads() int {
	if cfg.Threads > 0 {
		return cfg.Threads
	}
	return Threads()
}

// Sgemm is Sgemm with this configuration.
func (cfg Config) Sgemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	g := newProblem("Sgemm", transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
	g.checkLengths("Sgemm", a, len(b), c)
	g.run(lookup(cfg.Kernel), cfg.threads())
}

// SgemmStrided is SgemmStrided with this configuration.
func (cfg Config) SgemmStrided(transA, transB bool, m, n, k int, alpha float32, a []float32, lda, strideA int, b []float32, ldb, strideB int, beta float32, c []float32, ldc, strideC int, batch int) {
	g := newProblem("SgemmStrided", transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
	cfg.strided("SgemmStrided", g, strideA, strideB, strideC, batch)
}

// strided runs the batch of products g describes with its first operands:
// product i reads A, B and C strideA, strideB and strideC elements further.
func (cfg Config) strided(op string, g problem, strideA, strideB, strideC, batch int) {
	m, n := g.m, g.n
	if batch < 0 || strideA < 0 || strideB < 0 || strideC < 0 {
		g.fail(op, fmt.Sprintf("batch=%d strideA=%d strideB=%d strideC=%d must be ≥ 0", batch, strideA, strideB, strideC))
	}
	if batch > 1 && m > 0 && n > 0 && strideC < (m-1)*g.ldc+n {
		g.fail(op, fmt.Sprintf("strideC=%d < %d: the products' C matrices overlap", strideC, (m-1)*g.ldc+n))
	}
	if batch == 0 {
		return
	}
	last := batch - 1
	g.checkLengths(op, tail(g.a.data, last*strideA), g.b.offset(last*strideB).length(), tail(g.c, last*strideC))

	kern, threads := lookup(cfg.Kernel), cfg.threads()
	item := func(i int, threads int) {
		gi := g
		gi.a.data, gi.b, gi.c = tail(g.a.data, i*strideA), g.b.offset(i*strideB), tail(g.c, i*strideC)
		gi.run(kern, threads)
	}
	if batch < threads {
		// Few large products: each one uses all the threads.
		for i := range batch {
			item(i, threads)
		}
		return
	}
	// Many products: each goroutine takes whole products, one at a time.
	var next atomic.Int64
	parallel(threads, func(int) {
		for i := int(next.Add(1) - 1); i < batch; i = int(next.Add(1) - 1) {
			item(i, 1)
		}
	})
}

// tail returns s[off:], or an empty slice when off is past the end: the
// length check then reports the shortfall instead of slicing panicking, and
// products that read nothing (k = 0, alpha = 0, empty C) accept short slices.
func tail[T float32 | uint16](s []T, off int) []T {
	if off > len(s) {
		return nil
	}
	return s[off:]
}

// operand is a stored row-major matrix and whether the product reads it
// transposed. Its elements are data, or (B only, see SgemmBF16) the
// bfloat16 bits in bits when bf16 is set.
type operand struct {
	data  []float32
	bits  []uint16
	bf16  bool
	ld    int
	trans bool
}

// offset returns the operand starting off elements further (empty past
// the end, see tail).
func (o operand) offset(off int) operand {
	if o.bf16 {
		o.bits = tail(o.bits, off)
	} else {
		o.data = tail(o.data, off)
	}
	return o
}

// length is the number of stored elements.
func (o operand) length() int {
	if o.bf16 {
		return len(o.bits)
	}
	return len(o.data)
}

// problem is one C = alpha·op(A)·op(B) + beta·C, checked.
type problem struct {
	m, n, k     int
	a, b        operand
	alpha, beta float32
	c           []float32
	ldc         int
}

// newProblem checks the shapes and strides (not the slice lengths).
func newProblem(op string, transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) problem {
	g := problem{
		m: m, n: n, k: k,
		a:     operand{data: a, ld: lda, trans: transA},
		b:     operand{data: b, ld: ldb, trans: transB},
		alpha: alpha, beta: beta, c: c, ldc: ldc,
	}
	if m < 0 || n < 0 || k < 0 {
		g.fail(op, "negative dimension")
	}
	_, aCols := g.storedA()
	_, bCols := g.storedB()
	switch {
	case lda < max(1, aCols):
		g.fail(op, fmt.Sprintf("lda=%d < %d, the row length of A", lda, aCols))
	case ldb < max(1, bCols):
		g.fail(op, fmt.Sprintf("ldb=%d < %d, the row length of B", ldb, bCols))
	case ldc < max(1, n):
		g.fail(op, fmt.Sprintf("ldc=%d < %d, the row length of C", ldc, n))
	}
	return g
}

// storedA returns the shape of A as stored: m×k, or k×m when transposed.
func (g *problem) storedA() (rows, cols int) {
	if g.a.trans {
		return g.k, g.m
	}
	return g.m, g.k
}

// storedB returns the shape of B as stored: k×n, or n×k when transposed.
func (g *problem) storedB() (rows, cols int) {
	if g.b.trans {
		return g.n, g.k
	}
	return g.k, g.n
}

// checkLengths panics unless a, b and c hold the matrices the problem reads.
// A and B are not read when the product is empty, alpha is 0 or k is 0.
func (g *problem) checkLengths(op string, a []float32, bLen int, c []float32) {
	need := func(rows, cols, ld int) int {
		if rows == 0 || cols == 0 {
			return 0
		}
		return (rows-1)*ld + cols
	}
	if n := need(g.m, g.n, g.ldc); len(c) < n {
		g.fail(op, fmt.Sprintf("len(c)=%d < %d", len(c), n))
	}
	if g.m == 0 || g.n == 0 || g.k == 0 || g.alpha == 0 {
		return
	}
	if r, cols := g.storedA(); len(a) < need(r, cols, g.a.ld) {
		g.fail(op, fmt.Sprintf("len(a)=%d < %d", len(a), need(r, cols, g.a.ld)))
	}
	if r, cols := g.storedB(); bLen < need(r, cols, g.b.ld) {
		g.fail(op, fmt.Sprintf("len(b)=%d < %d", bLen, need(r, cols, g.b.ld)))
	}
}

func (g *problem) fail(op, what string) {
	panic(fmt.Sprintf("gemm.%s(transA=%t, transB=%t, m=%d, n=%d, k=%d, lda=%d, ldb=%d, ldc=%d): %s",
		op, g.a.trans, g.b.trans, g.m, g.n, g.k, g.a.ld, g.b.ld, g.ldc, what))
}
