package kernels

import (
	"math/rand/v2"
	"os"
	"testing"

	"github.com/ebitengine/purego"
	"github.com/stretchr/testify/require"

	"github.com/dllmgo/dllm/kernels/cu"
	"github.com/dllmgo/dllm/tensor"
)

// The backend's failures: one that poisons the CUDA context sticks, any
// other is reported once and the backend goes on working (backend.go, fail).
// Failures are injected through the emulator (testdata/emu: dllm_emu_fail);
// on a real driver, which cannot inject them, these tests skip.

// emuInjector binds the emulator's failure switches.
func emuInjector(t *testing.T) (fail func(fn string, code int32), reset func()) {
	t.Helper()
	path := os.Getenv("DLLM_LIBCUDA")
	if path == "" {
		t.Skip("failure injection needs the emulator (DLLM_LIBCUDA)")
	}
	h, err := purego.Dlopen(path, purego.RTLD_NOW|purego.RTLD_GLOBAL)
	require.NoError(t, err)
	f, err1 := purego.Dlsym(h, "dllm_emu_fail")
	r, err2 := purego.Dlsym(h, "dllm_emu_reset")
	if err1 != nil || err2 != nil {
		t.Skip("this driver cannot inject failures (not the emulator)")
	}
	purego.RegisterFunc(&fail, f)
	purego.RegisterFunc(&reset, r)
	return fail, reset
}

func randomDevice(b *Backend, n int) (*tensor.Tensor, []float32) {
	host := make([]float32, n)
	for i := range host {
		host[i] = rand.Float32()*2 - 1
	}
	return b.FromHost(tensor.FromF32(host, n)), host
}

func requireScaled(t *testing.T, got *tensor.Tensor, x []float32, s float32) {
	t.Helper()
	for i, v := range got.F32() {
		require.InDelta(t, s*x[i], v, 1e-6, "element %d", i)
	}
}

// TestGPURecoverableFailure: a failed launch that leaves the context working
// is reported once (by Sync, or by ToHost's panic), and the next ops run.
func TestGPURecoverableFailure(t *testing.T) {
	b := requireGPU(t)
	fail, reset := emuInjector(t)
	t.Cleanup(reset)
	require.NoError(t, b.Sync())
	x, host := randomDevice(b, 1000)
	y := b.New(tensor.F32, 1000)

	fail("cuLaunchKernel", 1) // CUDA_ERROR_INVALID_VALUE
	b.Scale(y, x, 2)
	err := b.Sync()
	require.Error(t, err)
	require.False(t, cu.Poisons(err))
	require.NoError(t, b.Sync(), "a recoverable failure is reported once")
	b.Scale(y, x, 2)
	requireScaled(t, b.ToHost(y), host, 2)

	fail("cuLaunchKernel", 1)
	b.Scale(y, x, 3)
	require.Panics(t, func() { b.ToHost(y) }, "ToHost reports the failure")
	b.Scale(y, x, 3)
	requireScaled(t, b.ToHost(y), host, 3)
	require.NoError(t, b.Sync())
}

// TestGPUPoisonedContextSticks: after an illegal address every report
// returns the failure, as CUDA's own context does. It uses a backend of its
// own, so that the shared one stays healthy for the other tests.
func TestGPUPoisonedContextSticks(t *testing.T) {
	requireGPU(t)
	fail, reset := emuInjector(t)
	t.Cleanup(reset)
	b, err := open()
	require.NoError(t, err)
	x, _ := randomDevice(b, 100)
	y := b.New(tensor.F32, 100)
	fail("cuLaunchKernel", 700) // CUDA_ERROR_ILLEGAL_ADDRESS
	b.Scale(y, x, 2)
	err = b.Sync()
	require.Error(t, err)
	require.True(t, cu.Poisons(err))
	require.ErrorIs(t, b.Sync(), err, "sticky")
	b.Scale(y, x, 2)
	require.Panics(t, func() { b.ToHost(y) })
	require.ErrorIs(t, b.Err(), err)
}
