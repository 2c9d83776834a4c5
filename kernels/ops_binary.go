package kernels

import "github.com/dllmgo/dllm/tensor"

// Add, Sub, Mul: binary.cu.

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
