package kernels

import (
	"github.com/dllmgo/dllm/kernels/cu"
	"github.com/dllmgo/dllm/tensor"
)

// SumRows: sum_rows.cu (its grid is also LayerNormBackward's).

// colBlocks sizes the 32-column × 8-lane grid of the column sums: enough
// row chunks to fill the device, each chunk at least 64 rows.
func (b *Backend) colBlocks(rows, d int) cu.Dim3 {
	x := (d + 31) / 32
	y := max(1, min((rows+63)/64, (4*max(1, b.dev.SMs)+x-1)/x))
	return cu.Dim3{X: x, Y: y, Z: 1}
}

var colThreads = cu.Dim3{X: 32, Y: 8, Z: 1}

// SumRows adds the column sums of src [N, D] into dst [D].
func (b *Backend) SumRows(dst, src *tensor.Tensor) {
	const op = "SumRows"
	rows, d := tensor.CheckSumRows(dst, src)
	if rows == 0 || d == 0 {
		return
	}
	b.launch("sum_rows.cu", "sum_rows_f32", b.colBlocks(rows, d), colThreads, 0,
		b.ptr(op, dst), b.ptr(op, src), int64(rows), int32(d))
}
