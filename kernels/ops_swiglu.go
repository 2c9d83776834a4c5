package kernels

import "github.com/dllmgo/dllm/tensor"

// SwiGLU sets y = silu(x[:, :I]) ⊙ x[:, I:].
func (b *Backend) SwiGLU(y, x *tensor.Tensor) {
	const op = "SwiGLU"
	rows, inner := geluDims(op, y, x) // the same two-halves shape check as GeGLU
	if rows*inner == 0 {
		return
	}
	py, px := b.ptr(op, y), b.ptr(op, x)
	entry, n := "swiglu_fwd_f32", rows*inner
	if vec4(inner, py, px) {
		entry, n = "swiglu_fwd_f32x4", rows*inner/4
	}
	b.launch("swiglu.cu", entry, b.grid(n), threads, 0, py, px, int64(rows), int32(inner))
}

// SwiGLUBackward adds the gradient with respect to x into dx.
func (b *Backend) SwiGLUBackward(dx, x, dy *tensor.Tensor) {
	const op = "SwiGLUBackward"
	rows, inner := geluDims(op, dy, x)
	checkF32(op, dx)
	check(tensor.SameShape(dx.Shape(), x.Shape()), op, "dx %v and x %v differ in shape", dx, x)
	if rows*inner == 0 {
		return
	}
	pdx, px, pdy := b.ptr(op, dx), b.ptr(op, x), b.ptr(op, dy)
	entry, n := "swiglu_bwd_f32", rows*inner
	if vec4(inner, pdx, px, pdy) {
		entry, n = "swiglu_bwd_f32x4", rows*inner/4
	}
	b.launch("swiglu.cu", entry, b.grid(n), threads, 0, pdx, px, pdy, int64(rows), int32(inner))
}
