package tensor

import "github.com/dllmgo/dllm/tensor/gemm"

// MatMul maps every supported shape onto the packed SGEMM of package gemm,
// which is parallel and bit-for-bit reproducible for any thread count.
//
// BF16 operands (the inputs of mixed-precision training, weights kept in
// BF16 for inference) are widened to F32: a BF16 a as a whole (activations,
// small), a BF16 b panel by panel inside gemm (gemm.SgemmBF16: weights, never
// widened as a whole). Widening is exact, so the result is bit for bit the
// F32 product of the widened values: what a GPU's bf16 GEMM with f32
// accumulation computes, up to the order of its sums.

func (cpuBackend) MatMul(c, a, b *Tensor, transA, transB bool, alpha, beta float32) {
	checkF32("MatMul", c) // this backend writes only F32
	s := CheckMatMul(c, a, b, transA, transB)
	batch, m, n, k := s.Batch, s.M, s.N, s.K
	as, cs := widenedF32(a), c.F32()
	// Strides of at least 1 keep gemm's checks happy for empty matrices.
	lda, ldb, ldc := max(1, a.Dim(-1)), max(1, b.Dim(-1)), max(1, n)
	strideB := 0
	if b.Rank() == 3 {
		strideB = k * n
	}
	// One product where it can be; a batch sharing b folds into the rows of
	// a and c.
	single := batch == 1 || (b.Rank() == 2 && !transA)
	if b.dtype == BF16 {
		// A BF16 b (weights kept in BF16) is widened panel by panel as gemm
		// packs it, never as a whole: the same floats, the same product.
		bs := b.BF16Bits()
		if single {
			gemm.SgemmBF16(transA, transB, batch*m, n, k, alpha, as, lda, bs, ldb, beta, cs, ldc)
			return
		}
		gemm.SgemmStridedBF16(transA, transB, m, n, k, alpha, as, lda, m*k, bs, ldb, strideB, beta, cs, ldc, m*n, batch)
		return
	}
	if single {
		// A weight marked by KeepPacked is packed once and reused.
		if pb := b.packedB(transB); pb != nil {
			gemm.SgemmPacked(transA, batch*m, alpha, as, lda, pb, beta, cs, ldc)
			return
		}
	}
	bs := b.F32()
	if single {
		gemm.Sgemm(transA, transB, batch*m, n, k, alpha, as, lda, bs, ldb, beta, cs, ldc)
		return
	}
	gemm.SgemmStrided(transA, transB, m, n, k, alpha, as, lda, m*k, bs, ldb, strideB, beta, cs, ldc, m*n, batch)
}

// widenedF32 returns x's elements as float32: x's own storage if it is F32,
// else a fresh exact widening of its BF16 values.
func widenedF32(x *Tensor) []float32 {
	if x.dtype == F32 {
		return x.F32()
	}
	s := x.BF16Bits()
	d := make([]float32, len(s))
	elementwise(len(d), func(lo, hi int) {
		for i := lo; i < hi; i++ {
			d[i] = F32FromBF16(s[i])
		}
	})
	return d
}
