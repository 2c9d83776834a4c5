package kernels

import (
	"math"

	"github.com/dllmgo/dllm/tensor"
)

// Embedding, GatherRows and their backward scatters: embedding.cu.

// checkTable refuses tables the kernels' int32 row and column indices cannot
// address. Unlike the CPU, the indices themselves are not range-checked on
// the host (that would need a copy and a wait); the kernels write NaN rows
// or drop rows for indices outside [0, N).
func checkTable(op string, s tensor.GatherShape, table *tensor.Tensor) {
	check(s.N <= math.MaxInt32 && s.D <= math.MaxInt32, op, "table %v is too large", table)
}

// gather launches dst[m] = src[idx[m]] for operands that passed their contract.
func (b *Backend) gather(op string, dst, src, idx *tensor.Tensor, s tensor.GatherShape) {
	checkTable(op, s, src)
	m, n, d := s.M, s.N, s.D
	if m*d == 0 {
		return
	}
	b.launch("embedding.cu", "gather_rows_f32", b.grid(m*d), threads, 0,
		b.ptr(op, dst), b.ptr(op, src), b.ptr(op, idx), int64(m), int32(d), int32(n))
}

// scatterAdd launches dst[idx[m]] += src[m] for operands that passed their
// contract, skipping rows whose index is skip.
func (b *Backend) scatterAdd(op string, dst, src, idx *tensor.Tensor, s tensor.GatherShape, skip int) {
	checkTable(op, s, dst)
	m, n, d := s.M, s.N, s.D
	if m*d == 0 {
		return
	}
	if skip < 0 || skip > math.MaxInt32 {
		skip = -1
	}
	b.launch("embedding.cu", "scatter_add_rows_f32", b.grid(m*d), threads, 0,
		b.ptr(op, dst), b.ptr(op, src), b.ptr(op, idx), int64(m), int32(d), int32(n), int32(skip))
}

// Embedding gathers rows: dst[i] = table[ids[i]].
//
// A BF16 table (weights kept in BF16) is gathered by the same kernel, as
// rows of D/2 32-bit words (pairs of BF16 values, moved as they are) into a
// BF16 scratch, which Cast widens into dst: no kernel of its own, and D
// must be even.
func (b *Backend) Embedding(dst, table, ids *tensor.Tensor) {
	s := tensor.CheckEmbedding(dst, table, ids)
	if table.DType() == tensor.BF16 {
		check(s.D%2 == 0, "Embedding", "BF16 table %v: rows of an odd length", table)
		checkTable("Embedding", s, table)
		if s.M*s.D == 0 {
			return
		}
		rows := b.New(tensor.BF16, s.M, s.D)
		b.launch("embedding.cu", "gather_rows_f32", b.grid(s.M*s.D/2), threads, 0,
			b.ptr("Embedding", rows), b.ptr("Embedding", table), b.ptr("Embedding", ids), int64(s.M), int32(s.D/2), int32(s.N))
		b.Cast(dst.Reshape(s.M, s.D), rows)
		rows.Free()
		return
	}
	b.gather("Embedding", dst, table, ids, s)
}

// GatherRows sets dst[m] = src[idx[m]].
func (b *Backend) GatherRows(dst, src, idx *tensor.Tensor) {
	b.gather("GatherRows", dst, src, idx, tensor.CheckGatherRows(dst, src, idx))
}

// EmbeddingBackward adds dy[i] into dtable[ids[i]], except rows whose id is
// padIdx (padIdx < 0: none).
func (b *Backend) EmbeddingBackward(dtable, ids, dy *tensor.Tensor, padIdx int) {
	b.scatterAdd("EmbeddingBackward", dtable, dy, ids, tensor.CheckEmbeddingBackward(dtable, ids, dy), padIdx)
}

// ScatterAddRows adds src[m] into dst[idx[m]].
func (b *Backend) ScatterAddRows(dst, src, idx *tensor.Tensor) {
	b.scatterAdd("ScatterAddRows", dst, src, idx, tensor.CheckScatterAddRows(dst, src, idx), -1)
}
