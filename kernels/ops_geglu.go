package kernels

import (
	"github.com/dllmgo/dllm/kernels/cu"
	"github.com/dllmgo/dllm/tensor"
)

// GeGLU and its backward: geglu.cu.

// vec4 reports whether the float4 kernels apply: I a multiple of 4 and every
// pointer 16-byte aligned (views made by Rows may start anywhere).
func vec4(inner int, ptrs ...cu.DevicePtr) bool {
	if inner%4 != 0 {
		return false
	}
	for _, p := range ptrs {
		if p%16 != 0 {
			return false
		}
	}
	return true
}

// GeGLU sets y = GELU(x[:, :I]) ⊙ x[:, I:].
func (b *Backend) GeGLU(y, x *tensor.Tensor) {
	const op = "GeGLU"
	rows, inner := tensor.CheckGeGLU(y, x)
	if rows*inner == 0 {
		return
	}
	py, px := b.ptr(op, y), b.ptr(op, x)
	entry, n := "geglu_fwd_f32", rows*inner
	if vec4(inner, py, px) {
		entry, n = "geglu_fwd_f32x4", rows*inner/4
	}
	b.launch("geglu.cu", entry, b.grid(n), threads, 0, py, px, int64(rows), int32(inner))
}

// GeGLUBackward adds the gradient with respect to x into dx.
func (b *Backend) GeGLUBackward(dx, x, dy *tensor.Tensor) {
	const op = "GeGLUBackward"
	rows, inner := tensor.CheckGeGLUBackward(dx, x, dy)
	if rows*inner == 0 {
		return
	}
	pdx, px, pdy := b.ptr(op, dx), b.ptr(op, x), b.ptr(op, dy)
	entry, n := "geglu_bwd_f32", rows*inner
	if vec4(inner, pdx, px, pdy) {
		entry, n = "geglu_bwd_f32x4", rows*inner/4
	}
	b.launch("geglu.cu", entry, b.grid(n), threads, 0, pdx, px, pdy, int64(rows), int32(inner))
}
