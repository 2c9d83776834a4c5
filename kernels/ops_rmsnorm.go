package kernels

import (
	"github.com/dllmgo/dllm/kernels/cu"
	"github.com/dllmgo/dllm/tensor"
)

// rmsRowsPerBlock is how many rows a block of the RMSNorm row kernels
// handles: one per warp of the 256 threads.
const rmsRowsPerBlock = 8

// rmsRowsGrid covers rows with blocks of rmsRowsPerBlock warps.
func rmsRowsGrid(rows int) cu.Dim3 {
	return cu.Dim3{X: (rows + rmsRowsPerBlock - 1) / rmsRowsPerBlock, Y: 1, Z: 1}
}

// RMSNorm sets y = x·rstd·(w + p.WeightOffset), rstd = 1/√(mean(x²) + eps)
// per row of the last axis; rstd may be nil.
func (b *Backend) RMSNorm(y, rstd, x, w *tensor.Tensor, p tensor.RMSNormParams) {
	const op = "RMSNorm"
	rows, d := tensor.CheckRMSNorm(y, rstd, x, w)
	if rows == 0 {
		return
	}
	b.launch("rmsnorm.cu", "rmsnorm_fwd_f32", rmsRowsGrid(rows), threads, 0,
		b.ptr(op, y), b.ptr(op, rstd), b.ptr(op, x), b.ptr(op, w), int64(rows), int32(d), p.Eps, p.WeightOffset)
}

// RMSNormBackward adds the gradients of RMSNorm into dx and dw (dw may be
// nil): a warp per row for dx, then column sums for dw.
func (b *Backend) RMSNormBackward(dx, dw, dy, x, rstd, w *tensor.Tensor, p tensor.RMSNormParams) {
	const op = "RMSNormBackward"
	rows, d := tensor.CheckRMSNormBackward(dx, dw, dy, x, rstd, w)
	if rows == 0 {
		return
	}
	pdy, px, pr := b.ptr(op, dy), b.ptr(op, x), b.ptr(op, rstd)
	b.launch("rmsnorm.cu", "rmsnorm_bwd_dx_f32", rmsRowsGrid(rows), threads, 0,
		b.ptr(op, dx), pdy, px, pr, b.ptr(op, w), int64(rows), int32(d), p.WeightOffset)
	if dw != nil {
		b.launch("rmsnorm.cu", "rmsnorm_bwd_dw_f32", b.colBlocks(rows, d), colThreads, 0,
			b.ptr(op, dw), pdy, px, pr, int64(rows), int32(d))
	}
}
