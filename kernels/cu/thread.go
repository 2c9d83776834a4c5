package cu

import (
	"fmt"
	"math"
	"runtime"
	"sync/atomic"
	"unsafe"
)

// Stream returns the context's stream; all work below is queued on it.
func (t *Thread) Stream() Stream { return t.c.stream }

// Device describes the context's device.
func (t *Thread) Device() DeviceInfo { return t.c.Device }

// --- Memory ---

// MemAlloc allocates bytes of device memory (cuMemAlloc_v2: 256-byte aligned).
func (t *Thread) MemAlloc(bytes int) (DevicePtr, error) {
	var p DevicePtr
	err := check("cuMemAlloc_v2", drv.cuMemAlloc(&p, uintptr(bytes)))
	return p, err
}

// MemFree releases memory from MemAlloc.
func (t *Thread) MemFree(p DevicePtr) error {
	return check("cuMemFree_v2", drv.cuMemFree(p))
}

// MemGetInfo returns the free and total device memory in bytes.
func (t *Thread) MemGetInfo() (free, total int, err error) {
	var f, tot uintptr
	err = check("cuMemGetInfo_v2", drv.cuMemGetInfo(&f, &tot))
	return int(f), int(tot), err
}

// CopyHtoD copies host bytes to the device, queued on the stream, and waits
// for the copy so the caller may reuse src at once.
func (t *Thread) CopyHtoD(dst DevicePtr, src unsafe.Pointer, bytes int) error {
	if bytes == 0 {
		return nil
	}
	var pin runtime.Pinner
	pin.Pin(src)
	defer pin.Unpin()
	if err := check("cuMemcpyHtoDAsync_v2", drv.cuMemcpyHtoDAsync(dst, src, uintptr(bytes), t.c.stream)); err != nil {
		return err
	}
	return t.Synchronize()
}

// CopyDtoH copies device bytes to host memory after all queued work, and
// waits for it.
func (t *Thread) CopyDtoH(dst unsafe.Pointer, src DevicePtr, bytes int) error {
	if bytes == 0 {
		return nil
	}
	var pin runtime.Pinner
	pin.Pin(dst)
	defer pin.Unpin()
	if err := check("cuMemcpyDtoHAsync_v2", drv.cuMemcpyDtoHAsync(dst, src, uintptr(bytes), t.c.stream)); err != nil {
		return err
	}
	return t.Synchronize()
}

// CopyDtoD queues a device-to-device copy.
func (t *Thread) CopyDtoD(dst, src DevicePtr, bytes int) error {
	if bytes == 0 {
		return nil
	}
	return check("cuMemcpyDtoDAsync_v2", drv.cuMemcpyDtoDAsync(dst, src, uintptr(bytes), t.c.stream))
}

// MemsetD8 queues setting n bytes to v.
func (t *Thread) MemsetD8(dst DevicePtr, v uint8, n int) error {
	if n == 0 {
		return nil
	}
	return check("cuMemsetD8Async", drv.cuMemsetD8Async(dst, v, uintptr(n), t.c.stream))
}

// MemsetD32 queues setting n 32-bit words to v (dst 4-byte aligned).
func (t *Thread) MemsetD32(dst DevicePtr, v uint32, n int) error {
	if n == 0 {
		return nil
	}
	return check("cuMemsetD32Async", drv.cuMemsetD32Async(dst, v, uintptr(n), t.c.stream))
}

// Synchronize waits for all work queued on the stream.
func (t *Thread) Synchronize() error {
	syncs.Add(1)
	return check("cuStreamSynchronize", drv.cuStreamSynchronize(t.c.stream))
}

// syncs counts the host's waits for the device (Synchronize, and so every
// copy to or from host memory).
var syncs atomic.Int64

// Syncs is the number of times this process has waited for a device: each
// wait drains the GPU's queue, so a training step should make a small
// number of them, independent of the model's depth (a test holds it to that).
func Syncs() int64 { return syncs.Load() }

// --- Modules and launches ---

// ModuleLoadData loads a cubin (or PTX) image.
func (t *Thread) ModuleLoadData(image []byte) (Module, error) {
	if len(image) == 0 {
		return 0, fmt.Errorf("cuModuleLoadData: empty image")
	}
	var m Module
	err := check("cuModuleLoadData", drv.cuModuleLoadData(&m, unsafe.Pointer(&image[0])))
	runtime.KeepAlive(image)
	return m, err
}

// ModuleUnload unloads a module.
func (t *Thread) ModuleUnload(m Module) error {
	return check("cuModuleUnload", drv.cuModuleUnload(m))
}

// ModuleGetFunction finds an extern "C" kernel by name.
func (t *Thread) ModuleGetFunction(m Module, name string) (Function, error) {
	var f Function
	if err := check("cuModuleGetFunction", drv.cuModuleGetFunction(&f, m, name)); err != nil {
		return 0, fmt.Errorf("kernel %s: %w", name, err)
	}
	return f, nil
}

// FuncSetAttribute sets a kernel attribute, e.g. its dynamic shared memory limit.
func (t *Thread) FuncSetAttribute(f Function, attr FuncAttribute, v int) error {
	return check("cuFuncSetAttribute", drv.cuFuncSetAttribute(f, attr, int32(v)))
}

// Dim3 is a grid or block shape.
type Dim3 struct{ X, Y, Z int }

// LaunchKernel queues f on the stream. Each argument is one kernel parameter
// and must be one of DevicePtr, int32, uint32, int64, uint64, float32 or
// float64, matching the kernel's C parameter type exactly: the driver copies
// as many bytes as the kernel's parameter has, from where each pointer in
// kernelParams points.
func (t *Thread) LaunchKernel(f Function, grid, block Dim3, sharedBytes int, args ...any) error {
	for _, d := range []int{grid.X, grid.Y, grid.Z, block.X, block.Y, block.Z} {
		if d < 1 || d > math.MaxInt32 {
			return fmt.Errorf("cuLaunchKernel: bad launch shape grid %v block %v", grid, block)
		}
	}
	// Each parameter gets an 8-byte slot holding its value in the low bytes
	// (little-endian), and kernelParams[i] points at slot i.
	slots := make([]uint64, len(args)+1) // +1: never empty
	ptrs := make([]unsafe.Pointer, len(args)+1)
	for i, a := range args {
		switch v := a.(type) {
		case DevicePtr:
			slots[i] = uint64(v)
		case uint64:
			slots[i] = v
		case int64:
			slots[i] = uint64(v)
		case int32:
			slots[i] = uint64(uint32(v))
		case uint32:
			slots[i] = uint64(v)
		case float32:
			slots[i] = uint64(math.Float32bits(v))
		case float64:
			slots[i] = math.Float64bits(v)
		default:
			return fmt.Errorf("cuLaunchKernel: argument %d has unsupported type %T", i, a)
		}
		ptrs[i] = unsafe.Pointer(&slots[i])
	}
	// ptrs holds Go pointers and is itself handed to C: pin both arrays for
	// the call (the cgo pointer rules, which purego calls follow too).
	var pin runtime.Pinner
	pin.Pin(&slots[0])
	pin.Pin(&ptrs[0])
	defer pin.Unpin()
	r := drv.cuLaunchKernel(f,
		uint32(grid.X), uint32(grid.Y), uint32(grid.Z),
		uint32(block.X), uint32(block.Y), uint32(block.Z),
		uint32(sharedBytes), t.c.stream, unsafe.Pointer(&ptrs[0]), nil)
	return check("cuLaunchKernel", r)
}

// --- Events (timing) ---

// EventCreate makes an event that records timing (flags 0, CU_EVENT_DEFAULT).
func (t *Thread) EventCreate() (Event, error) {
	var e Event
	err := check("cuEventCreate", drv.cuEventCreate(&e, 0))
	return e, err
}

// EventDestroy destroys an event.
func (t *Thread) EventDestroy(e Event) error {
	return check("cuEventDestroy_v2", drv.cuEventDestroy(e))
}

// EventRecord queues e on the stream.
func (t *Thread) EventRecord(e Event) error {
	return check("cuEventRecord", drv.cuEventRecord(e, t.c.stream))
}

// EventSynchronize waits until e has happened.
func (t *Thread) EventSynchronize(e Event) error {
	return check("cuEventSynchronize", drv.cuEventSynchronize(e))
}

// EventElapsed returns the milliseconds between two completed events.
func (t *Thread) EventElapsed(start, end Event) (float32, error) {
	var ms float32
	err := check("cuEventElapsedTime", drv.cuEventElapsedTime(&ms, start, end))
	return ms, err
}

// --- Graphs ---

// Stream capture modes (CUstreamCaptureMode).
const (
	CaptureModeGlobal      = 0
	CaptureModeThreadLocal = 1
	CaptureModeRelaxed     = 2
)

// BeginCapture starts recording the stream's work into a graph instead of
// running it.
func (t *Thread) BeginCapture(mode int) error {
	return check("cuStreamBeginCapture_v2", drv.cuStreamBeginCapture(t.c.stream, int32(mode)))
}

// EndCapture stops recording and returns the graph.
func (t *Thread) EndCapture() (Graph, error) {
	var g Graph
	err := check("cuStreamEndCapture", drv.cuStreamEndCapture(t.c.stream, &g))
	return g, err
}

// GraphInstantiate makes an executable graph (flags 0).
func (t *Thread) GraphInstantiate(g Graph) (GraphExec, error) {
	var e GraphExec
	err := check("cuGraphInstantiateWithFlags", drv.cuGraphInstantiate(&e, g, 0))
	return e, err
}

// GraphLaunch queues one replay of an executable graph on the stream.
func (t *Thread) GraphLaunch(e GraphExec) error {
	return check("cuGraphLaunch", drv.cuGraphLaunch(e, t.c.stream))
}

// GraphExecDestroy destroys an executable graph.
func (t *Thread) GraphExecDestroy(e GraphExec) error {
	return check("cuGraphExecDestroy", drv.cuGraphExecDestroy(e))
}

// GraphDestroy destroys a graph.
func (t *Thread) GraphDestroy(g Graph) error {
	return check("cuGraphDestroy", drv.cuGraphDestroy(g))
}
