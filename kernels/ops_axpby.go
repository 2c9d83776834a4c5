package kernels

import "github.com/dllmgo/dllm/tensor"

// Scale and AXPY: axpby.cu.

// axpby sets dst = alpha·src + beta·dst (beta = 0: dst is not read).
func (b *Backend) axpby(op string, dst, src *tensor.Tensor, alpha, beta float32) {
	n := dst.Numel()
	if n == 0 {
		return
	}
	b.launch("axpby.cu", "axpby_f32", b.grid(n), threads, 0,
		b.ptr(op, dst), b.ptr(op, src), alpha, beta, int64(n))
}

// Scale sets dst = s·src.
func (b *Backend) Scale(dst, src *tensor.Tensor, s float32) {
	tensor.CheckScale(dst, src)
	b.axpby("Scale", dst, src, s, 0)
}

// AXPY adds s·src to dst.
func (b *Backend) AXPY(dst, src *tensor.Tensor, s float32) {
	tensor.CheckAXPY(dst, src)
	b.axpby("AXPY", dst, src, s, 1)
}
