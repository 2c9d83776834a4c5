package kernels

import "github.com/dllmgo/dllm/tensor"

// GELU and its backward: gelu.cu.

// GELU sets dst = 0.5·x·(1 + erf(x/√2)).
func (b *Backend) GELU(dst, src *tensor.Tensor) {
	tensor.CheckGELU(dst, src)
	n := dst.Numel()
	if n == 0 {
		return
	}
	b.launch("gelu.cu", "gelu_fwd_f32", b.grid(n), threads, 0, b.ptr("GELU", dst), b.ptr("GELU", src), int64(n))
}

// GELUBackward adds dy·GELU'(x) to dx.
func (b *Backend) GELUBackward(dx, x, dy *tensor.Tensor) {
	const op = "GELUBackward"
	tensor.CheckGELUBackward(dx, x, dy)
	n := dx.Numel()
	if n == 0 {
		return
	}
	b.launch("gelu.cu", "gelu_bwd_f32", b.grid(n), threads, 0, b.ptr(op, dx), b.ptr(op, x), b.ptr(op, dy), int64(n))
}
