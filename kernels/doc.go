// Package kernels is dllm's CUDA backend: hand-written CUDA C++ kernels
// (embedded with go:embed, compiled at first use by NVRTC for the device's
// exact architecture and cached on disk), cuBLASLt for matrix products, a
// stream-ordered caching allocator and CUDA graphs, behind the
// tensor.Backend interface. Importing the package registers the backend as
// device "cuda":
//
//	import _ "github.com/dllmgo/dllm/kernels"
//	b, err := tensor.Open("cuda") // ErrNoDevice where there is no GPU
//
// Everything builds with CGO_ENABLED=0: the CUDA libraries are opened at run
// time by package kernels/cu.
//
// Status: UNVERIFIED ON A GPU. The code was written and tested on a machine
// without one; README.md lists what was checked, every kernel and driver call,
// and the command that runs the conformance suite and the benchmarks on a GPU
// (make gpu-bins, then DLLM_REQUIRE_GPU=1 .gpu/run.sh there).
package kernels
