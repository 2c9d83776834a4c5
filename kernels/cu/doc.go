// Package cu is dllm's thin binding to NVIDIA's CUDA driver (libcuda.so.1), the
// run-time compiler NVRTC (libnvrtc.so.*) and cuBLASLt (libcublasLt.so.*).
//
// The libraries are opened at run time with dlopen through
// github.com/ebitengine/purego, so this package needs no cgo and every binary
// that imports it builds with CGO_ENABLED=0 on a machine without CUDA. Where the
// driver is missing, Load and NewContext return an error wrapping ErrNoDevice
// and nothing else is affected.
//
// Each C function is bound by its stable ABI symbol name: the header macros of
// cuda.h map cuMemAlloc to cuMemAlloc_v2, cuGraphInstantiate to
// cuGraphInstantiateWithFlags and so on, and a dlopen-based binding must name
// the real symbol. Every call returns an error carrying cuGetErrorString's text;
// nothing here panics on a driver failure.
//
// A CUDA context is current per OS thread, and Go moves goroutines between
// threads. So a Context owns one goroutine locked to its OS thread with
// runtime.LockOSThread, and all driver work of that context runs there: the
// caller hands a function to Context.Do, which runs it on the locked goroutine
// with a *Thread, the only type whose methods make context-bound driver calls.
// The type system thereby keeps driver calls on the right thread.
//
// Status: written without access to a GPU. Every signature was checked against
// the C prototypes of cuda.h, nvrtc.h and cublasLt.h, but none of it has run on
// a device yet; see kernels/README.md.
package cu
