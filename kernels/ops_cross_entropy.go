package kernels

import (
	"math"

	"github.com/dllmgo/dllm/tensor"
)

// CrossEntropy and its backward: cross_entropy.cu.

// checkVocab refuses vocabularies the kernels' int32 columns cannot address.
func checkVocab(op string, v int) {
	check(v <= math.MaxInt32, op, "vocabulary %d is too large", v)
}

// CrossEntropy sets loss[i] = w[i]·(logsumexp(logits[i]) − logits[i, t[i]]),
// 0 for ignored rows; lse (may be nil) keeps the log-sum-exp. A target that
// is out of range and not ignoreIndex gives a NaN loss (the CPU panics; the
// GPU cannot without waiting for the data).
func (b *Backend) CrossEntropy(loss, lse, logits, targets, weights *tensor.Tensor, ignoreIndex int32) {
	const op = "CrossEntropy"
	n, v := tensor.CheckCrossEntropy(loss, lse, logits, targets, weights)
	checkVocab(op, v)
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
	n, v := tensor.CheckCrossEntropyBackward(dlogits, logits, lse, targets, weights)
	checkVocab(op, v)
	if n == 0 || v == 0 {
		return
	}
	b.launch("cross_entropy.cu", "cross_entropy_bwd_f32", rowsGrid(n), threads, 0,
		b.ptr(op, dlogits), b.ptr(op, logits), b.ptr(op, lse), b.ptr(op, targets), b.ptr(op, weights),
		int32(v), scale, ignoreIndex)
}
