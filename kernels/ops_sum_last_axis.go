package kernels

import "github.com/dllmgo/dllm/tensor"

// SumLastAxis and MeanLastAxis: sum_last_axis.cu.

// rowSum sets dst to the sums (mean: the means) of the rows of src.
func (b *Backend) rowSum(op string, dst, src *tensor.Tensor, rows, d int, mean bool) {
	if rows == 0 {
		return
	}
	if d == 0 {
		b.Fill(dst, 0)
		return
	}
	divisor := float32(1)
	if mean {
		divisor = float32(d)
	}
	b.launch("sum_last_axis.cu", "sum_last_axis_f32", rowsGrid(rows), threads, 0,
		b.ptr(op, dst), b.ptr(op, src), int32(d), divisor)
}

// SumLastAxis sets dst [N] to the row sums of src [N, D].
func (b *Backend) SumLastAxis(dst, src *tensor.Tensor) {
	rows, d := tensor.CheckSumLastAxis(dst, src)
	b.rowSum("SumLastAxis", dst, src, rows, d, false)
}

// MeanLastAxis sets dst [N] to the row means of src [N, D].
func (b *Backend) MeanLastAxis(dst, src *tensor.Tensor) {
	rows, d := tensor.CheckMeanLastAxis(dst, src)
	b.rowSum("MeanLastAxis", dst, src, rows, d, true)
}
