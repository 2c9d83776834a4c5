package cu

import (
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A stub library with the C prototypes of the trickiest bindings, compiled
// with the system's C compiler when there is one. It records what it
// receives, so the test can check that purego passes the Go signatures of
// this package exactly as C receives them: eleven and sixteen arguments
// (several on the stack), 32-bit values next to 64-bit ones, pointers, and
// cuLaunchKernel's array of pointers to parameter values.
const stubC = `
#include <stddef.h>
#include <stdint.h>
#include <string.h>

static uint64_t rec[40];

uint64_t stub_get(int i) { return rec[i]; }

int cuGetErrorString(int r, const char **s) {
	rec[0] = (uint64_t)r;
	*s = "stub: out of memory";
	return 0;
}

int cuMemAlloc_v2(uint64_t *p, size_t n) {
	*p = 0xdead0000ull + n;
	return 0;
}

int cuMemsetD32Async(uint64_t dst, unsigned int v, size_t n, void *stream) {
	rec[0] = dst; rec[1] = v; rec[2] = n; rec[3] = (uint64_t)stream;
	return 0;
}

int cuLaunchKernel(void *f, unsigned int gx, unsigned int gy, unsigned int gz,
                   unsigned int bx, unsigned int by, unsigned int bz,
                   unsigned int shmem, void *stream, void **params, void **extra) {
	rec[0] = (uint64_t)f; rec[1] = gx; rec[2] = gy; rec[3] = gz;
	rec[4] = bx; rec[5] = by; rec[6] = bz; rec[7] = shmem;
	rec[8] = (uint64_t)stream; rec[9] = (uint64_t)extra;
	/* The kernel's parameters: float *, int, long long, float, double. */
	rec[10] = *(uint64_t *)params[0];
	rec[11] = (uint64_t)(int64_t)*(int32_t *)params[1];
	rec[12] = (uint64_t)*(int64_t *)params[2];
	float fl; memcpy(&fl, params[3], 4); rec[13] = (uint64_t)(fl * 1000);
	double db; memcpy(&db, params[4], 8); rec[14] = (uint64_t)(db * 1000);
	return 0;
}

int cublasLtMatmul(void *h, void *desc, const void *alpha, const void *A, void *Ad,
                   const void *B, void *Bd, const void *beta, const void *C, void *Cd,
                   void *D, void *Dd, const void *algo, void *ws, size_t wsBytes, void *stream) {
	rec[0] = (uint64_t)h; rec[1] = (uint64_t)desc; rec[2] = (uint64_t)(*(const float *)alpha * 1000);
	rec[3] = (uint64_t)A; rec[4] = (uint64_t)Ad; rec[5] = (uint64_t)B; rec[6] = (uint64_t)Bd;
	rec[7] = (uint64_t)(*(const float *)beta * 1000); rec[8] = (uint64_t)C; rec[9] = (uint64_t)Cd;
	rec[10] = (uint64_t)D; rec[11] = (uint64_t)Dd; rec[12] = *(const uint64_t *)algo;
	rec[13] = (uint64_t)ws; rec[14] = wsBytes; rec[15] = (uint64_t)stream;
	return 7;
}

static char strs[8][256];
const char *stub_str(int i) { return strs[i]; }

int nvrtcCreateProgram(void **prog, const char *src, const char *name, int n,
                       const char *const *headers, const char *const *names) {
	*prog = (void *)0x99;
	strncpy(strs[0], src, 255); strncpy(strs[1], name, 255);
	rec[0] = (uint64_t)n;
	if (n > 0) { strncpy(strs[2], headers[0], 255); strncpy(strs[3], names[0], 255); }
	return 0;
}

int nvrtcCompileProgram(void *prog, int n, const char *const *opts) {
	rec[1] = (uint64_t)prog; rec[2] = (uint64_t)n;
	for (int i = 0; i < n && i < 4; i++) strncpy(strs[4 + i], opts[i], 255);
	return 6; /* NVRTC_ERROR_COMPILATION */
}

int nvrtcGetProgramLogSize(void *prog, size_t *n) { *n = 12; return 0; }
int nvrtcGetProgramLog(void *prog, char *log) { memcpy(log, "stub: oops\n", 12); return 0; }
int nvrtcDestroyProgram(void **prog) { rec[3] = (uint64_t)*prog; *prog = 0; return 0; }
const char *nvrtcGetErrorString(int r) { return r == 6 ? "NVRTC_ERROR_COMPILATION" : "other"; }

int cublasLtMatrixLayoutCreate(void **l, int type, uint64_t rows, uint64_t cols, int64_t ld) {
	*l = (void *)0x77;
	rec[0] = (uint64_t)type; rec[1] = rows; rec[2] = cols; rec[3] = (uint64_t)ld;
	return 0;
}
`

func stubLibrary(t *testing.T) *library {
	t.Helper()
	cc, err := exec.LookPath("cc")
	if err != nil {
		t.Skip("no C compiler to build the stub library")
	}
	dir := t.TempDir()
	src := filepath.Join(dir, "stub.c")
	so := filepath.Join(dir, "libdllmstub.so")
	require.NoError(t, os.WriteFile(src, []byte(stubC), 0o644))
	out, err := exec.Command(cc, "-shared", "-fPIC", "-O1", "-o", so, src).CombinedOutput()
	require.NoError(t, err, "%s", out)
	lib, err := openFirst("", []string{so}, nil)
	require.NoError(t, err)
	return lib
}

// TestBindingsAgainstStubLibrary calls the real bindings (this package's
// function types and Thread methods) on a stub that records its arguments.
func TestBindingsAgainstStubLibrary(t *testing.T) {
	lib := stubLibrary(t)
	saved := drv
	defer func() { drv = saved }()
	var get func(i int32) uint64
	require.NoError(t, bind(lib, map[string]any{
		"stub_get":         &get,
		"cuGetErrorString": &drv.cuGetErrorString,
		"cuMemAlloc_v2":    &drv.cuMemAlloc,
		"cuMemsetD32Async": &drv.cuMemsetD32Async,
		"cuLaunchKernel":   &drv.cuLaunchKernel,
	}))
	err := bind(lib, map[string]any{"cuNoSuchFunction": &drv.cuInit})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "cuNoSuchFunction")

	th := &Thread{c: &Context{stream: Stream(0x5151)}}

	p, err := th.MemAlloc(1234)
	require.NoError(t, err)
	assert.Equal(t, DevicePtr(0xdead0000+1234), p)

	require.NoError(t, th.MemsetD32(DevicePtr(0xabcdef012345), math.Float32bits(-2.5), 99))
	assert.Equal(t, []uint64{0xabcdef012345, uint64(math.Float32bits(-2.5)), 99, 0x5151},
		[]uint64{get(0), get(1), get(2), get(3)})

	err = th.LaunchKernel(Function(0x1234), Dim3{7, 8, 9}, Dim3{32, 2, 1}, 4096,
		DevicePtr(0xfeedbeef00), int32(-5), int64(1)<<40, float32(1.5), float64(-0.25))
	require.NoError(t, err)
	want := []uint64{0x1234, 7, 8, 9, 32, 2, 1, 4096, 0x5151, 0, 0xfeedbeef00, uint64(0xfffffffffffffffb), 1 << 40, 1500}
	for i, w := range want {
		assert.Equal(t, w, get(int32(i)), "cuLaunchKernel record %d", i)
	}
	assert.Equal(t, int64(-250), int64(get(14)), "double parameter")

	// A failing status gets cuGetErrorString's text and is classified.
	e := check("cuSomething", errorOutOfMemory)
	require.Error(t, e)
	assert.Contains(t, e.Error(), "stub: out of memory")
	assert.True(t, OutOfMemory(e))
	assert.Equal(t, uint64(errorOutOfMemory), get(0))
}

func TestCublasLtBindingsAgainstStubLibrary(t *testing.T) {
	lib := stubLibrary(t)
	l := &ltLib{path: lib.path}
	var get func(i int32) uint64
	require.NoError(t, bind(lib, map[string]any{
		"stub_get":                   &get,
		"cublasLtMatmul":             &l.matmul,
		"cublasLtMatrixLayoutCreate": &l.layoutCreate,
	}))
	var layout uintptr
	require.Equal(t, int32(0), l.layoutCreate(&layout, R16BF, 1<<33, 7, -3))
	assert.Equal(t, uintptr(0x77), layout)
	assert.Equal(t, []uint64{14, 1 << 33, 7, uint64(0xfffffffffffffffd)}, []uint64{get(0), get(1), get(2), get(3)})

	alpha, beta := float32(1.5), float32(0.25)
	var algo [heuristicResultBytes]byte
	*(*uint64)(unsafe.Pointer(&algo[0])) = 0xa160
	s := l.matmul(11, 12, unsafe.Pointer(&alpha), 13, 14, 15, 16, unsafe.Pointer(&beta), 17, 18, 19, 20,
		unsafe.Pointer(&algo[0]), 21, 22, Stream(23))
	assert.Equal(t, int32(7), s)
	want := []uint64{11, 12, 1500, 13, 14, 15, 16, 250, 17, 18, 19, 20, 0xa160, 21, 22, 23}
	for i, w := range want {
		assert.Equal(t, w, get(int32(i)), "cublasLtMatmul argument %d", i)
	}
	err := l.check("cublasLtMatmul", s)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "CUBLAS_STATUS_INVALID_VALUE")
}

func TestNVRTCBindingsAgainstStubLibrary(t *testing.T) {
	lib := stubLibrary(t)
	n := &NVRTC{Path: lib.path}
	var get func(i int32) uint64
	var str func(i int32) string
	require.NoError(t, bind(lib, map[string]any{
		"stub_get":               &get,
		"stub_str":               &str,
		"nvrtcGetErrorString":    &n.errorString,
		"nvrtcCreateProgram":     &n.createProgram,
		"nvrtcDestroyProgram":    &n.destroyProgram,
		"nvrtcCompileProgram":    &n.compileProgram,
		"nvrtcGetProgramLogSize": &n.getProgramLogSize,
		"nvrtcGetProgramLog":     &n.getProgramLog,
	}))
	_, err := n.CompileCUBIN("k.cu", "__global__ void k() {}", []Header{{Name: "common.cuh", Source: "#pragma once"}},
		[]string{"--gpu-architecture=sm_90a", "--std=c++17"})
	var ce *CompileError
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, "stub: oops\n", ce.Log)
	assert.Contains(t, err.Error(), "NVRTC_ERROR_COMPILATION")
	assert.Equal(t, []string{"__global__ void k() {}", "k.cu", "#pragma once", "common.cuh", "--gpu-architecture=sm_90a", "--std=c++17"},
		[]string{str(0), str(1), str(2), str(3), str(4), str(5)})
	assert.Equal(t, []uint64{1, 0x99, 2, 0x99}, []uint64{get(0), get(1), get(2), get(3)}, "header count, program, option count, destroyed program")
}
