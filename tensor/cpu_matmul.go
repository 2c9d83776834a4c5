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

// matDims returns the rows and columns of op(x) for the last two dimensions.
func matDims(x *Tensor, trans bool) (rows, cols int) {
	r, c := x.Dim(-2), x.Dim(-1)
	if trans {
		return c, r
	}
	return r, c
}

func (cpuBackend) MatMul(c, a, b *Tensor, transA, transB bool, alpha, beta float32) {
	const op = "MatMul"
	checkF32(op, c)
	for _, x := range []*Tensor{a, b} {
		check(x.dtype == F32 || x.dtype == BF16, op, "%v is neither F32 nor BF16", x)
	}
	shapes := func() string { return c.String() + " = " + a.String() + " · " + b.String() }
	check(a.Rank() == 2 || a.Rank() == 3, op, "%s: a must be rank 2 or 3", shapes())
	check(b.Rank() == 2 || b.Rank() == a.Rank(), op, "%s: b must be rank 2 or a's rank", shapes())
	check(c.Rank() == a.Rank(), op, "%s: c must have a's rank", shapes())
	m, k := matDims(a, transA)
	kb, n := matDims(b, transB)
	check(k == kb, op, "%s (transA=%t, transB=%t): inner dimensions %d and %d differ", shapes(), transA, transB, k, kb)
	check(c.Dim(-2) == m && c.Dim(-1) == n, op, "%s (transA=%t, transB=%t): c must be [..., %d, %d]", shapes(), transA, transB, m, n)
	batch := 1
	if a.Rank() == 3 {
		batch = a.Dim(0)
		check(c.Dim(0) == batch && (b.Rank() == 2 || b.Dim(0) == batch), op, "%s: batch dimensions differ", shapes())
	}
	as, bs, cs := widenedF32(a), widenedF32(b), c.F32()
	// Strides of at least 1 keep gemm's checks happy for empty matrices.
	lda, ldb, ldc := max(1, a.Dim(-1)), max(1, b.Dim(-1)), max(1, n)
	switch {
	case batch == 1 || (b.Rank() == 2 && !transA):
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
