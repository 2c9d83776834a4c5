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

// rmsNormDims checks the RMSNorm operands as the CPU backend does and
// returns rows and width; out is y in the forward pass and dx in the
// backward.
func rmsNormDims(op string, out, x, w, rstd *tensor.Tensor) (rows, d int) {
	checkF32(op, out, x, w, rstd)
	check(tensor.SameShape(out.Shape(), x.Shape()), op, "%v and x %v differ in shape", out, x)
	rows, d = lastAxis(op, x)
	check(d > 0, op, "x %v has empty rows", x)
	check(w.Numel() == d, op, "w %v must have x's last dimension %d", w, d)
	if rstd != nil {
		check(rstd.Numel() == rows, op, "rstd %v must hold one value per row of x %v", rstd, x)
	}
	return rows, d
}

// RMSNorm sets y = x·rstd·(w + p.WeightOffset), rstd = 1/√(mean(x²) + eps)
// per row of the last axis; rstd may be nil.
func (b *Backend) RMSNorm(y, rstd, x, w *tensor.Tensor, p tensor.RMSNormParams) {
	const op = "RMSNorm"
	rows, d := rmsNormDims(op, y, x, w, rstd)
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
	check(rstd != nil, op, "needs rstd from the forward pass")
	rows, d := rmsNormDims(op, dx, x, w, rstd)
	checkF32(op, dy, dw)
	check(tensor.SameShape(dy.Shape(), x.Shape()), op, "dy %v and x %v differ in shape", dy, x)
	if dw != nil {
		check(dw.Numel() == d, op, "dw %v must have x's last dimension %d", dw, d)
	}
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
