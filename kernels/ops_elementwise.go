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

// check panics with the op's name when a precondition fails, as the CPU
// backend does.
func check(ok bool, op, format string, args ...any) {
	if !ok {
		panic(fmt.Sprintf("kernels: %s: %s", op, fmt.Sprintf(format, args...)))
	}
}

func checkF32(op string, ts ...*tensor.Tensor) {
	for _, t := range ts {
		if t != nil {
			check(t.DType() == tensor.F32, op, "%v is not F32", t)
		}
	}
}

func checkSameNumel(op string, ts ...*tensor.Tensor) {
	for _, t := range ts[1:] {
		check(t.Numel() == ts[0].Numel(), op, "element counts differ: %v and %v", ts[0], t)
	}
}

// Binary op codes of binary.cu.
const (
	opAdd = 0
	opSub = 1
	opMul = 2
)

func (b *Backend) binary(name string, op int32, dst, x, y *tensor.Tensor) {
	checkF32(name, dst, x, y)
	checkSameNumel(name, dst, x, y)
	n := dst.Numel()
	if n == 0 {
		return
	}
	b.launch("binary.cu", "binary_f32", b.grid(n), threads, 0,
		b.ptr(name, dst), b.ptr(name, x), b.ptr(name, y), int64(n), op)
}

// Add sets dst = x + y.
func (b *Backend) Add(dst, x, y *tensor.Tensor) { b.binary("Add", opAdd, dst, x, y) }

// Sub sets dst = x − y.
func (b *Backend) Sub(dst, x, y *tensor.Tensor) { b.binary("Sub", opSub, dst, x, y) }

// Mul sets dst = x ⊙ y.
func (b *Backend) Mul(dst, x, y *tensor.Tensor) { b.binary("Mul", opMul, dst, x, y) }

// axpby sets dst = alpha·src + beta·dst (beta = 0: dst is not read).
func (b *Backend) axpby(op string, dst, src *tensor.Tensor, alpha, beta float32) {
	checkF32(op, dst, src)
	checkSameNumel(op, dst, src)
	n := dst.Numel()
	if n == 0 {
		return
	}
	b.launch("axpby.cu", "axpby_f32", b.grid(n), threads, 0,
		b.ptr(op, dst), b.ptr(op, src), alpha, beta, int64(n))
}

// Scale sets dst = s·src.
func (b *Backend) Scale(dst, src *tensor.Tensor, s float32) { b.axpby("Scale", dst, src, s, 0) }

// AXPY adds s·src to dst.
func (b *Backend) AXPY(dst, src *tensor.Tensor, s float32) { b.axpby("AXPY", dst, src, s, 1) }

// AddRowVector adds v [D] to every row of x [N, D].
func (b *Backend) AddRowVector(x, v *tensor.Tensor) {
	const op = "AddRowVector"
	checkF32(op, x, v)
	check(x.Rank() >= 1 && v.Numel() == x.Dim(-1), op, "x %v, v %v: v must have x's last dimension", x, v)
	n := x.Numel()
	if n == 0 {
		return
	}
	b.launch("add_row_vector.cu", "add_row_vector_f32", b.grid(n), threads, 0,
		b.ptr(op, x), b.ptr(op, v), int64(n), int32(x.Dim(-1)))
}

// GELU sets dst = 0.5·x·(1 + erf(x/√2)).
func (b *Backend) GELU(dst, src *tensor.Tensor) {
	checkF32("GELU", dst, src)
	checkSameNumel("GELU", dst, src)
	n := dst.Numel()
	if n == 0 {
		return
	}
	b.launch("gelu.cu", "gelu_fwd_f32", b.grid(n), threads, 0, b.ptr("GELU", dst), b.ptr("GELU", src), int64(n))
}

// GELUBackward adds dy·GELU'(x) to dx.
func (b *Backend) GELUBackward(dx, x, dy *tensor.Tensor) {
	const op = "GELUBackward"
	checkF32(op, dx, x, dy)
	checkSameNumel(op, dx, x, dy)
	n := dx.Numel()
	if n == 0 {
		return
	}
	b.launch("gelu.cu", "gelu_bwd_f32", b.grid(n), threads, 0, b.ptr(op, dx), b.ptr(op, x), b.ptr(op, dy), int64(n))
}

// geluDims checks GeGLU's operands: x [.., 2I] and y [.., I].
func geluDims(op string, y, x *tensor.Tensor) (rows, inner int) {
	checkF32(op, y, x)
	check(x.Rank() >= 1, op, "x %v has no last axis", x)
	twoI := x.Dim(-1)
	check(twoI%2 == 0, op, "x %v: the last dimension must be even (two halves)", x)
	inner = twoI / 2
	if twoI == 0 {
		return 0, 0
	}
	rows = x.Numel() / twoI
	check(y.Numel() == rows*inner && y.Dim(-1) == inner, op, "y %v must be x %v with the last dimension halved", y, x)
	return rows, inner
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
	rows, inner := geluDims(op, y, x)
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
	rows, inner := geluDims(op, dy, x)
	checkF32(op, dx)
	check(tensor.SameShape(dx.Shape(), x.Shape()), op, "dx %v and x %v differ in shape", dx, x)
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
	checkF32(op, param, grad, m, v)
	for _, t := range []*tensor.Tensor{grad, m, v} {
		check(tensor.SameShape(t.Shape(), param.Shape()), op, "%v and param %v differ in shape", t, param)
	}
	check(p.Step >= 1, op, "Step = %d must be ≥ 1", p.Step)
	n := param.Numel()
	if n == 0 {
		return
	}
	s := adamScalars(p)
	b.launch("adamw.cu", "adamw_f32", b.grid(n), threads, 0,
		b.ptr(op, param), b.ptr(op, grad), b.ptr(op, m), b.ptr(op, v), int64(n),
		s.decay, s.step, s.bc2Sqrt, s.w1, p.Beta2, s.w2, p.Eps)
}
