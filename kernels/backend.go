package kernels

import (
	"errors"
	"fmt"
	"sync"

	"github.com/dllmgo/dllm/kernels/cu"
	"github.com/dllmgo/dllm/tensor"
)

func init() { tensor.Register("cuda", Open) }

// ErrNoDevice is returned by Open where there is no CUDA driver or device.
var ErrNoDevice = cu.ErrNoDevice

// Backend is the CUDA implementation of tensor.Backend on device 0. All its
// work is queued on one stream of the device's primary context and runs
// asynchronously; ToHost, SumSquares and Sync wait for it.
//
// The ops' signatures return no errors (tensor.Backend), so a failed driver
// call is kept as a sticky error, as CUDA itself does: Sync returns the first
// one, and ToHost and SumSquares panic with it rather than hand back values
// computed after a failure.
type Backend struct {
	ctx   *cu.Context
	dev   cu.DeviceInfo
	alloc *allocator
	comp  *compiler
	dry   *dryRun // non-nil only in the no-GPU tests: record launches, run nothing

	// Owned by the context's thread.
	modules map[string]cu.Module
	funcs   map[string]cu.Function
	shmem   map[cu.Function]int // dynamic shared memory limit raised so far
	lt      *cu.Lt
	scratch *block // 8 bytes for SumSquares' result

	invFreqMu sync.Mutex
	invFreq   map[invFreqKey]*tensor.Tensor // RoPE frequency tables, per (θ, rotary size, scaling)

	// Failures of queued work (see fail): sticky poisoned the context and
	// stays; pending is the first recoverable failure not yet reported.
	errMu   sync.Mutex
	sticky  error
	pending error

	captureMu sync.Mutex
	capturing *Graph // the graph being recorded, which owns new allocations
}

var (
	openOnce    sync.Once
	openBackend *Backend
	openErr     error
)

// Open returns the backend for device 0, creating it on first use. Without a
// driver or device it returns an error wrapping ErrNoDevice; without NVRTC
// it fails with an error that says which libraries it tried.
func Open() (tensor.Backend, error) {
	openOnce.Do(func() { openBackend, openErr = open() })
	if openErr != nil {
		return nil, openErr
	}
	return openBackend, nil
}

func open() (*Backend, error) {
	ctx, err := cu.NewContext(deviceOrdinal)
	if err != nil {
		return nil, err
	}
	nv, err := cu.LoadNVRTC()
	if err != nil {
		ctx.Close()
		return nil, err
	}
	if ctx.Device.Major < 8 {
		ctx.Close()
		return nil, fmt.Errorf("%w: %s has compute capability %d.%d; the kernels need 8.0 or newer (bf16 conversions)",
			ErrNoDevice, ctx.Device.Name, ctx.Device.Major, ctx.Device.Minor)
	}
	route, err := chooseRoute(ctx.Device.Major, ctx.Device.Minor, nv.Archs())
	if err != nil {
		ctx.Close()
		return nil, err
	}
	return &Backend{
		ctx:     ctx,
		dev:     ctx.Device,
		alloc:   newAllocator(),
		comp:    &compiler{nvrtc: nv, route: route, dir: CacheDir()},
		modules: map[string]cu.Module{},
		funcs:   map[string]cu.Function{},
		shmem:   map[cu.Function]int{},
		invFreq: map[invFreqKey]*tensor.Tensor{},
	}, nil
}

// Name is the device name used with --device.
func (b *Backend) Name() string { return "cuda" }

// Device describes the GPU.
func (b *Backend) Device() cu.DeviceInfo { return b.dev }

// do runs f on the context's thread and records its error.
func (b *Backend) do(f func(th *cu.Thread) error) {
	if b.dry != nil {
		return
	}
	if err := b.ctx.Do(f); err != nil {
		b.fail(err)
	}
}

// fail records the failure of queued work. Ops return no errors (they are
// queued, and most failures show only later), so a failure waits to be
// reported by the next Sync, Err or ToHost. Two kinds:
//   - a failure that poisons the CUDA context (cu.Poisons: an illegal
//     address, a failed launch) is sticky, as it is in CUDA: every later
//     report returns it, and nothing on this backend works again;
//   - any other (NVRTC rejecting a source, cuBLASLt not supporting a shape,
//     a graph capture the driver refused, out of memory) is reported once,
//     and the ops after it work. Only the first unreported one is kept.
func (b *Backend) fail(err error) {
	b.errMu.Lock()
	defer b.errMu.Unlock()
	if cu.Poisons(err) {
		if b.sticky == nil {
			b.sticky = err
		}
		return
	}
	if b.pending == nil {
		b.pending = err
	}
}

// Err returns the failure of queued work not yet reported, without waiting
// for the device: the sticky failure if the context is poisoned (returned
// every time), else the first recoverable failure since the last report,
// which this call reports (a second call returns nil).
func (b *Backend) Err() error {
	b.errMu.Lock()
	defer b.errMu.Unlock()
	if b.sticky != nil {
		return b.sticky
	}
	err := b.pending
	b.pending = nil
	return err
}

// Sync waits for all queued work and reports its failure as Err does.
func (b *Backend) Sync() error {
	b.do(func(th *cu.Thread) error { return th.Synchronize() })
	return b.Err()
}

// mustBeHealthy panics with the unreported failure: for ops that return
// values, which cannot return it. A recoverable failure is reported by the
// panic, so a caller that recovers finds the backend working.
func (b *Backend) mustBeHealthy(op string) {
	if err := b.Err(); err != nil {
		panic(fmt.Sprintf("kernels: %s after a CUDA failure: %v", op, err))
	}
}

// function returns a kernel, compiling and loading its file on first use,
// and raises its dynamic shared memory limit when shmem needs it.
func (b *Backend) function(th *cu.Thread, file, entry string, shmem int) (cu.Function, error) {
	f, ok := b.funcs[entry]
	if !ok {
		if !hasEntry(file, entry) {
			return 0, fmt.Errorf("kernels: %s is not an entry of %s (kernelEntries)", entry, file)
		}
		m, err := b.module(th, file)
		if err != nil {
			return 0, err
		}
		if f, err = th.ModuleGetFunction(m, entry); err != nil {
			return 0, err
		}
		b.funcs[entry] = f
	}
	const defaultShared = 48 << 10
	if shmem > defaultShared && b.shmem[f] < shmem {
		if shmem > b.dev.MaxSharedOptin {
			return 0, fmt.Errorf("kernels: %s needs %d bytes of shared memory, the device allows %d", entry, shmem, b.dev.MaxSharedOptin)
		}
		if err := th.FuncSetAttribute(f, cu.FuncAttrMaxDynamicSharedSizeBytes, shmem); err != nil {
			return 0, err
		}
		b.shmem[f] = shmem
	}
	return f, nil
}

func hasEntry(file, entry string) bool {
	for _, e := range kernelEntries[file] {
		if e == entry {
			return true
		}
	}
	return false
}

// module loads a source file's cubin, compiling it if the cache has none. A
// cached cubin that the driver rejects is recompiled once.
func (b *Backend) module(th *cu.Thread, file string) (cu.Module, error) {
	if m, ok := b.modules[file]; ok {
		return m, nil
	}
	bin, err := b.comp.cubin(file, false)
	if err != nil {
		return 0, err
	}
	m, err := th.ModuleLoadData(bin)
	if err != nil {
		if bin, err = b.comp.cubin(file, true); err != nil {
			return 0, err
		}
		if m, err = th.ModuleLoadData(bin); err != nil {
			return 0, fmt.Errorf("kernels: loading %s: %w", file, err)
		}
	}
	b.modules[file] = m
	return m, nil
}

// launch queues one kernel. Every argument must have the exact C type of the
// kernel's parameter (see cu.Thread.LaunchKernel): pointers as cu.DevicePtr,
// int as int32, long long as int64, float as float32.
func (b *Backend) launch(file, entry string, grid, block cu.Dim3, shmem int, args ...any) {
	if b.dry != nil {
		b.dry.launch(file, entry, grid, block, shmem, args)
		return
	}
	b.do(func(th *cu.Thread) error {
		f, err := b.function(th, file, entry, shmem)
		if err != nil {
			return err
		}
		if err := th.LaunchKernel(f, grid, block, shmem, args...); err != nil {
			return fmt.Errorf("kernels: %s: %w", entry, err)
		}
		return nil
	})
}

// Warmup compiles and loads every kernel file now, so that the first real
// op does not pay for NVRTC. It returns the first failure with its log.
func (b *Backend) Warmup() error {
	var errs []error
	b.do(func(th *cu.Thread) error {
		for _, f := range SourceFiles() {
			if _, err := b.module(th, f); err != nil {
				errs = append(errs, err)
			}
		}
		return nil
	})
	return errors.Join(errs...)
}

// Close waits for queued work, frees every cached block and unloads the
// modules. The backend must not be used afterwards. (tensor.Open keeps the
// backend for the life of the process; Close is for tests and tools.)
func (b *Backend) Close() error {
	b.do(func(th *cu.Thread) error {
		if b.lt != nil {
			b.lt.Destroy(th)
		}
		for _, m := range b.modules {
			th.ModuleUnload(m)
		}
		return b.alloc.release(th)
	})
	b.ctx.Close()
	return b.Err()
}
