package tensor

import (
	"fmt"
	"runtime"
	"sync"
)

// cpuBackend is the reference backend: float32, deterministic, parallel over
// goroutines. Its storage is plain Go slices: the garbage collector owns
// memory, and Free hands a buffer that New made back for reuse (cpu_pool.go).
type cpuBackend struct{}

var theCPU Backend = cpuBackend{}

// CPU returns the CPU backend.
func CPU() Backend { return theCPU }

func (cpuBackend) Name() string { return "cpu" }

func (c cpuBackend) New(dtype DType, shape ...int) *Tensor {
	t := NewTensor(c, dtype, shape, cpuPool.get(dtype, Numel(shape), true))
	t.recyclable = true
	return t
}

// NewUninit is New without the zero fill of a recycled buffer
// (UninitAllocator).
func (c cpuBackend) NewUninit(dtype DType, shape ...int) *Tensor {
	t := NewTensor(c, dtype, shape, cpuPool.get(dtype, Numel(shape), false))
	t.recyclable = true
	return t
}

// UninitAllocator is a Backend that allocates without zero-filling: the
// tensor's elements are unspecified (on the CPU, what a recycled buffer
// last held), for the output of an op that writes every element of it.
// Zeroing a buffer that is overwritten anyway is a pass over memory for
// nothing. Under DebugPoisonFreed the CPU
// backend fills it with NaN, so a reader of an element never written shows.
// The CPU backend is one; NewUninit falls back to New otherwise.
type UninitAllocator interface {
	NewUninit(dtype DType, shape ...int) *Tensor
}

// NewUninit allocates on b without the zero fill where b can skip it
// (UninitAllocator), else zero-filled by New: for a tensor whose every
// element the caller writes before reading.
func NewUninit(b Backend, dtype DType, shape ...int) *Tensor {
	if u, ok := b.(UninitAllocator); ok {
		return u.NewUninit(dtype, shape...)
	}
	return b.New(dtype, shape...)
}

// GradWriter is an optional Backend interface: backward ops that write a
// gradient whole instead of adding into it, giving the values of adding into
// a zeroed buffer without zeroing it and reading it back. nn uses them for a
// gradient not yet allocated (the op is then its only writer). The CPU
// backend is one; other backends add into a zeroed buffer as before.
type GradWriter interface {
	// CrossEntropyBackwardTo is CrossEntropyBackward setting dlogits.
	CrossEntropyBackwardTo(dlogits, logits, lse, targets, weights *Tensor, scale float32, ignoreIndex int32)
	// GeGLUBackwardTo is GeGLUBackward setting dx.
	GeGLUBackwardTo(dx, x, dy *Tensor)
}

// FromHost on the CPU copies, so the result never aliases the argument.
func (c cpuBackend) FromHost(src *Tensor) *Tensor {
	src = src.ToCPU()
	dst := c.New(src.dtype, src.shape...)
	c.Copy(dst, src)
	return dst
}

func (c cpuBackend) ToHost(src *Tensor) *Tensor { return c.FromHost(src) }

func (cpuBackend) Slice(t *Tensor, from, to int) any {
	switch s := t.data.(type) {
	case []float32:
		return s[from:to:to]
	case []uint16:
		return s[from:to:to]
	case []int32:
		return s[from:to:to]
	case []int64:
		return s[from:to:to]
	}
	panic(fmt.Sprintf("tensor: Slice of %v", t))
}

// Free gives the storage of a tensor that New made back to the pool; for a
// view or a tensor wrapping caller memory it does nothing. Either way t loses
// its storage, so freeing it twice is harmless.
func (cpuBackend) Free(t *Tensor) {
	if t.recyclable && t.data != nil {
		cpuPool.put(t.dtype, t.data)
	}
	if t.offHeap != nil {
		unmapAnon(t.offHeap)
	}
	t.recyclable, t.data, t.offHeap = false, nil, nil
}
func (cpuBackend) Sync() error { return nil }

func (cpuBackend) Fill(dst *Tensor, v float32) {
	CheckFill(dst)
	dst.DropPacked()
	d := dst.F32()
	for i := range d {
		d[i] = v
	}
}

func (cpuBackend) Copy(dst, src *Tensor) {
	CheckCopy(dst, src)
	dst.DropPacked()
	switch d := dst.data.(type) {
	case []float32:
		copy(d, src.data.([]float32))
	case []uint16:
		copy(d, src.data.([]uint16))
	case []int32:
		copy(d, src.data.([]int32))
	case []int64:
		copy(d, src.data.([]int64))
	}
}

// parallelFor splits [0, n) into contiguous chunks of at least grain items
// and runs body on each chunk on its own goroutine. Small n runs inline, so
// the goroutine cost is only paid where there is work to share.
func parallelFor(n, grain int, body func(lo, hi int)) {
	if n <= 0 {
		return
	}
	workers := runtime.GOMAXPROCS(0)
	if grain < 1 {
		grain = 1
	}
	if max := (n + grain - 1) / grain; workers > max {
		workers = max
	}
	if workers <= 1 {
		body(0, n)
		return
	}
	chunk := (n + workers - 1) / workers
	var wg sync.WaitGroup
	for lo := 0; lo < n; lo += chunk {
		hi := min(lo+chunk, n)
		wg.Add(1)
		go func() {
			defer wg.Done()
			body(lo, hi)
		}()
	}
	wg.Wait()
}
