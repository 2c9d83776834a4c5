package cu

import (
	"errors"
	"math"
	"math/rand/v2"
	"os"
	"strings"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// requireGPU returns a context on device 0, or skips the test when there is
// none; with DLLM_REQUIRE_GPU=1 a missing GPU fails the test instead, so a GPU
// run cannot pass by skipping.
func requireGPU(t testing.TB) *Context {
	t.Helper()
	c, err := NewContext(0)
	if err != nil {
		if os.Getenv("DLLM_REQUIRE_GPU") == "1" {
			t.Fatalf("DLLM_REQUIRE_GPU=1 but no GPU: %v", err)
		}
		t.Skipf("no GPU: %v", err)
	}
	t.Cleanup(c.Close)
	return c
}

// TestNoDriverIsErrNoDevice checks the path every CPU-only machine takes: the
// driver cannot be loaded, and the error says so without panicking. Where a
// driver exists the load must succeed instead.
func TestNoDriverIsErrNoDevice(t *testing.T) {
	err := Load()
	if _, statErr := os.Stat("/dev/nvidia0"); statErr != nil && os.Getenv("DLLM_REQUIRE_GPU") != "1" {
		require.Error(t, err, "no GPU device node, yet the driver loaded")
	}
	if err != nil {
		assert.True(t, errors.Is(err, ErrNoDevice), "error %v does not wrap ErrNoDevice", err)
		_, cerr := NewContext(0)
		assert.True(t, errors.Is(cerr, ErrNoDevice))
		_, derr := DeviceCount()
		assert.True(t, errors.Is(derr, ErrNoDevice))
		return
	}
	n, err := DeviceCount()
	require.NoError(t, err)
	assert.Greater(t, n, 0)
}

func TestOpenFirstListsEveryAttempt(t *testing.T) {
	_, err := openFirst("DLLM_TEST_UNSET_LIB", []string{"libdllm-missing-a.so", "libdllm-missing-b.so"}, []string{"/nonexistent-dir"})
	require.Error(t, err)
	for _, want := range []string{"libdllm-missing-a.so", "libdllm-missing-b.so", "/nonexistent-dir/libdllm-missing-a.so"} {
		assert.Contains(t, err.Error(), want)
	}
}

func TestCStrings(t *testing.T) {
	c := newCStrings([]string{"ab", "", "xyz"})
	require.Len(t, c.ptrs, 3)
	for i, want := range []string{"ab", "", "xyz"} {
		assert.Equal(t, want, goString(&c.bytes[i][0]))
		assert.Equal(t, uintptr(unsafe.Pointer(&c.bytes[i][0])), c.ptrs[i], "pointer %d", i)
	}
	assert.Nil(t, newCStrings(nil).array())
}

func TestArchName(t *testing.T) {
	assert.Equal(t, "sm_90a", DeviceInfo{Major: 9, Minor: 0}.Arch())
	assert.Equal(t, "sm_80", DeviceInfo{Major: 8, Minor: 0}.Arch())
	assert.Equal(t, "sm_120", DeviceInfo{Major: 12, Minor: 0}.Arch())
}

func TestLaunchRejectsBadArguments(t *testing.T) {
	// Argument checking happens before any driver call, so it runs anywhere.
	th := &Thread{c: &Context{}}
	err := th.LaunchKernel(0, Dim3{1, 1, 1}, Dim3{1, 1, 1}, 0, "a string")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "unsupported type string")
	err = th.LaunchKernel(0, Dim3{0, 1, 1}, Dim3{1, 1, 1}, 0)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "bad launch shape")
}

// --- GPU tests: skip without a device (fail with DLLM_REQUIRE_GPU=1). ---

func TestGPUMemoryRoundTrip(t *testing.T) {
	c := requireGPU(t)
	src := make([]float32, 1000)
	for i := range src {
		src[i] = rand.Float32() - 0.5
	}
	got := make([]float32, len(src))
	for i := range got {
		got[i] = float32(math.NaN())
	}
	err := c.Do(func(th *Thread) error {
		bytes := 4 * len(src)
		a, err := th.MemAlloc(bytes)
		if err != nil {
			return err
		}
		defer th.MemFree(a)
		b, err := th.MemAlloc(bytes)
		if err != nil {
			return err
		}
		defer th.MemFree(b)
		if err := th.CopyHtoD(a, unsafe.Pointer(&src[0]), bytes); err != nil {
			return err
		}
		if err := th.MemsetD32(b, math.Float32bits(7), len(src)); err != nil {
			return err
		}
		if err := th.CopyDtoD(b, a, bytes/2); err != nil {
			return err
		}
		return th.CopyDtoH(unsafe.Pointer(&got[0]), b, bytes)
	})
	require.NoError(t, err)
	assert.Equal(t, src[:500], got[:500])
	for _, v := range got[500:] {
		require.Equal(t, float32(7), v)
	}
}

const testKernel = `
extern "C" __global__ void axpy(float *y, const float *x, float a, int n) {
	int i = blockIdx.x * blockDim.x + threadIdx.x;
	if (i < n) y[i] += a * x[i];
}
`

// TestGPUCompileLaunchGraph compiles a kernel with NVRTC, launches it, times
// it with events, then captures it in a graph and replays the graph.
func TestGPUCompileLaunchGraph(t *testing.T) {
	c := requireGPU(t)
	nv, err := LoadNVRTC()
	require.NoError(t, err)
	t.Logf("device %s (%s), driver %d, NVRTC %d.%d from %s", c.Device.Name, c.Device.Arch(), c.Device.DriverVersion, nv.Major, nv.Minor, nv.Path)
	cubin, err := nv.CompileCUBIN("axpy.cu", testKernel, nil, []string{"--gpu-architecture=" + c.Device.Arch()})
	require.NoError(t, err)

	const n = 3000
	x := make([]float32, n)
	y := make([]float32, n)
	for i := range x {
		x[i], y[i] = rand.Float32(), rand.Float32()
	}
	got := make([]float32, n)
	err = c.Do(func(th *Thread) error {
		m, err := th.ModuleLoadData(cubin)
		if err != nil {
			return err
		}
		defer th.ModuleUnload(m)
		f, err := th.ModuleGetFunction(m, "axpy")
		if err != nil {
			return err
		}
		dx, _ := th.MemAlloc(4 * n)
		dy, _ := th.MemAlloc(4 * n)
		defer th.MemFree(dx)
		defer th.MemFree(dy)
		th.CopyHtoD(dx, unsafe.Pointer(&x[0]), 4*n)
		th.CopyHtoD(dy, unsafe.Pointer(&y[0]), 4*n)
		launch := func() error {
			return th.LaunchKernel(f, Dim3{(n + 255) / 256, 1, 1}, Dim3{256, 1, 1}, 0, dy, dx, float32(2), int32(n))
		}
		start, _ := th.EventCreate()
		end, _ := th.EventCreate()
		defer th.EventDestroy(start)
		defer th.EventDestroy(end)
		th.EventRecord(start)
		if err := launch(); err != nil { // y += 2x
			return err
		}
		th.EventRecord(end)
		if err := th.EventSynchronize(end); err != nil {
			return err
		}
		ms, err := th.EventElapsed(start, end)
		if err != nil {
			return err
		}
		t.Logf("axpy of %d floats: %.3f ms", n, ms)
		// Capture one more launch and replay it twice: y += 4x in total.
		if err := th.BeginCapture(CaptureModeThreadLocal); err != nil {
			return err
		}
		if err := launch(); err != nil {
			th.EndCapture()
			return err
		}
		g, err := th.EndCapture()
		if err != nil {
			return err
		}
		defer th.GraphDestroy(g)
		ge, err := th.GraphInstantiate(g)
		if err != nil {
			return err
		}
		defer th.GraphExecDestroy(ge)
		for range 2 {
			if err := th.GraphLaunch(ge); err != nil {
				return err
			}
		}
		return th.CopyDtoH(unsafe.Pointer(&got[0]), dy, 4*n)
	})
	require.NoError(t, err)
	for i := range got {
		want := y[i] + 6*x[i]
		require.InDelta(t, want, got[i], 1e-5, "element %d", i)
	}
}

func TestGPUCompileErrorCarriesLog(t *testing.T) {
	c := requireGPU(t)
	nv, err := LoadNVRTC()
	require.NoError(t, err)
	_, err = nv.CompileCUBIN("broken.cu", "extern \"C\" __global__ void k() { undeclared_thing(); }", nil,
		[]string{"--gpu-architecture=" + c.Device.Arch()})
	var ce *CompileError
	require.ErrorAs(t, err, &ce)
	assert.True(t, strings.Contains(ce.Log, "undeclared_thing"), "log: %s", ce.Log)
}

// TestGPUSgemm runs one column-major cuBLASLt SGEMM against a float64 loop.
func TestGPUSgemm(t *testing.T) {
	c := requireGPU(t)
	const m, n, k = 33, 17, 40
	a := randSlice(m * k) // column-major m×k, ld m
	b := randSlice(k * n) // column-major k×n, ld k
	cm := randSlice(m * n)
	got := make([]float32, m*n)
	err := c.Do(func(th *Thread) error {
		lt, err := th.NewLt()
		if err != nil {
			return err
		}
		defer lt.Destroy(th)
		da, _ := th.MemAlloc(4 * len(a))
		db, _ := th.MemAlloc(4 * len(b))
		dc, _ := th.MemAlloc(4 * len(cm))
		defer th.MemFree(da)
		defer th.MemFree(db)
		defer th.MemFree(dc)
		th.CopyHtoD(da, unsafe.Pointer(&a[0]), 4*len(a))
		th.CopyHtoD(db, unsafe.Pointer(&b[0]), 4*len(b))
		th.CopyHtoD(dc, unsafe.Pointer(&cm[0]), 4*len(cm))
		g := Gemm{M: m, N: n, K: k, TypeA: R32F, TypeB: R32F, TypeC: R32F, LDA: m, LDB: k, LDC: m, Batch: 1}
		if err := lt.Matmul(th, g, da, db, dc, 1.5, 0.5); err != nil {
			return err
		}
		return th.CopyDtoH(unsafe.Pointer(&got[0]), dc, 4*len(got))
	})
	require.NoError(t, err)
	for j := 0; j < n; j++ {
		for i := 0; i < m; i++ {
			var s float64
			for p := 0; p < k; p++ {
				s += float64(a[i+p*m]) * float64(b[p+j*k])
			}
			want := 1.5*s + 0.5*float64(cm[i+j*m])
			require.InDelta(t, want, got[i+j*m], 1e-4, "C[%d,%d]", i, j)
		}
	}
}

func randSlice(n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = 2*rand.Float32() - 1
	}
	return s
}
