package kernels

import (
	"github.com/dllmgo/dllm/kernels/cu"
	"github.com/dllmgo/dllm/tensor"
)

// MatMul through cuBLASLt.
//
// cuBLAS is column-major; our tensors are row-major. A row-major matrix X
// [r, c] read column-major is its transpose Xᵀ [c, r] with leading dimension
// c, without moving a byte. So instead of C = op(A)·op(B) we ask cuBLAS for
//
//	Cᵀ = op(B)ᵀ · op(A)ᵀ
//
// whose column-major result is exactly the row-major C. In cuBLAS terms its
// first operand is our b and its second our a, each with our transpose flag
// unchanged (b's storage read column-major already is bᵀ, so "op(B)ᵀ" needs
// cuBLAS to transpose only when we asked for op(B) = Bᵀ), m = N, n = M,
// and every leading dimension is the row length of the stored matrix.
//
// Batches: rank-3 operands use strided batches; a rank-2 b shared by a batch
// gets stride 0, and when a is not transposed the batch folds into M (one
// larger GEMM), as the CPU does.

// gemmPlan is one cuBLASLt call: the column-major Gemm and which tensor is its
// A (our b) and its B (our a).
type gemmPlan struct {
	g cu.Gemm
}

// dataType is cuBLASLt's name for an F32 or BF16 tensor's dtype (the
// contract has refused others).
func dataType(t *tensor.Tensor) cu.DataType {
	if t.DType() == tensor.BF16 {
		return cu.R16BF
	}
	return cu.R32F
}

// planGemm checks MatMul's operands (the contract, then the dtype pairs
// cuBLASLt is asked for) and maps the row-major product onto one
// column-major cuBLASLt Gemm.
func planGemm(c, a, b *tensor.Tensor, transA, transB bool) (p gemmPlan, m, n, k int) {
	const op = "MatMul"
	s := tensor.CheckMatMul(c, a, b, transA, transB)
	shapes := func() string { return c.String() + " = " + a.String() + " · " + b.String() }
	check(a.DType() == b.DType(), op, "%s: a and b must have one dtype", shapes())
	ta, tc := dataType(a), dataType(c)
	check(!(ta == cu.R32F && tc == cu.R16BF), op, "%s: F32 inputs need an F32 c", shapes())
	batch, m, n, k := s.Batch, s.M, s.N, s.K
	rowsM := m
	if batch > 1 && b.Rank() == 2 && !transA {
		rowsM, batch = batch*m, 1 // a [B·M, K] and c [B·M, N] are contiguous
	}
	g := cu.Gemm{
		TransA: transB, TransB: transA,
		M: n, N: rowsM, K: k,
		TypeA: ta, TypeB: ta, TypeC: tc,
		LDA: max(1, b.Dim(-1)), LDB: max(1, a.Dim(-1)), LDC: max(1, n),
		Batch: batch,
	}
	if batch > 1 {
		g.StrideB = int64(m * k)
		if b.Rank() == 3 {
			g.StrideA = int64(k * n)
		}
		g.StrideC = int64(m * n)
	}
	return gemmPlan{g: g}, rowsM, n, k
}

// MatMul sets c = alpha·op(a)·op(b) + beta·c with f32 accumulation; a and b
// may be BF16 (then c may be BF16 or F32). beta = 0 overwrites c.
func (b *Backend) MatMul(c, a, bm *tensor.Tensor, transA, transB bool, alpha, beta float32) {
	const op = "MatMul"
	p, m, n, k := planGemm(c, a, bm, transA, transB)
	if m == 0 || n == 0 || p.g.Batch == 0 {
		return
	}
	if k == 0 { // an empty sum: c = beta·c
		check(c.DType() == tensor.F32, op, "%v: empty inner dimension needs an F32 c", c)
		if beta == 0 {
			b.Fill(c, 0)
		} else {
			b.Scale(c, c, beta)
		}
		return
	}
	pa, pb, pc := b.ptr(op, a), b.ptr(op, bm), b.ptr(op, c)
	if b.dry != nil {
		b.dry.gemm(p.g)
		return
	}
	b.do(func(th *cu.Thread) error {
		if b.lt == nil {
			lt, err := th.NewLt()
			if err != nil {
				return err
			}
			b.lt = lt
		}
		// cuBLAS's A is our b, its B our a (see the comment at the top).
		return b.lt.Matmul(th, p.g, pb, pa, pc, alpha, beta)
	})
}
