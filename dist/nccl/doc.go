// Package nccl reduces gradients between GPUs with NVIDIA's NCCL
// (libnccl.so.2), the arrangement of llm.c: MPI starts the processes, gives
// ranks and carries the small messages; NCCL moves the gradients, GPU to
// GPU (NVLink, PCIe, InfiniBand), on the same CUDA stream as the kernels
// that computed them, so no host copy and no extra synchronisation is
// needed.
//
// The binding (Lib) covers ncclGetUniqueId, ncclCommInitRank,
// ncclAllReduce, ncclBroadcast, ncclGroupStart/End, ncclCommDestroy and
// ncclGetErrorString, dlopened through purego like kernels/cu, so that the
// binary stays static and runs where NCCL is absent. ncclCommInitRank takes
// the 128-byte ncclUniqueId by value: on amd64 the C ABI passes it in
// memory on the stack, on arm64 by reference to a copy; purego lays out
// both from the Go struct UniqueID.
//
// A communicator is built in three steps: rank 0 asks NCCL for a unique id
// (which names its bootstrap socket), the id is broadcast over MPI, and
// every rank calls ncclCommInitRank with it, its rank and the number of
// ranks, on its own GPU. Comm (a dist.Comm) then all-reduces CUDA tensors of
// the kernels backend on the backend's stream.
//
// Status: written without a GPU. The signatures were checked against
// nccl.h (NCCL 2.x); the tests that use it (TestGPUNCCL*, in .gpu/run.sh)
// skip below two GPUs and have not run yet.
package nccl
