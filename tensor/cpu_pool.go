package tensor

import (
	"fmt"
	"math"
	"math/bits"
	"sync"
	"sync/atomic"
)

// Recycling CPU buffers.
//
// A training step makes hundreds of megabytes of activations and gradients,
// each a fresh Go slice. Fresh memory is not free: the runtime zeroes it or
// faults it in page by page from the kernel (it hands freed pages back to the
// OS between collections), and the collector has to find it dead again. So
// buffers released through Free go to a free list per size class, and New
// takes from there before asking the runtime, zeroing what it hands out as
// before (NewUninit, for an output its op writes entirely, skips that
// pass); when its own class has nothing free, a free buffer of a larger
// class up to twice the request serves it (and goes back to its own class
// when freed), because some activations change size from step to step: the
// rows of the masked positions in a training step. Buffers nobody frees are
// left to the collector as they always were. NewUninit (UninitAllocator)
// skips the zero fill, for the outputs of ops that overwrite them whole:
// the tape's op outputs and the gradients a backward step writes rather
// than adds.
//
// Only a tensor made by New gives its buffer back: views (Reshape, Rows)
// share their parent's memory and tensors from FromF32 and friends wrap the
// caller's, so freeing one of those only drops the reference. Free of a
// tensor that something still reads is a use-after-free, exactly as on a GPU;
// DebugPoisonFreed makes such bugs show up in tests.

// Buffers below minPooled elements are left to Go's allocator, which serves
// small sizes from per-thread caches faster than a locked list would; 8192
// elements is 32 KiB of float32, where Go switches to page-level allocation.
const minPooled = 8192

// maxPooledBytes bounds the memory kept on the free lists. A buffer freed
// beyond it goes to the collector. Between training steps of the CPU
// reference workload (bench) the lists hold 85 MB.
const maxPooledBytes = 1 << 30

// poolClass rounds an element count up to a multiple of an eighth of its
// power of two (8192, 9216, 10240, ..., 16384, 18432, ...), so a buffer
// serves every request within 12.5% below its size.
func poolClass(n int) int {
	p := 1 << (bits.Len(uint(n-1)) - 1) // largest power of two below n
	step := p / 8
	return (n + step - 1) / step * step
}

// nextClass is the size class after class c.
func nextClass(c int) int { return poolClass(c + 1) }

type poolKey struct {
	dtype DType
	class int // elements
}

type bufferPool struct {
	mu     sync.Mutex
	free   map[poolKey][]any // full-capacity slices, len == cap == class
	cached int               // bytes on the free lists
	poison atomic.Bool       // see DebugPoisonFreed
}

var cpuPool = bufferPool{free: map[poolKey][]any{}}

// get returns a slice of n elements of dtype, recycled if a buffer of its
// class is free: zero-filled, or with zero false holding whatever it held
// (the caller overwrites every element; under DebugPoisonFreed it holds
// NaN, so a reader of what was never written shows). The slice's capacity
// is the whole class, so put can tell the class again.
func (p *bufferPool) get(dtype DType, n int, zero bool) any {
	if !zero && p.poison.Load() {
		buf := makeSlice(dtype, n)
		poisonSlice(buf)
		return buf
	}
	if n < minPooled {
		return makeSlice(dtype, n)
	}
	k := poolKey{dtype, poolClass(n)}
	p.mu.Lock()
	l := p.free[k]
	if len(l) == 0 {
		// A free buffer of one of the next classes, up to twice the size,
		// serves too: activations whose row count changes from step to
		// step (the rows of the masked positions) then find the buffers
		// of the last step's instead of fresh memory.
		fresh := k
		for c := nextClass(k.class); c <= 2*n && len(l) == 0; c = nextClass(c) {
			k.class = c
			l = p.free[k]
		}
		if len(l) == 0 {
			p.mu.Unlock()
			return resliced(makeSlice(dtype, fresh.class), n)
		}
	}
	buf := l[len(l)-1]
	l[len(l)-1] = nil
	p.free[k] = l[:len(l)-1]
	p.cached -= k.class * dtype.Size()
	p.mu.Unlock()
	buf = resliced(buf, n)
	if zero {
		clearSlice(buf)
	}
	return buf
}

// put takes back a buffer that get handed out.
func (p *bufferPool) put(dtype DType, buf any) {
	full, class := fullSlice(buf)
	if p.poison.Load() {
		poisonSlice(full)
		return // never reused: a stale reader keeps seeing the poison
	}
	if class < minPooled {
		return
	}
	k := poolKey{dtype, class}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cached+class*dtype.Size() > maxPooledBytes {
		return
	}
	p.free[k] = append(p.free[k], full)
	p.cached += class * dtype.Size()
}

// DebugPoisonFreed switches the CPU backend's use-after-free check on or off
// and returns the previous setting. While it is on, every buffer freed
// through Free is filled with NaN (BF16 too; integers with -1) and never
// reused, so a computation that still reads freed memory produces NaN (or
// different numbers) instead of silently reading its next owner's values.
// It is meant for tests: compare results with it on against a normal run.
func DebugPoisonFreed(on bool) bool {
	cpuPool.mu.Lock()
	defer cpuPool.mu.Unlock()
	was := cpuPool.poison.Swap(on)
	if on { // buffers freed before may be handed out again; start afresh
		cpuPool.free = map[poolKey][]any{}
		cpuPool.cached = 0
	}
	return was
}

func makeSlice(dtype DType, n int) any {
	switch dtype {
	case F32:
		return make([]float32, n)
	case BF16:
		return make([]uint16, n)
	case I32:
		return make([]int32, n)
	case I64:
		return make([]int64, n)
	}
	panic(fmt.Sprintf("tensor: New with unknown dtype %v", dtype))
}

// resliced returns buf[:n], keeping its capacity.
func resliced(buf any, n int) any {
	switch s := buf.(type) {
	case []float32:
		return s[:n]
	case []uint16:
		return s[:n]
	case []int32:
		return s[:n]
	case []int64:
		return s[:n]
	}
	panic(fmt.Sprintf("tensor: pool holds a %T", buf))
}

// fullSlice returns buf extended to its capacity, and that capacity.
func fullSlice(buf any) (any, int) {
	switch s := buf.(type) {
	case []float32:
		return s[:cap(s)], cap(s)
	case []uint16:
		return s[:cap(s)], cap(s)
	case []int32:
		return s[:cap(s)], cap(s)
	case []int64:
		return s[:cap(s)], cap(s)
	}
	panic(fmt.Sprintf("tensor: Free of a %T", buf))
}

func clearSlice(buf any) {
	switch s := buf.(type) {
	case []float32:
		clear(s)
	case []uint16:
		clear(s)
	case []int32:
		clear(s)
	case []int64:
		clear(s)
	}
}

func poisonSlice(buf any) {
	nan := float32(math.NaN())
	switch s := buf.(type) {
	case []float32:
		for i := range s {
			s[i] = nan
		}
	case []uint16:
		for i := range s {
			s[i] = 0x7fc0 // a bfloat16 quiet NaN
		}
	case []int32:
		for i := range s {
			s[i] = -1
		}
	case []int64:
		for i := range s {
			s[i] = -1
		}
	}
}
