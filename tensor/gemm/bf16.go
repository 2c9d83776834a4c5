package gemm

import (
	"math"
	"sync"
)

// Products with a bfloat16 B.
//
// A model whose weights stay in memory as bfloat16 (half the bytes of
// float32, as checkpoints are released) multiplies float32 activations by
// them: C = alpha·op(A)·op(B) + beta·C with B's elements stored as bfloat16
// bits. The matrix B is never widened as a whole. Packing, which copies each
// kc×NR panel of op(B) into the order the micro-kernel reads anyway, widens
// the panel as it copies it (a bfloat16 is the top half of a float32, so
// widening is a shift and exact). The micro-kernels and everything after
// packing are the float32 product's, so SgemmBF16 is bit for bit Sgemm on
// the widened B, for every kernel and thread count.
//
// The transposed case (op(B) = Bᵀ, the layout of a Linear's weight
// [out, in]) widens NR source rows of kc elements into a small scratch
// buffer and hands it to the kernel's own vector transpose; the k-major
// case widens straight into the panel.
//
// AVX-512 BF16's VDPBF16PS would multiply pairs of bfloat16 directly, but
// it takes both operands as bfloat16 (it would round the float32
// activations) and sums each pair before adding it to the accumulator, so
// its results are not the float32 product's; it is not used.

// SgemmBF16 is Sgemm with B given as bfloat16 bits (see tensor.BF16FromF32):
// C = alpha·op(A)·op(widen(B)) + beta·C, bit for bit what Sgemm computes on
// the widened B.
func SgemmBF16(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []uint16, ldb int, beta float32, c []float32, ldc int) {
	Config{}.SgemmBF16(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

// SgemmStridedBF16 is SgemmStrided with B given as bfloat16 bits.
func SgemmStridedBF16(transA, transB bool, m, n, k int, alpha float32, a []float32, lda, strideA int, b []uint16, ldb, strideB int, beta float32, c []float32, ldc, strideC int, batch int) {
	Config{}.SgemmStridedBF16(transA, transB, m, n, k, alpha, a, lda, strideA, b, ldb, strideB, beta, c, ldc, strideC, batch)
}

// SgemmBF16 is SgemmBF16 with this configuration.
func (cfg Config) SgemmBF16(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []uint16, ldb int, beta float32, c []float32, ldc int) {
	g := newProblem("SgemmBF16", transA, transB, m, n, k, alpha, a, lda, nil, ldb, beta, c, ldc)
	g.b.bits, g.b.bf16 = b, true
	g.checkLengths("SgemmBF16", a, len(b), c)
	g.run(lookup(cfg.Kernel), cfg.threads())
}

// SgemmStridedBF16 is SgemmStridedBF16 with this configuration.
func (cfg Config) SgemmStridedBF16(transA, transB bool, m, n, k int, alpha float32, a []float32, lda, strideA int, b []uint16, ldb, strideB int, beta float32, c []float32, ldc, strideC int, batch int) {
	g := newProblem("SgemmStridedBF16", transA, transB, m, n, k, alpha, a, lda, nil, ldb, beta, c, ldc)
	g.b.bits, g.b.bf16 = b, true
	cfg.strided("SgemmStridedBF16", g, strideA, strideB, strideC, batch)
}

// widen sets dst[i] to the float32 whose top half is src[i].
func widen(dst []float32, src []uint16) {
	dst = dst[:len(src)]
	for i, v := range src {
		dst[i] = math.Float32frombits(uint32(v) << 16)
	}
}

// scratches recycles the buffers packPanelsBF16 widens source rows into.
var scratches sync.Pool

// packPanelsBF16 is packPanels for a bfloat16 source: the nq×kb block at
// (q0, p0) of data, widened, into dst in panels of w.
func packPanelsBF16(dst []float32, data []uint16, ld int, kMajor bool, q0, nq, p0, kb, w int, pk packers) {
	if kMajor {
		for t := 0; t*w < nq; t++ {
			rows := min(w, nq-t*w)
			for p := range kb {
				src := data[(p0+p)*ld+q0+t*w:][:rows]
				pk.widen(dst[(t*kb+p)*w:], src)
			}
		}
		return
	}
	buf, _ := scratches.Get().(*[]float32)
	if buf == nil || len(*buf) < w*kb {
		s := make([]float32, w*kb)
		buf = &s
	}
	scratch := *buf
	for t := 0; t*w < nq; t++ {
		rows := min(w, nq-t*w)
		for i := range rows {
			pk.widen(scratch[i*kb:], data[(q0+t*w+i)*ld+p0:][:kb])
		}
		panel := dst[t*w*kb : (t+1)*w*kb]
		pk.transpose(panel, scratch, kb, 0, rows, 0, kb, w)
	}
	scratches.Put(buf)
}
