package kernels

import (
	"fmt"
	"math/bits"
	"runtime"
	"sync"
	"time"

	"github.com/dllmgo/dllm/kernels/cu"
)

// Device memory.
//
// cuMemAlloc is slow (it may synchronise the device) and training allocates
// thousands of tensors per step, so freed blocks go to a free list per size
// class and the next allocation of that class reuses one. All work runs on
// one stream, so reuse is safe in stream order: a kernel that still reads a
// freed block was queued before any kernel that writes its next owner's data.
// Blocks return to the lists when a tensor is freed through Backend.Free (or
// Tensor.Free), or, as a safety net, when the garbage collector finds the
// tensor unreachable. Memory goes back to the driver only when an allocation
// fails or at Close.
//
// The safety net matters more on a GPU than it looks: the Go heap holds only
// small Tensor headers, so a program that drops device tensors without Free
// (an autograd tape's activations, say) fills the device long before the Go
// heap grows enough to start a collection. So an allocation that fails first
// runs the collector and takes what its cleanups return, then empties the
// lists and retries with the driver.

// minClass is the smallest block: cuMemAlloc aligns to 256 bytes anyway.
const minClass = 512

// sizeClass rounds n up to a multiple of a quarter of its power of two, so
// classes are 512, 640, 768, 896, 1024, 1280, ... and waste at most 25%.
func sizeClass(n int) int {
	if n <= minClass {
		return minClass
	}
	p := 1 << (bits.Len(uint(n-1)) - 1) // largest power of two below n
	step := p / 4
	return (n + step - 1) / step * step
}

// block is one cuMemAlloc allocation of a size class.
type block struct {
	ptr  cu.DevicePtr
	size int
}

// allocator is the caching allocator. Its methods that call the driver take
// the context's *cu.Thread; put runs on any goroutine (the GC's cleanups).
type allocator struct {
	mu     sync.Mutex
	free   map[int][]*block
	cached int // bytes on the free lists
	live   int // bytes handed out
	peak   int // the most bytes handed out at once since the last ResetPeak
}

// MemoryStats describes the device memory a Backend holds, in bytes of size
// classes (what the allocator actually reserved for each tensor).
type MemoryStats struct {
	Live   int // held by tensors not yet freed (or not yet collected)
	Cached int // freed, kept on the free lists for reuse
	Peak   int // the most Live has been since the backend opened or ResetPeak
}

// MemoryStats reports the allocator's counters.
func (b *Backend) MemoryStats() MemoryStats {
	a := b.alloc
	a.mu.Lock()
	defer a.mu.Unlock()
	return MemoryStats{Live: a.live, Cached: a.cached, Peak: a.peak}
}

// ResetPeak starts a new peak measurement from the current live bytes.
func (b *Backend) ResetPeak() {
	a := b.alloc
	a.mu.Lock()
	a.peak = a.live
	a.mu.Unlock()
}

func newAllocator() *allocator { return &allocator{free: map[int][]*block{}} }

// get returns a block of at least n bytes.
func (a *allocator) get(th *cu.Thread, n int) (*block, error) {
	size := sizeClass(n)
	a.mu.Lock()
	b := a.takeLocked(size)
	a.mu.Unlock()
	if b != nil {
		return b, nil
	}
	p, err := th.MemAlloc(size)
	if cu.OutOfMemory(err) {
		if b := a.collect(size); b != nil {
			return b, nil
		}
		if err := a.release(th); err != nil {
			return nil, err
		}
		p, err = th.MemAlloc(size)
	}
	if err != nil {
		return nil, fmt.Errorf("allocating %d bytes: %w", size, err)
	}
	a.mu.Lock()
	a.live += size
	a.peak = max(a.peak, a.live)
	a.mu.Unlock()
	return &block{ptr: p, size: size}, nil
}

// collect runs the garbage collector, waits until the cleanups it triggers
// stop returning blocks (they run on a goroutine of their own), and then
// takes a block of the size class if one came back.
func (a *allocator) collect(size int) *block {
	runtime.GC()
	last := -1
	for range 200 { // at most about 200 ms
		a.mu.Lock()
		cached := a.cached
		a.mu.Unlock()
		if cached == last {
			break
		}
		last = cached
		time.Sleep(time.Millisecond)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.takeLocked(size)
}

// takeLocked hands out a block of the size class from its free list, or nil;
// a.mu is held.
func (a *allocator) takeLocked(size int) *block {
	l := a.free[size]
	if len(l) == 0 {
		return nil
	}
	b := l[len(l)-1]
	a.free[size] = l[:len(l)-1]
	a.cached -= size
	a.live += size
	a.peak = max(a.peak, a.live)
	return b
}

// put returns a block to its free list.
func (a *allocator) put(b *block) {
	a.mu.Lock()
	a.free[b.size] = append(a.free[b.size], b)
	a.cached += b.size
	a.live -= b.size
	a.mu.Unlock()
}

// release waits for queued work and gives every cached block back to the driver.
func (a *allocator) release(th *cu.Thread) error {
	if err := th.Synchronize(); err != nil {
		return err
	}
	a.mu.Lock()
	lists := a.free
	a.free = map[int][]*block{}
	a.cached = 0
	a.mu.Unlock()
	var first error
	for _, l := range lists {
		for _, b := range l {
			if err := th.MemFree(b.ptr); err != nil && first == nil {
				first = err
			}
		}
	}
	return first
}

// devMem is a device tensor's storage (Tensor.Data()). Reshape views share
// it; Rows views get their own devMem that points into the parent's block and
// keeps the parent reachable.
type devMem struct {
	ptr    cu.DevicePtr
	bytes  int
	blk    *block  // nil for views and empty tensors
	parent *devMem // for views

	mu      sync.Mutex
	cleanup runtime.Cleanup
	done    bool // the block went back to the allocator
	// pinned: allocated or freed while a graph was being recorded. The
	// graph's replays use the block, so it stays out of the allocator,
	// whatever Free says, until the graph is destroyed (Graph.Destroy
	// unpins it).
	pinned bool
}

// newDevMem wraps a block and arranges for the GC to recycle it if the
// tensor is dropped without Free.
func newDevMem(a *allocator, blk *block, bytes int) *devMem {
	m := &devMem{ptr: blk.ptr, bytes: bytes, blk: blk}
	m.cleanup = runtime.AddCleanup(m, a.put, blk)
	return m
}

// release hands the block back once; views and empty tensors own nothing.
func (m *devMem) release(a *allocator) {
	if m.blk == nil {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.done || m.pinned {
		return
	}
	m.done = true
	m.cleanup.Stop()
	a.put(m.blk)
}

// unpin ends a graph's hold on the block and releases it.
func (m *devMem) unpin(a *allocator) {
	m.mu.Lock()
	m.pinned = false
	m.mu.Unlock()
	m.release(a)
}
