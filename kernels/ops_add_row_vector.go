package kernels

import "github.com/dllmgo/dllm/tensor"

// AddRowVector: add_row_vector.cu.

// AddRowVector adds v [D] to every row of x [N, D].
func (b *Backend) AddRowVector(x, v *tensor.Tensor) {
	const op = "AddRowVector"
	_, d := tensor.CheckAddRowVector(x, v)
	n := x.Numel()
	if n == 0 {
		return
	}
	b.launch("add_row_vector.cu", "add_row_vector_f32", b.grid(n), threads, 0,
		b.ptr(op, x), b.ptr(op, v), int64(n), int32(d))
}
