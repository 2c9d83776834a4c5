package cu

import (
	"errors"
	"fmt"
	"sync"
	"unsafe"
)

// ErrNoDevice is wrapped by every error that means "no usable CUDA here": the
// driver library is missing, cuInit fails, or the machine has no device.
var ErrNoDevice = errors.New("no CUDA device")

// Result is a CUresult, the status every driver call returns.
type Result int32

// Driver status codes this package tells apart (cuda.h, CUresult).
const (
	success             Result = 0
	errorOutOfMemory    Result = 2
	errorNotInitialized Result = 3
	errorNoDevice       Result = 100
	errorInvalidDevice  Result = 101
)

// Error is a failed driver call: the function, its status and the driver's
// description of the status.
type Error struct {
	Func string
	Code Result
	Msg  string
}

func (e *Error) Error() string {
	return fmt.Sprintf("%s: %s (CUresult %d)", e.Func, e.Msg, e.Code)
}

// Poisons reports whether err is a driver failure after which the context
// is unusable: an illegal address, a failed or timed-out launch, a device
// assertion, an uncorrectable ECC error. CUDA makes these sticky: every later
// call of the process on that context fails with them. Any other failure (an
// invalid value, an unsupported configuration, out of memory, a compile
// error) leaves the context working.
func Poisons(err error) bool {
	var e *Error
	if !errors.As(err, &e) {
		return false
	}
	switch e.Code {
	case 3, // CUDA_ERROR_NOT_INITIALIZED
		4,   // CUDA_ERROR_DEINITIALIZED
		201, // CUDA_ERROR_INVALID_CONTEXT
		214, // CUDA_ERROR_ECC_UNCORRECTABLE
		700, // CUDA_ERROR_ILLEGAL_ADDRESS
		702, // CUDA_ERROR_LAUNCH_TIMEOUT
		710, // CUDA_ERROR_ASSERT
		714, // CUDA_ERROR_HARDWARE_STACK_ERROR
		715, // CUDA_ERROR_ILLEGAL_INSTRUCTION
		716, // CUDA_ERROR_MISALIGNED_ADDRESS
		717, // CUDA_ERROR_INVALID_ADDRESS_SPACE
		718, // CUDA_ERROR_INVALID_PC
		719, // CUDA_ERROR_LAUNCH_FAILED
		999: // CUDA_ERROR_UNKNOWN
		return true
	}
	return false
}

// OutOfMemory reports whether err is a driver out-of-memory failure.
func OutOfMemory(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Code == errorOutOfMemory
}

// DevicePtr is a CUdeviceptr: a device address (unsigned long long).
type DevicePtr uint64

// Opaque driver handles, all C pointers.
type (
	ctxHandle uintptr // CUcontext
	Module    uintptr // CUmodule
	Function  uintptr // CUfunction
	Stream    uintptr // CUstream
	Event     uintptr // CUevent
	Graph     uintptr // CUgraph
	GraphExec uintptr // CUgraphExec
)

// DeviceAttribute is a CUdevice_attribute.
type DeviceAttribute int32

// The device attributes dllm reads (cuda.h, CUdevice_attribute).
const (
	AttrMultiprocessorCount          DeviceAttribute = 16
	AttrComputeCapabilityMajor       DeviceAttribute = 75
	AttrComputeCapabilityMinor       DeviceAttribute = 76
	AttrMaxSharedMemoryPerBlockOptin DeviceAttribute = 97
)

// FuncAttribute is a CUfunction_attribute.
type FuncAttribute int32

// FuncAttrMaxDynamicSharedSizeBytes raises a kernel's dynamic shared memory
// limit above the default 48 KiB (CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES).
const FuncAttrMaxDynamicSharedSizeBytes FuncAttribute = 8

// The driver's C functions, bound by their ABI names. Comments give the C
// prototype each Go signature mirrors: int and unsigned int are 32 bits,
// size_t is uintptr, CUdeviceptr is uint64, handles are uintptr.
var drv struct {
	// CUresult cuInit(unsigned int Flags)
	cuInit func(flags uint32) Result
	// CUresult cuDriverGetVersion(int *driverVersion)
	cuDriverGetVersion func(v *int32) Result
	// CUresult cuGetErrorString(CUresult error, const char **pStr)
	cuGetErrorString func(r Result, s **byte) Result
	// CUresult cuDeviceGetCount(int *count)
	cuDeviceGetCount func(n *int32) Result
	// CUresult cuDeviceGet(CUdevice *device, int ordinal)
	cuDeviceGet func(dev *int32, ordinal int32) Result
	// CUresult cuDeviceGetName(char *name, int len, CUdevice dev)
	cuDeviceGetName func(name *byte, n int32, dev int32) Result
	// CUresult cuDeviceGetAttribute(int *pi, CUdevice_attribute attrib, CUdevice dev)
	cuDeviceGetAttribute func(v *int32, attr DeviceAttribute, dev int32) Result
	// CUresult cuDevicePrimaryCtxRetain(CUcontext *pctx, CUdevice dev)
	cuDevicePrimaryCtxRetain func(ctx *ctxHandle, dev int32) Result
	// CUresult cuDevicePrimaryCtxRelease_v2(CUdevice dev)
	cuDevicePrimaryCtxRelease func(dev int32) Result
	// CUresult cuCtxSetCurrent(CUcontext ctx)
	cuCtxSetCurrent func(ctx ctxHandle) Result
	// CUresult cuCtxSynchronize(void)
	cuCtxSynchronize func() Result

	// CUresult cuMemAlloc_v2(CUdeviceptr *dptr, size_t bytesize)
	cuMemAlloc func(p *DevicePtr, bytes uintptr) Result
	// CUresult cuMemFree_v2(CUdeviceptr dptr)
	cuMemFree func(p DevicePtr) Result
	// CUresult cuMemGetInfo_v2(size_t *free, size_t *total)
	cuMemGetInfo func(free, total *uintptr) Result
	// CUresult cuMemcpyHtoD_v2(CUdeviceptr dstDevice, const void *srcHost, size_t ByteCount)
	cuMemcpyHtoD func(dst DevicePtr, src unsafe.Pointer, bytes uintptr) Result
	// CUresult cuMemcpyDtoH_v2(void *dstHost, CUdeviceptr srcDevice, size_t ByteCount)
	cuMemcpyDtoH func(dst unsafe.Pointer, src DevicePtr, bytes uintptr) Result
	// CUresult cuMemcpyDtoD_v2(CUdeviceptr dstDevice, CUdeviceptr srcDevice, size_t ByteCount)
	cuMemcpyDtoD func(dst, src DevicePtr, bytes uintptr) Result
	// CUresult cuMemcpyHtoDAsync_v2(CUdeviceptr dstDevice, const void *srcHost, size_t ByteCount, CUstream hStream)
	cuMemcpyHtoDAsync func(dst DevicePtr, src unsafe.Pointer, bytes uintptr, s Stream) Result
	// CUresult cuMemcpyDtoHAsync_v2(void *dstHost, CUdeviceptr srcDevice, size_t ByteCount, CUstream hStream)
	cuMemcpyDtoHAsync func(dst unsafe.Pointer, src DevicePtr, bytes uintptr, s Stream) Result
	// CUresult cuMemcpyDtoDAsync_v2(CUdeviceptr dstDevice, CUdeviceptr srcDevice, size_t ByteCount, CUstream hStream)
	cuMemcpyDtoDAsync func(dst, src DevicePtr, bytes uintptr, s Stream) Result
	// CUresult cuMemsetD8_v2(CUdeviceptr dstDevice, unsigned char uc, size_t N)
	cuMemsetD8 func(dst DevicePtr, v uint8, n uintptr) Result
	// CUresult cuMemsetD32_v2(CUdeviceptr dstDevice, unsigned int ui, size_t N)
	cuMemsetD32 func(dst DevicePtr, v uint32, n uintptr) Result
	// CUresult cuMemsetD8Async(CUdeviceptr dstDevice, unsigned char uc, size_t N, CUstream hStream)
	cuMemsetD8Async func(dst DevicePtr, v uint8, n uintptr, s Stream) Result
	// CUresult cuMemsetD32Async(CUdeviceptr dstDevice, unsigned int ui, size_t N, CUstream hStream)
	cuMemsetD32Async func(dst DevicePtr, v uint32, n uintptr, s Stream) Result

	// CUresult cuModuleLoadData(CUmodule *module, const void *image)
	cuModuleLoadData func(m *Module, image unsafe.Pointer) Result
	// CUresult cuModuleUnload(CUmodule hmod)
	cuModuleUnload func(m Module) Result
	// CUresult cuModuleGetFunction(CUfunction *hfunc, CUmodule hmod, const char *name)
	cuModuleGetFunction func(f *Function, m Module, name string) Result
	// CUresult cuFuncSetAttribute(CUfunction hfunc, CUfunction_attribute attrib, int value)
	cuFuncSetAttribute func(f Function, attr FuncAttribute, v int32) Result
	// CUresult cuLaunchKernel(CUfunction f, unsigned int gridDimX, unsigned int gridDimY,
	//   unsigned int gridDimZ, unsigned int blockDimX, unsigned int blockDimY,
	//   unsigned int blockDimZ, unsigned int sharedMemBytes, CUstream hStream,
	//   void **kernelParams, void **extra)
	cuLaunchKernel func(f Function, gx, gy, gz, bx, by, bz, shmem uint32, s Stream, params, extra unsafe.Pointer) Result

	// CUresult cuStreamCreate(CUstream *phStream, unsigned int Flags)
	cuStreamCreate func(s *Stream, flags uint32) Result
	// CUresult cuStreamDestroy_v2(CUstream hStream)
	cuStreamDestroy func(s Stream) Result
	// CUresult cuStreamSynchronize(CUstream hStream)
	cuStreamSynchronize func(s Stream) Result
	// CUresult cuEventCreate(CUevent *phEvent, unsigned int Flags)
	cuEventCreate func(e *Event, flags uint32) Result
	// CUresult cuEventDestroy_v2(CUevent hEvent)
	cuEventDestroy func(e Event) Result
	// CUresult cuEventRecord(CUevent hEvent, CUstream hStream)
	cuEventRecord func(e Event, s Stream) Result
	// CUresult cuEventSynchronize(CUevent hEvent)
	cuEventSynchronize func(e Event) Result
	// CUresult cuEventElapsedTime(float *pMilliseconds, CUevent hStart, CUevent hEnd)
	cuEventElapsedTime func(ms *float32, start, end Event) Result

	// CUresult cuStreamBeginCapture_v2(CUstream hStream, CUstreamCaptureMode mode)
	cuStreamBeginCapture func(s Stream, mode int32) Result
	// CUresult cuStreamEndCapture(CUstream hStream, CUgraph *phGraph)
	cuStreamEndCapture func(s Stream, g *Graph) Result
	// CUresult cuGraphInstantiateWithFlags(CUgraphExec *phGraphExec, CUgraph hGraph,
	//   unsigned long long flags): what cuda.h's cuGraphInstantiate means since CUDA 12.
	cuGraphInstantiate func(e *GraphExec, g Graph, flags uint64) Result
	// CUresult cuGraphLaunch(CUgraphExec hGraphExec, CUstream hStream)
	cuGraphLaunch func(e GraphExec, s Stream) Result
	// CUresult cuGraphExecDestroy(CUgraphExec hGraphExec)
	cuGraphExecDestroy func(e GraphExec) Result
	// CUresult cuGraphDestroy(CUgraph hGraph)
	cuGraphDestroy func(g Graph) Result
}

var (
	loadOnce sync.Once
	loadErr  error
)

// Load opens libcuda.so.1 and binds the driver API once. Without a driver it
// returns an error wrapping ErrNoDevice.
func Load() error {
	loadOnce.Do(func() { loadErr = load() })
	return loadErr
}

func load() error {
	// The driver is installed with the kernel module and is always on the
	// linker's path; libcuda.so (no version) exists only with a toolkit.
	lib, err := openFirst("DLLM_LIBCUDA", []string{"libcuda.so.1", "libcuda.so"}, nil)
	if err != nil {
		return fmt.Errorf("%w: cannot load the CUDA driver: %v", ErrNoDevice, err)
	}
	d := &drv
	err = bind(lib, map[string]any{
		"cuInit":                       &d.cuInit,
		"cuDriverGetVersion":           &d.cuDriverGetVersion,
		"cuGetErrorString":             &d.cuGetErrorString,
		"cuDeviceGetCount":             &d.cuDeviceGetCount,
		"cuDeviceGet":                  &d.cuDeviceGet,
		"cuDeviceGetName":              &d.cuDeviceGetName,
		"cuDeviceGetAttribute":         &d.cuDeviceGetAttribute,
		"cuDevicePrimaryCtxRetain":     &d.cuDevicePrimaryCtxRetain,
		"cuDevicePrimaryCtxRelease_v2": &d.cuDevicePrimaryCtxRelease,
		"cuCtxSetCurrent":              &d.cuCtxSetCurrent,
		"cuCtxSynchronize":             &d.cuCtxSynchronize,
		"cuMemAlloc_v2":                &d.cuMemAlloc,
		"cuMemFree_v2":                 &d.cuMemFree,
		"cuMemGetInfo_v2":              &d.cuMemGetInfo,
		"cuMemcpyHtoD_v2":              &d.cuMemcpyHtoD,
		"cuMemcpyDtoH_v2":              &d.cuMemcpyDtoH,
		"cuMemcpyDtoD_v2":              &d.cuMemcpyDtoD,
		"cuMemcpyHtoDAsync_v2":         &d.cuMemcpyHtoDAsync,
		"cuMemcpyDtoHAsync_v2":         &d.cuMemcpyDtoHAsync,
		"cuMemcpyDtoDAsync_v2":         &d.cuMemcpyDtoDAsync,
		"cuMemsetD8_v2":                &d.cuMemsetD8,
		"cuMemsetD32_v2":               &d.cuMemsetD32,
		"cuMemsetD8Async":              &d.cuMemsetD8Async,
		"cuMemsetD32Async":             &d.cuMemsetD32Async,
		"cuModuleLoadData":             &d.cuModuleLoadData,
		"cuModuleUnload":               &d.cuModuleUnload,
		"cuModuleGetFunction":          &d.cuModuleGetFunction,
		"cuFuncSetAttribute":           &d.cuFuncSetAttribute,
		"cuLaunchKernel":               &d.cuLaunchKernel,
		"cuStreamCreate":               &d.cuStreamCreate,
		"cuStreamDestroy_v2":           &d.cuStreamDestroy,
		"cuStreamSynchronize":          &d.cuStreamSynchronize,
		"cuEventCreate":                &d.cuEventCreate,
		"cuEventDestroy_v2":            &d.cuEventDestroy,
		"cuEventRecord":                &d.cuEventRecord,
		"cuEventSynchronize":           &d.cuEventSynchronize,
		"cuEventElapsedTime":           &d.cuEventElapsedTime,
		"cuStreamBeginCapture_v2":      &d.cuStreamBeginCapture,
		"cuStreamEndCapture":           &d.cuStreamEndCapture,
		"cuGraphInstantiateWithFlags":  &d.cuGraphInstantiate,
		"cuGraphLaunch":                &d.cuGraphLaunch,
		"cuGraphExecDestroy":           &d.cuGraphExecDestroy,
		"cuGraphDestroy":               &d.cuGraphDestroy,
	})
	if err != nil {
		return fmt.Errorf("%w: %v", ErrNoDevice, err)
	}
	if err := check("cuInit", drv.cuInit(0)); err != nil {
		return fmt.Errorf("%w: %v", ErrNoDevice, err)
	}
	return nil
}

// check turns a driver status into an error (nil for success).
func check(fn string, r Result) error {
	if r == success {
		return nil
	}
	msg := "unknown error"
	var s *byte
	if drv.cuGetErrorString != nil && drv.cuGetErrorString(r, &s) == success && s != nil {
		msg = goString(s)
	}
	e := &Error{Func: fn, Code: r, Msg: msg}
	if r == errorNoDevice || r == errorInvalidDevice || r == errorNotInitialized {
		return fmt.Errorf("%w: %w", ErrNoDevice, e)
	}
	return e
}

// DriverVersion returns the driver's CUDA version as major*1000 + minor*10
// (13000 for CUDA 13.0).
func DriverVersion() (int, error) {
	if err := Load(); err != nil {
		return 0, err
	}
	var v int32
	if err := check("cuDriverGetVersion", drv.cuDriverGetVersion(&v)); err != nil {
		return 0, err
	}
	return int(v), nil
}

// DeviceCount returns the number of CUDA devices.
func DeviceCount() (int, error) {
	if err := Load(); err != nil {
		return 0, err
	}
	var n int32
	if err := check("cuDeviceGetCount", drv.cuDeviceGetCount(&n)); err != nil {
		return 0, err
	}
	return int(n), nil
}
