package kernels

import "github.com/dllmgo/dllm/tensor"

// Softmax: softmax.cu.

// Softmax sets dst to softmax over the last axis of src.
func (b *Backend) Softmax(dst, src *tensor.Tensor) {
	const op = "Softmax"
	rows, d := tensor.CheckSoftmax(dst, src)
	if rows == 0 || d == 0 {
		return
	}
	b.launch("softmax.cu", "softmax_f32", rowsGrid(rows), threads, 0, b.ptr(op, dst), b.ptr(op, src), int32(d))
}
