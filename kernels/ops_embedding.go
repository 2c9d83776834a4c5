package kernels

import (
	"math"

	"github.com/dllmgo/dllm/tensor"
)

// gatherDims checks dst [M, D] = src [N, D] gathered by idx [M] (I32) and
// returns M, N and D. Unlike the CPU, the indices are not range-checked on
// the host (that would need a copy and a wait); the kernels write NaN rows
// or drop rows for indices outside [0, N).
func gatherDims(op string, dst, src, idx *tensor.Tensor) (m, n, d int) {
	checkF32(op, dst, src)
	check(src.Rank() >= 1, op, "table %v has no rows", src)
	n = src.Dim(0)
	d = tensor.Numel(src.Shape()[1:])
	m = idx.Numel()
	check(idx.DType() == tensor.I32, op, "indices %v must be I32", idx)
	check(dst.Numel() == m*d, op, "%v must hold %d rows of %d for indices %v and table %v", dst, m, d, idx, src)
	check(n <= math.MaxInt32 && d <= math.MaxInt32, op, "table %v is too large", src)
	return m, n, d
}

func (b *Backend) gather(op string, dst, src, idx *tensor.Tensor) {
	m, n, d := gatherDims(op, dst, src, idx)
	if m*d == 0 {
		return
	}
	b.launch("embedding.cu", "gather_rows_f32", b.grid(m*d), threads, 0,
		b.ptr(op, dst), b.ptr(op, src), b.ptr(op, idx), int64(m), int32(d), int32(n))
}

func (b *Backend) scatterAdd(op string, dst, src, idx *tensor.Tensor, skip int) {
	m, n, d := gatherDims(op, src, dst, idx)
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
func (b *Backend) Embedding(dst, table, ids *tensor.Tensor) { b.gather("Embedding", dst, table, ids) }

// GatherRows sets dst[m] = src[idx[m]].
func (b *Backend) GatherRows(dst, src, idx *tensor.Tensor) { b.gather("GatherRows", dst, src, idx) }

// EmbeddingBackward adds dy[i] into dtable[ids[i]], except rows whose id is
// padIdx (padIdx < 0: none).
func (b *Backend) EmbeddingBackward(dtable, ids, dy *tensor.Tensor, padIdx int) {
	b.scatterAdd("EmbeddingBackward", dtable, dy, ids, padIdx)
}

// ScatterAddRows adds src[m] into dst[idx[m]].
func (b *Backend) ScatterAddRows(dst, src, idx *tensor.Tensor) {
	b.scatterAdd("ScatterAddRows", dst, src, idx, -1)
}

// ceDims checks the cross-entropy operands and returns N and V.
func ceDims(op string, logits, targets, weights, lse *tensor.Tensor) (n, v int) {
	checkF32(op, logits, weights, lse)
	check(logits.Rank() == 2, op, "logits %v must be [N, V]", logits)
	n, v = logits.Dim(0), logits.Dim(1)
	check(targets.DType() == tensor.I32 && targets.Numel() == n, op, "targets %v must be I32 [%d] for logits %v", targets, n, logits)
	if weights != nil {
		check(weights.Numel() == n, op, "weights %v must be [%d] for logits %v", weights, n, logits)
	}
	if lse != nil {
		check(lse.Numel() == n, op, "lse %v must be [%d] for logits %v", lse, n, logits)
	}
	check(v <= math.MaxInt32, op, "vocabulary %d is too large", v)
	return n, v
}

// CrossEntropy sets loss[i] = w[i]·(logsumexp(logits[i]) − logits[i, t[i]]),
// 0 for ignored rows; lse (may be nil) keeps the log-sum-exp. A target that
// is out of range and not ignoreIndex gives a NaN loss (the CPU panics; the
// GPU cannot without waiting for the data).
func (b *Backend) CrossEntropy(loss, lse, logits, targets, weights *tensor.Tensor, ignoreIndex int32) {
	const op = "CrossEntropy"
	n, v := ceDims(op, logits, targets, weights, lse)
	checkF32(op, loss)
	check(loss.Numel() == n, op, "loss %v must be [%d] for logits %v", loss, n, logits)
	if n == 0 {
		return
	}
	b.launch("cross_entropy.cu", "cross_entropy_fwd_f32", rowsGrid(n), threads, 0,
		b.ptr(op, loss), b.ptr(op, lse), b.ptr(op, logits), b.ptr(op, targets), b.ptr(op, weights),
		int32(v), ignoreIndex)
}

// CrossEntropyBackward adds scale·w[i]·(softmax(logits[i]) − onehot(t[i]))
// into dlogits.
func (b *Backend) CrossEntropyBackward(dlogits, logits, lse, targets, weights *tensor.Tensor, scale float32, ignoreIndex int32) {
	const op = "CrossEntropyBackward"
	check(lse != nil, op, "needs lse from the forward pass")
	n, v := ceDims(op, logits, targets, weights, lse)
	checkF32(op, dlogits)
	check(tensor.SameShape(dlogits.Shape(), logits.Shape()), op, "dlogits %v and logits %v differ in shape", dlogits, logits)
	if n == 0 || v == 0 {
		return
	}
	b.launch("cross_entropy.cu", "cross_entropy_bwd_f32", rowsGrid(n), threads, 0,
		b.ptr(op, dlogits), b.ptr(op, logits), b.ptr(op, lse), b.ptr(op, targets), b.ptr(op, weights),
		int32(v), scale, ignoreIndex)
}
