package tensor

import (
	"fmt"
	"strings"
)

// Tensor is a dense, row-major, contiguous array on one device. Its storage is
// owned by its Backend: on the CPU it is a Go slice ([]float32, []uint16 for
// BF16 bits, []int32 or []int64) holding exactly Numel elements.
//
// Reshape and row slicing are views: they share storage with the original.
type Tensor struct {
	shape []int
	dtype DType
	b     Backend
	data  any
	// recyclable marks a CPU tensor whose storage New drew from the buffer
	// pool and Free may return there; views and wrapped slices are not.
	recyclable bool
	// pack is set on weights marked by KeepPacked (see packed.go).
	pack *packState
	// base is the tensor whose storage a view (Reshape, Rows) shares, nil
	// for a tensor that owns its storage.
	base *Tensor
	// offHeap is the mapping holding a NewOffHeap tensor's storage, which
	// Free unmaps.
	offHeap []byte
}

// Base is the tensor whose storage a view (Reshape, Rows) shares; nil for a
// tensor that owns its storage.
func (t *Tensor) Base() *Tensor { return t.base }

// root is the tensor that owns t's storage: t itself, or the one t views.
func (t *Tensor) root() *Tensor {
	if t.base != nil {
		return t.base
	}
	return t
}

// NewTensor wraps backend storage; backends call it, users call Backend.New or
// the From* constructors.
func NewTensor(b Backend, dtype DType, shape []int, data any) *Tensor {
	for _, d := range shape {
		if d < 0 {
			panic(fmt.Sprintf("tensor: negative dimension in shape %v", shape))
		}
	}
	return &Tensor{shape: append([]int(nil), shape...), dtype: dtype, b: b, data: data}
}

// Shape returns the dimensions. The slice must not be modified.
func (t *Tensor) Shape() []int { return t.shape }

// Dim returns dimension i; negative i counts from the end.
func (t *Tensor) Dim(i int) int {
	if i < 0 {
		i += len(t.shape)
	}
	return t.shape[i]
}

// Rank is the number of dimensions.
func (t *Tensor) Rank() int { return len(t.shape) }

// DType is the element type.
func (t *Tensor) DType() DType { return t.dtype }

// Backend is the device the tensor lives on.
func (t *Tensor) Backend() Backend { return t.b }

// Data is the backend's storage; on the CPU a typed slice.
func (t *Tensor) Data() any { return t.data }

// Numel is the number of elements.
func (t *Tensor) Numel() int { return Numel(t.shape) }

// Bytes is the size of the storage in bytes.
func (t *Tensor) Bytes() int { return t.Numel() * t.dtype.Size() }

// Numel is the product of a shape's dimensions (1 for a scalar shape).
func Numel(shape []int) int {
	n := 1
	for _, d := range shape {
		n *= d
	}
	return n
}

// Reshape returns a view with a new shape of the same number of elements. One
// dimension may be -1 and is inferred.
func (t *Tensor) Reshape(shape ...int) *Tensor {
	shape = append([]int(nil), shape...)
	infer, known := -1, 1
	for i, d := range shape {
		if d == -1 {
			if infer >= 0 {
				panic(fmt.Sprintf("tensor: Reshape %v: more than one -1", shape))
			}
			infer = i
			continue
		}
		known *= d
	}
	if infer >= 0 && known > 0 {
		shape[infer] = t.Numel() / known
	}
	if Numel(shape) != t.Numel() {
		panic(fmt.Sprintf("tensor: Reshape %v to %v: element counts differ", t.shape, shape))
	}
	return &Tensor{shape: shape, dtype: t.dtype, b: t.b, data: t.data, base: t.root()}
}

// Rows returns the view of rows [i, j) along the first dimension.
func (t *Tensor) Rows(i, j int) *Tensor {
	if len(t.shape) == 0 || i < 0 || j < i || j > t.shape[0] {
		panic(fmt.Sprintf("tensor: Rows(%d, %d) of shape %v", i, j, t.shape))
	}
	row := Numel(t.shape[1:])
	shape := append([]int{j - i}, t.shape[1:]...)
	return &Tensor{shape: shape, dtype: t.dtype, b: t.b, data: t.b.Slice(t, i*row, j*row), base: t.root()}
}

// IsView reports whether t shares storage it got from another tensor
// (Reshape, Rows): replacing a view's storage would not change its parent.
func (t *Tensor) IsView() bool { return t.base != nil }

// Free releases device memory now instead of waiting for the garbage
// collector. Neither the tensor nor any view of it may be used afterwards:
// the memory goes to the next tensor of its size. Freeing a view (Reshape,
// Rows) only drops the view's reference on the CPU; on a GPU it may release
// the parent's memory, so free the tensor New returned instead.
func (t *Tensor) Free() {
	if t == nil || t.data == nil {
		return
	}
	t.b.Free(t)
	t.data = nil
}

// String summarises the tensor without its values.
func (t *Tensor) String() string {
	dims := make([]string, len(t.shape))
	for i, d := range t.shape {
		dims[i] = fmt.Sprint(d)
	}
	return fmt.Sprintf("%s[%s]@%s", t.dtype, strings.Join(dims, ","), t.b.Name())
}

// SameShape reports whether two shapes are equal.
func SameShape(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// F32 returns the storage of a CPU F32 tensor. It panics on any other tensor:
// use ToCPU first for device tensors.
func (t *Tensor) F32() []float32 {
	s, ok := t.data.([]float32)
	if !ok || t.dtype != F32 {
		panic(fmt.Sprintf("tensor: F32() of %v", t))
	}
	return s
}

// BF16Bits returns the storage of a CPU BF16 tensor as raw bits.
func (t *Tensor) BF16Bits() []uint16 {
	s, ok := t.data.([]uint16)
	if !ok || t.dtype != BF16 {
		panic(fmt.Sprintf("tensor: BF16Bits() of %v", t))
	}
	return s
}

// I32 returns the storage of a CPU I32 tensor.
func (t *Tensor) I32() []int32 {
	s, ok := t.data.([]int32)
	if !ok || t.dtype != I32 {
		panic(fmt.Sprintf("tensor: I32() of %v", t))
	}
	return s
}

// I64 returns the storage of a CPU I64 tensor.
func (t *Tensor) I64() []int64 {
	s, ok := t.data.([]int64)
	if !ok || t.dtype != I64 {
		panic(fmt.Sprintf("tensor: I64() of %v", t))
	}
	return s
}

// ToCPU returns the tensor's values on the CPU backend (the tensor itself if
// it is already there).
func (t *Tensor) ToCPU() *Tensor {
	if t.b == CPU() {
		return t
	}
	return t.b.ToHost(t)
}

// To returns the tensor on backend b (the tensor itself if already there).
func (t *Tensor) To(b Backend) *Tensor {
	if t.b == b {
		return t
	}
	return b.FromHost(t.ToCPU())
}

// FromF32 makes a CPU F32 tensor that uses data as its storage.
func FromF32(data []float32, shape ...int) *Tensor {
	mustLen("FromF32", len(data), shape)
	return NewTensor(CPU(), F32, shape, data)
}

// FromI32 makes a CPU I32 tensor that uses data as its storage.
func FromI32(data []int32, shape ...int) *Tensor {
	mustLen("FromI32", len(data), shape)
	return NewTensor(CPU(), I32, shape, data)
}

// FromI64 makes a CPU I64 tensor that uses data as its storage.
func FromI64(data []int64, shape ...int) *Tensor {
	mustLen("FromI64", len(data), shape)
	return NewTensor(CPU(), I64, shape, data)
}

// FromBF16Bits makes a CPU BF16 tensor from raw bfloat16 bits.
func FromBF16Bits(data []uint16, shape ...int) *Tensor {
	mustLen("FromBF16Bits", len(data), shape)
	return NewTensor(CPU(), BF16, shape, data)
}

func mustLen(op string, n int, shape []int) {
	if n != Numel(shape) {
		panic(fmt.Sprintf("tensor: %s: %d values for shape %v", op, n, shape))
	}
}
