package gemm

import "fmt"

// Kernel names a micro-kernel implementation.
type Kernel string

const (
	// Auto picks the fastest kernel this CPU supports.
	Auto Kernel = ""
	// Generic is the pure-Go kernel; it runs everywhere.
	Generic Kernel = "go"
	// AVX2 is the 6×16 AVX2+FMA assembly kernel (amd64).
	AVX2 Kernel = "avx2"
	// AVX512 is the 14×32 AVX-512F assembly kernel (amd64).
	AVX512 Kernel = "avx512"
)

// tileFunc computes one mr×nr tile: C = alpha·Ã·B̃ + beta·C, where a holds
// kc·mr packed floats of A (mr per k step), b holds kc·nr packed floats of B
// (nr per k step), and c starts at the tile's top-left corner with row stride
// ldc. beta == 0 must not read C. kc ≥ 1.
type tileFunc func(kc int, a, b, c []float32, ldc int, alpha, beta float32)

// kernel is a micro-kernel with the block sizes that suit it.
type kernel struct {
	name   Kernel
	mr, nr int // tile shape
	// Cache blocks (see doc.go): a kc×nr panel of B should stay in L1 while
	// the mc×kc block of A streams past it from L2; nc columns of B are
	// packed at a time (fewer when k is large, see maxPackedB).
	mc, kc, nc int
	tile       tileFunc
	// edges[r], when set, computes only the first r rows of tile's tile
	// (reading the same packed panels): for the last rows of C, which the
	// full tile would compute and throw away. Each row's sums are tile's,
	// so results do not depend on which of them ran.
	edges []tileFunc
	pack  packers // the assembly kernels bring vector packing loops
}

// genericKernel is portable Go; its 4×4 tile keeps 16 sums in registers on
// arm64 (32 FP registers) and spills a little on amd64.
var genericKernel = &kernel{
	name: Generic, mr: 4, nr: 4,
	mc: 128, kc: 256, nc: 2048,
	tile: tileGeneric, pack: goPackers,
}

// kernels lists the kernels this CPU supports, preferred first. The amd64
// build adds the assembly kernels in an init function.
var kernels = []*kernel{genericKernel}

// Kernels returns the kernels this CPU supports, the one Auto picks first.
func Kernels() []Kernel {
	names := make([]Kernel, len(kernels))
	for i, k := range kernels {
		names[i] = k.name
	}
	return names
}

// lookup returns the kernel named k (Auto: the fastest), or panics if this
// CPU does not support it.
func lookup(k Kernel) *kernel {
	if k == Auto {
		return kernels[0]
	}
	for _, kern := range kernels {
		if kern.name == k {
			return kern
		}
	}
	panic(fmt.Sprintf("gemm.Config: kernel %q is not supported on this CPU (have %v)", k, Kernels()))
}

// tileGeneric is the pure-Go micro-kernel, for mr = nr = 4.
func tileGeneric(kc int, a, b, c []float32, ldc int, alpha, beta float32) {
	var c00, c01, c02, c03 float32
	var c10, c11, c12, c13 float32
	var c20, c21, c22, c23 float32
	var c30, c31, c32, c33 float32
	a = a[:4*kc]
	b = b[:4*kc]
	for p := 0; p < len(a); p += 4 {
		ap := a[p : p+4 : p+4]
		bp := b[p : p+4 : p+4]
		a0, a1, a2, a3 := ap[0], ap[1], ap[2], ap[3]
		b0, b1, b2, b3 := bp[0], bp[1], bp[2], bp[3]
		c00 += a0 * b0
		c01 += a0 * b1
		c02 += a0 * b2
		c03 += a0 * b3
		c10 += a1 * b0
		c11 += a1 * b1
		c12 += a1 * b2
		c13 += a1 * b3
		c20 += a2 * b0
		c21 += a2 * b1
		c22 += a2 * b2
		c23 += a2 * b3
		c30 += a3 * b0
		c31 += a3 * b1
		c32 += a3 * b2
		c33 += a3 * b3
	}
	storeRow4(c[0*ldc:], alpha, beta, c00, c01, c02, c03)
	storeRow4(c[1*ldc:], alpha, beta, c10, c11, c12, c13)
	storeRow4(c[2*ldc:], alpha, beta, c20, c21, c22, c23)
	storeRow4(c[3*ldc:], alpha, beta, c30, c31, c32, c33)
}

// storeRow4 writes alpha·s + beta·c to one row of four, reading c only when
// beta != 0.
func storeRow4(c []float32, alpha, beta, s0, s1, s2, s3 float32) {
	c = c[:4:4]
	if beta == 0 {
		c[0], c[1], c[2], c[3] = alpha*s0, alpha*s1, alpha*s2, alpha*s3
		return
	}
	c[0] = alpha*s0 + beta*c[0]
	c[1] = alpha*s1 + beta*c[1]
	c[2] = alpha*s2 + beta*c[2]
	c[3] = alpha*s3 + beta*c[3]
}
