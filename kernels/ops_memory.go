package kernels

import (
	"fmt"
	"math"
	"unsafe"

	"github.com/dllmgo/dllm/kernels/cu"
	"github.com/dllmgo/dllm/tensor"
)

// New allocates a zero-filled tensor.
func (b *Backend) New(dtype tensor.DType, shape ...int) *tensor.Tensor {
	bytes := tensor.Numel(shape) * dtype.Size()
	mem := &devMem{}
	if b.dry != nil {
		return tensor.NewTensor(b, dtype, shape, b.dry.alloc(bytes))
	}
	if bytes > 0 {
		var blk *block
		b.do(func(th *cu.Thread) error {
			var err error
			if blk, err = b.alloc.get(th, bytes); err != nil {
				return err
			}
			return th.MemsetD8(blk.ptr, 0, bytes)
		})
		if blk == nil {
			panic(fmt.Sprintf("kernels: New %v%v: %v", dtype, shape, b.Err()))
		}
		mem = newDevMem(b.alloc, blk, bytes)
		b.pinIfCapturing(mem)
	}
	return tensor.NewTensor(b, dtype, shape, mem)
}

// mem returns a tensor's device storage, panicking if it lives elsewhere.
func (b *Backend) mem(op string, t *tensor.Tensor) *devMem {
	if t.Backend() != tensor.Backend(b) {
		panic(fmt.Sprintf("kernels: %s: %v is not a cuda tensor", op, t))
	}
	m, ok := t.Data().(*devMem)
	if !ok {
		panic(fmt.Sprintf("kernels: %s: %v has no device storage (freed?)", op, t))
	}
	return m
}

// ptr is a tensor's device address; nil tensors (optional operands) are 0.
func (b *Backend) ptr(op string, t *tensor.Tensor) cu.DevicePtr {
	if t == nil {
		return 0
	}
	return b.mem(op, t).ptr
}

// hostBytes returns the bytes of a CPU tensor's storage.
func hostBytes(t *tensor.Tensor) (unsafe.Pointer, int) {
	n := t.Bytes()
	if n == 0 {
		return nil, 0
	}
	switch s := t.Data().(type) {
	case []float32:
		return unsafe.Pointer(&s[0]), n
	case []uint16:
		return unsafe.Pointer(&s[0]), n
	case []int32:
		return unsafe.Pointer(&s[0]), n
	case []int64:
		return unsafe.Pointer(&s[0]), n
	}
	panic(fmt.Sprintf("kernels: %v has no host storage", t))
}

// FromHost copies a CPU tensor to the device.
func (b *Backend) FromHost(src *tensor.Tensor) *tensor.Tensor {
	src = src.ToCPU()
	dst := b.New(src.DType(), src.Shape()...)
	p, n := hostBytes(src)
	if n > 0 {
		d := b.mem("FromHost", dst).ptr
		b.do(func(th *cu.Thread) error { return th.CopyHtoD(d, p, n) })
	}
	return dst
}

// ToHost copies a device tensor to a new CPU tensor after all queued work.
func (b *Backend) ToHost(src *tensor.Tensor) *tensor.Tensor {
	dst := tensor.CPU().New(src.DType(), src.Shape()...)
	p, n := hostBytes(dst)
	if n > 0 {
		s := b.mem("ToHost", src).ptr
		b.do(func(th *cu.Thread) error { return th.CopyDtoH(p, s, n) })
	}
	b.mustBeHealthy("ToHost")
	return dst
}

// Slice returns a view of elements [from, to) of t.
func (b *Backend) Slice(t *tensor.Tensor, from, to int) any {
	m := b.mem("Slice", t)
	size := t.DType().Size()
	if from < 0 || to < from || to*size > m.bytes {
		panic(fmt.Sprintf("kernels: Slice [%d, %d) of %v", from, to, t))
	}
	return &devMem{ptr: m.ptr + cu.DevicePtr(from*size), bytes: (to - from) * size, parent: m}
}

// Free returns t's block to the allocator now; freeing a view does nothing.
// While a graph is being recorded the block goes to the graph instead, as
// its replays may still use it (see Graph).
func (b *Backend) Free(t *tensor.Tensor) {
	if m, ok := t.Data().(*devMem); ok && !b.pinIfCapturing(m) {
		m.release(b.alloc)
	}
}

// Fill sets every element of an F32 tensor to v.
func (b *Backend) Fill(dst *tensor.Tensor, v float32) {
	tensor.CheckFill(dst)
	p, n := b.ptr("Fill", dst), dst.Numel()
	b.do(func(th *cu.Thread) error { return th.MemsetD32(p, math.Float32bits(v), n) })
}

// Copy copies src into dst (same dtype and element count).
func (b *Backend) Copy(dst, src *tensor.Tensor) {
	tensor.CheckCopy(dst, src)
	d, s, n := b.ptr("Copy", dst), b.ptr("Copy", src), dst.Bytes()
	b.do(func(th *cu.Thread) error { return th.CopyDtoD(d, s, n) })
}
