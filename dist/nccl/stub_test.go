package nccl

import (
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"

	"github.com/ebitengine/purego"
	"github.com/stretchr/testify/require"

	"github.com/dllmgo/dllm/kernels/cu"
)

// A stub libnccl with nccl.h's prototypes, compiled with the system's C
// compiler when there is one. It records what it receives, so the test can
// check that purego passes the Go signatures exactly as C receives them,
// above all ncclCommInitRank's 128-byte ncclUniqueId passed by value
// between two ints (in memory on amd64, by reference on arm64).
const stubC = `
#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef struct { char internal[128]; } ncclUniqueId;
static uint64_t rec[16];
uint64_t stub_get(int i) { return rec[i]; }

int ncclGetUniqueId(ncclUniqueId *id) {
	for (int i = 0; i < 128; i++) id->internal[i] = (char)(i * 7 + 3);
	return 0;
}
int ncclCommInitRank(void **comm, int nranks, ncclUniqueId id, int rank) {
	uint64_t sum = 0;
	for (int i = 0; i < 128; i++) sum = sum * 31 + (unsigned char)id.internal[i];
	rec[0] = (uint64_t)nranks; rec[1] = (uint64_t)rank; rec[2] = sum;
	rec[3] = (unsigned char)id.internal[0]; rec[4] = (unsigned char)id.internal[127];
	*comm = (void *)0xc0440;
	return 0;
}
int ncclAllReduce(const void *s, void *r, size_t count, int dtype, int op, void *comm, void *stream) {
	rec[0] = (uint64_t)s; rec[1] = (uint64_t)r; rec[2] = count; rec[3] = (uint64_t)dtype;
	rec[4] = (uint64_t)op; rec[5] = (uint64_t)comm; rec[6] = (uint64_t)stream;
	return 0;
}
int ncclBroadcast(const void *s, void *r, size_t count, int dtype, int root, void *comm, void *stream) {
	rec[0] = (uint64_t)s; rec[1] = (uint64_t)r; rec[2] = count; rec[3] = (uint64_t)dtype;
	rec[4] = (uint64_t)root; rec[5] = (uint64_t)comm; rec[6] = (uint64_t)stream;
	return 0;
}
static int depth;
int ncclGroupStart(void) { depth++; return 0; }
int ncclGroupEnd(void) { rec[7] = (uint64_t)depth; depth--; return depth < 0 ? 5 : 0; }
int ncclCommDestroy(void *comm) { rec[8] = (uint64_t)comm; return 3; }
const char *ncclGetErrorString(int r) { return r == 3 ? "internal error - please report this issue to the NCCL developers" : "stub"; }
`

// TestBindingAgainstStubLibrary calls the binding on the stub library.
func TestBindingAgainstStubLibrary(t *testing.T) {
	cc, err := exec.LookPath("cc")
	if err != nil {
		t.Skip("no C compiler to build the stub library")
	}
	dir := t.TempDir()
	src, so := filepath.Join(dir, "stub.c"), filepath.Join(dir, "libnccl.so.2")
	require.NoError(t, os.WriteFile(src, []byte(stubC), 0o644))
	out, err := exec.Command(cc, "-shared", "-fPIC", "-O1", "-o", so, src).CombinedOutput()
	require.NoError(t, err, "%s", out)

	t.Setenv(LibEnv, so)
	loadOnce, loaded, loadErr = sync.Once{}, nil, nil
	defer func() { loadOnce, loaded, loadErr = sync.Once{}, nil, nil }()
	lib, err := Load()
	require.NoError(t, err)
	h, err := purego.Dlopen(so, purego.RTLD_NOW)
	require.NoError(t, err)
	var get func(i int32) uint64
	purego.RegisterLibFunc(&get, h, "stub_get")

	id, err := lib.GetUniqueID()
	require.NoError(t, err)
	var sum uint64
	for i, b := range id.Internal {
		require.Equal(t, byte((i*7+3)%256), b)
		sum = sum*31 + uint64(b)
	}
	comm, err := lib.CommInitRank(4, id, 3)
	require.NoError(t, err)
	require.Equal(t, Handle(0xc0440), comm)
	require.Equal(t, []uint64{4, 3, sum, 3, uint64((127*7 + 3) % 256)}, []uint64{get(0), get(1), get(2), get(3), get(4)})

	require.NoError(t, lib.AllReduceSum(cu.DevicePtr(0xfeed0000), 1<<33, comm, cu.Stream(0x5151)))
	require.Equal(t, []uint64{0xfeed0000, 0xfeed0000, 1 << 33, Float32, Sum, 0xc0440, 0x5151},
		[]uint64{get(0), get(1), get(2), get(3), get(4), get(5), get(6)})
	require.NoError(t, lib.Broadcast(cu.DevicePtr(0xbeef00), 77, 1, comm, cu.Stream(0x42)))
	require.Equal(t, []uint64{0xbeef00, 0xbeef00, 77, Float32, 1, 0xc0440, 0x42},
		[]uint64{get(0), get(1), get(2), get(3), get(4), get(5), get(6)})
	require.NoError(t, lib.GroupStart())
	require.NoError(t, lib.GroupEnd())
	require.Equal(t, uint64(1), get(7))

	err = lib.CommDestroy(comm)
	require.Equal(t, uint64(0xc0440), get(8))
	require.ErrorContains(t, err, "ncclCommDestroy: internal error")
	require.ErrorContains(t, err, "ncclResult 3")
}
