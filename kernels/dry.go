package kernels

import (
	"sync"

	"github.com/dllmgo/dllm/kernels/cu"
	"github.com/dllmgo/dllm/tensor"
)

// dryRun lets the tests drive every Backend op on a machine without a GPU:
// tensors get fake device addresses, nothing runs, and each kernel launch
// and cuBLASLt call is recorded, so the tests can check the launches against
// the kernels' C signatures (see dry_test.go).
type dryRun struct {
	mu       sync.Mutex
	next     cu.DevicePtr
	launches []dryLaunch
	gemms    []cu.Gemm
}

type dryLaunch struct {
	file, entry string
	grid, block cu.Dim3
	shmem       int
	args        []any
}

// newDryBackend is a Backend that records instead of running, for a device
// like dev.
func newDryBackend(dev cu.DeviceInfo) *Backend {
	return &Backend{
		dev:     dev,
		alloc:   newAllocator(),
		dry:     &dryRun{next: 1 << 20},
		invFreq: map[invFreqKey]*tensor.Tensor{},
	}
}

// alloc hands out 256-byte aligned fake addresses, as cuMemAlloc would.
func (d *dryRun) alloc(bytes int) *devMem {
	d.mu.Lock()
	defer d.mu.Unlock()
	p := d.next
	d.next += cu.DevicePtr((bytes + 511) / 256 * 256)
	return &devMem{ptr: p, bytes: bytes}
}

func (d *dryRun) launch(file, entry string, grid, block cu.Dim3, shmem int, args []any) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.launches = append(d.launches, dryLaunch{file, entry, grid, block, shmem, args})
}

func (d *dryRun) gemm(g cu.Gemm) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.gemms = append(d.gemms, g)
}
