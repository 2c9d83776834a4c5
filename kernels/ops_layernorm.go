package kernels

import "github.com/dllmgo/dllm/tensor"

// LayerNorm and its backward: layernorm.cu.

// LayerNorm normalises the rows of x: y = (x−μ)/√(σ²+eps)·gamma (+beta).
func (b *Backend) LayerNorm(y, mean, rstd, x, gamma, beta *tensor.Tensor, eps float32) {
	const op = "LayerNorm"
	rows, d := tensor.CheckLayerNorm(y, mean, rstd, x, gamma, beta)
	if rows == 0 {
		return
	}
	b.launch("layernorm.cu", "layernorm_fwd_f32", rowsGrid(rows), threads, 0,
		b.ptr(op, y), b.ptr(op, mean), b.ptr(op, rstd), b.ptr(op, x), b.ptr(op, gamma), b.ptr(op, beta),
		int32(d), eps)
}

// LayerNormBackward adds the gradients of LayerNorm into dx, dgamma and
// dbeta (dbeta may be nil).
func (b *Backend) LayerNormBackward(dx, dgamma, dbeta, dy, x, mean, rstd, gamma *tensor.Tensor) {
	const op = "LayerNormBackward"
	rows, d := tensor.CheckLayerNormBackward(dx, dgamma, dbeta, dy, x, mean, rstd, gamma)
	if rows == 0 {
		return
	}
	pdy, px, pm, pr := b.ptr(op, dy), b.ptr(op, x), b.ptr(op, mean), b.ptr(op, rstd)
	b.launch("layernorm.cu", "layernorm_bwd_dx_f32", rowsGrid(rows), threads, 0,
		b.ptr(op, dx), pdy, px, pm, pr, b.ptr(op, gamma), int32(d))
	b.launch("layernorm.cu", "layernorm_bwd_params_f32", b.colBlocks(rows, d), colThreads, 0,
		b.ptr(op, dgamma), b.ptr(op, dbeta), pdy, px, pm, pr, int64(rows), int32(d))
}
