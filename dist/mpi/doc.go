// Package mpi is dllm's thin binding to an MPI library (the Message Passing
// Interface: Open MPI, MPICH and the MPICH-ABI family), for the calls data
// parallel training needs: MPI_Init_thread, MPI_Finalize, MPI_Initialized,
// MPI_Comm_rank, MPI_Comm_size, MPI_Bcast, MPI_Allreduce of float32 with
// MPI_SUM, MPI_Barrier and MPI_Abort.
//
// Like kernels/cu, it opens the library at run time with dlopen through
// github.com/ebitengine/purego: the dllm binary stays static, builds with
// CGO_ENABLED=0, and works where no MPI is installed (Load returns an error
// and nothing else is affected).
//
// # Handles
//
// MPI's C handles (MPI_Comm, MPI_Datatype, MPI_Op) are opaque, and the two
// families of implementations spell them differently:
//
//   - Open MPI (libmpi.so.40) makes each predefined handle the address of an
//     exported global object: MPI_COMM_WORLD is &ompi_mpi_comm_world,
//     MPI_FLOAT is &ompi_mpi_float, MPI_SUM is &ompi_mpi_op_sum. The binding
//     looks these symbols up with dlsym and passes their addresses.
//     MPI_IN_PLACE is (void*)1.
//   - MPICH (libmpi.so.12; also Intel MPI, MVAPICH and Cray MPICH, which keep
//     its ABI) makes them 32-bit integer constants from mpi.h:
//     MPI_COMM_WORLD 0x44000000, MPI_FLOAT 0x4c00040a, MPI_BYTE 0x4c00010d,
//     MPI_SUM 0x58000003, and MPI_IN_PLACE is (void*)-1. An int argument
//     travels in the low half of a 64-bit register on amd64 and arm64, so a
//     uintptr carrying the constant is the same call.
//
// The flavour is told from the library itself: a library exporting
// ompi_mpi_comm_world is Open MPI, anything else is taken for MPICH's ABI.
// Open MPI 4.1 (Debian bookworm's) is what CI runs; MPICH 4.0.2 (Debian's
// libmpich.so.12 under its mpiexec.hydra) passed TestMPICalls' ranks and a
// dllm sft run once by hand, and is not in CI.
//
// # Threads
//
// Go moves goroutines between OS threads, so the library is initialised
// with MPI_THREAD_SERIALIZED (any thread may call, one at a time) and every
// call but Abort holds one mutex. Abort must work while another goroutine is
// stuck in a collective, so it takes no lock.
//
// # Signals
//
// Open MPI installs handlers for SIGSEGV, SIGBUS, SIGFPE and SIGABRT to print
// a backtrace, which would take those signals away from the Go runtime (a
// nil dereference must stay a Go panic). Init sets OMPI_MCA_opal_signal to
// the empty list first, unless the user set it.
package mpi
