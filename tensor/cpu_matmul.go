package tensor

import "github.com/dllmgo/dllm/tensor/gemm"

// MatMul maps every supported shape onto the packed SGEMM of package gemm,
// which is parallel and bit-for-bit reproducible for any thread count.
//
// BF16 operands (the inputs of mixed-precision training) are widened to F32
// first. Widening is exact, so the result is bit for bit the F32 product of
// the widened values: what a GPU's bf16 GEMM with f32 accumulation computes,
// up to the order of its sums. It costs a copy and gains nothing on a CPU;
// it exists so that the same model code runs here.

func (cpuBackend) MatMul(c, a, b *Tensor, transA, transB bool, alpha, beta float32) {
	checkF32("MatMul", c) // this backend writes only F32
	s := CheckMatMul(c, a, b, transA, transB)
	batch, m, n, k := s.Batch, s.M, s.N, s.K
	as, bs, cs := widenedF32(a), widenedF32(b), c.F32()
	// Strides of at least 1 keep gemm's checks happy for empty matrices.
	lda, ldb, ldc := max(1, a.Dim(-1)), max(1, b.Dim(-1)), max(1, n)
	fold := batch == 1 || (b.Rank() == 2 && !transA)
	if fold && b.dtype == F32 {
		if pb := b.packedB(transB); pb != nil {
			gemm.SgemmPacked(transA, batch*m, alpha, as, lda, pb, beta, cs, ldc)
			return
		}
	}
	switch {
	case fold:
		// One product; a batch sharing b folds into the rows of a and c.
		gemm.Sgemm(transA, transB, batch*m, n, k, alpha, as, lda, bs, ldb, beta, cs, ldc)
	default:
		strideB := 0
		if b.Rank() == 3 {
			strideB = k * n
		}
		gemm.SgemmStrided(transA, transB, m, n, k, alpha, as, lda, m*k, bs, ldb, strideB, beta, cs, ldc, m*n, batch)
	}
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
