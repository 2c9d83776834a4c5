package tensor

import (
	"fmt"
	"unsafe"
)

// NewOffHeap returns a zero CPU tensor whose storage lies outside the Go
// heap (an anonymous memory mapping where the system has them, else an
// ordinary allocation): for a model's weights kept in BF16 for inference.
//
// The garbage collector lets garbage grow to about the size of the live
// heap before it collects (GOGC=100). Weights in the heap are live heap,
// so a model of 16 GB of weights would let 16 GB of garbage build up
// between collections; off the heap they do not count, and the memory a
// forward pass leaves behind stays small whatever the model's size.
// Pages are only resident once written. Free returns the mapping to the
// system; views of the tensor must not be used afterwards.
func NewOffHeap(dtype DType, shape ...int) *Tensor {
	n := Numel(shape)
	bytes := n * dtype.Size()
	mem := mapAnon(bytes)
	if mem == nil {
		return CPU().New(dtype, shape...)
	}
	var data any
	p := unsafe.Pointer(&mem[0])
	switch dtype {
	case F32:
		data = unsafe.Slice((*float32)(p), n)
	case BF16:
		data = unsafe.Slice((*uint16)(p), n)
	case I32:
		data = unsafe.Slice((*int32)(p), n)
	case I64:
		data = unsafe.Slice((*int64)(p), n)
	default:
		panic(fmt.Sprintf("tensor: NewOffHeap with unknown dtype %v", dtype))
	}
	t := NewTensor(CPU(), dtype, shape, data)
	t.offHeap = mem
	return t
}
