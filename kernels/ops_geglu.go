package kernels

import (
	"fmt"

	"github.com/dllmgo/dllm/kernels/cu"
	"github.com/dllmgo/dllm/tensor"
)

// threads is the block of the one-dimensional kernels.
var threads = cu.Dim3{X: 256, Y: 1, Z: 1}

// grid sizes a grid-stride launch over n elements: one element per thread up
// to 32 blocks per multiprocessor, then each thread loops.
func (b *Backend) grid(n int) cu.Dim3 {
	blocks := (n + threads.X - 1) / threads.X
	blocks = max(1, min(blocks, 32*max(1, b.dev.SMs)))
	return cu.Dim3{X: blocks, Y: 1, Z: 1}
}

// rowsGrid is one block per row.
func rowsGrid(rows int) cu.Dim3 { return cu.Dim3{X: rows, Y: 1, Z: 1} }

// check panics with the op's name when a limit of the CUDA backend is
// exceeded. The ops' contracts (shapes and dtypes) are package tensor's,
// shared with the CPU backend; this is for what only the device refuses.
func check(ok bool, op, format string, args ...any) {
	if !ok {
		panic(fmt.Sprintf("kernels: %s: %s", op, fmt.Sprintf(format, args...)))
	}
}

// Binary op codes of binary.cu.
const (
	opAdd = 0
	opSub = 1
	opMul = 2
)

// binary launches one of binary.cu's ops on operands that passed their contract.
func (b *Backend) binary(name string, op int32, dst, x, y *tensor.Tensor) {
	n := dst.Numel()
	if n == 0 {
		return
	}
	b.launch("binary.cu", "binary_f32", b.grid(n), threads, 0,
		b.ptr(name, dst), b.ptr(name, x), b.ptr(name, y), int64(n), op)
}

// Add sets dst = x + y.
func (b *Backend) Add(dst, x, y *tensor.Tensor) {
	tensor.CheckAdd(dst, x, y)
	b.binary("Add", opAdd, dst, x, y)
}

// Sub sets dst = x − y.
func (b *Backend) Sub(dst, x, y *tensor.Tensor) {
	tensor.CheckSub(dst, x, y)
	b.binary("Sub", opSub, dst, x, y)
}

// Mul sets dst = x ⊙ y.
func (b *Backend) Mul(dst, x, y *tensor.Tensor) {
	tensor.CheckMul(dst, x, y)
	b.binary("Mul", opMul, dst, x, y)
}

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

// AdamW updates param in place (PyTorch's formulation; see adamw.cu).
func (b *Backend) AdamW(param, grad, m, v *tensor.Tensor, p tensor.AdamWParams) {
	const op = "AdamW"
	tensor.CheckAdamW(param, grad, m, v, p)
	n := param.Numel()
	if n == 0 {
		return
	}
	s := adamScalars(p)
	b.launch("adamw.cu", "adamw_f32", b.grid(n), threads, 0,
		b.ptr(op, param), b.ptr(op, grad), b.ptr(op, m), b.ptr(op, v), int64(n),
		s.decay, s.step, s.bc2Sqrt, s.w1, p.Beta2, s.w2, p.Eps)
}
