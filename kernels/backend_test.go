package kernels

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dllmgo/dllm/kernels/cu"
	"github.com/dllmgo/dllm/tensor"
)

// TestOpenWithoutDriver: on a machine without CUDA, Open and tensor.Open
// report ErrNoDevice and nothing else breaks; "cuda" is still registered.
func TestOpenWithoutDriver(t *testing.T) {
	assert.True(t, slices.Contains(tensor.Devices(), "cuda"), "devices: %v", tensor.Devices())
	if cu.Load() == nil {
		t.Skip("a CUDA driver is present")
	}
	_, err := Open()
	require.Error(t, err)
	assert.True(t, errors.Is(err, ErrNoDevice), "%v", err)
	_, err = tensor.Open("cuda")
	require.Error(t, err)
	assert.True(t, errors.Is(err, ErrNoDevice), "%v", err)
	cpu, err := tensor.Open("cpu")
	require.NoError(t, err)
	assert.Equal(t, "cpu", cpu.Name())
}

func TestCacheKeyCoversEverything(t *testing.T) {
	opts := compileOptions("sm_90a")
	base := cacheKey("geglu.cu", "src", "hdr", opts, 13, 0)
	assert.Regexp(t, `^geglu-[0-9a-f]{24}\.cubin$`, base)
	assert.Equal(t, base, cacheKey("geglu.cu", "src", "hdr", compileOptions("sm_90a"), 13, 0), "deterministic")
	for name, other := range map[string]string{
		"source":       cacheKey("geglu.cu", "src2", "hdr", opts, 13, 0),
		"header":       cacheKey("geglu.cu", "src", "hdr2", opts, 13, 0),
		"architecture": cacheKey("geglu.cu", "src", "hdr", compileOptions("sm_80"), 13, 0),
		"nvrtc major":  cacheKey("geglu.cu", "src", "hdr", opts, 12, 0),
		"nvrtc minor":  cacheKey("geglu.cu", "src", "hdr", opts, 13, 1),
		"file name":    cacheKey("gelu.cu", "src", "hdr", opts, 13, 0),
		"no ambiguity": cacheKey("geglu.cu", "srch", "dr", opts, 13, 0),
	} {
		assert.NotEqual(t, base, other, "changing the %s must change the key", name)
	}
	assert.Contains(t, opts, "--gpu-architecture=sm_90a")
}

func TestCacheDir(t *testing.T) {
	t.Setenv("DLLM_KERNEL_CACHE", "/some/where")
	assert.Equal(t, "/some/where", CacheDir())
	t.Setenv("DLLM_KERNEL_CACHE", "")
	t.Setenv("XDG_CACHE_HOME", "/xdg")
	t.Setenv("HOME", "/home/u")
	assert.Equal(t, filepath.Join("/xdg", "dllm", "kernels"), CacheDir())
}

func TestSizeClass(t *testing.T) {
	for _, c := range []struct{ n, want int }{
		{0, 512}, {1, 512}, {512, 512}, {513, 640}, {640, 640}, {1000, 1024}, {1024, 1024},
		{1025, 1280}, {3000, 3072}, {1 << 20, 1 << 20}, {1<<20 + 1, 1<<20 + 1<<18},
	} {
		assert.Equal(t, c.want, sizeClass(c.n), "sizeClass(%d)", c.n)
	}
	for n := 1; n < 1<<16; n += 97 {
		s := sizeClass(n)
		require.GreaterOrEqual(t, s, n)
		require.LessOrEqual(t, float64(s), max(512, 1.25*float64(n)+1), "waste above 25%% for %d", n)
	}
}

// TestAllocatorReusesFreedBlocks exercises the free lists without a driver:
// a block put back is handed out again for the same class (no driver call
// happens on a hit, so the nil thread is never touched).
func TestAllocatorReusesFreedBlocks(t *testing.T) {
	a := newAllocator()
	blk := &block{ptr: 0x1000, size: sizeClass(3000)}
	a.live = blk.size
	a.put(blk)
	assert.Equal(t, blk.size, a.cached)
	got, err := a.get(nil, 2900) // same class as 3000
	require.NoError(t, err)
	assert.Same(t, blk, got)
	assert.Equal(t, 0, a.cached)
	assert.Equal(t, blk.size, a.live)

	m := newDevMem(a, got, 2900)
	m.release(a)
	m.release(a) // twice is harmless
	assert.Equal(t, blk.size, a.cached)
	assert.Len(t, a.free[blk.size], 1)
	(&devMem{}).release(a) // an empty tensor owns nothing
}

// requireGPU opens the CUDA backend or skips; DLLM_REQUIRE_GPU=1 turns the
// skip into a failure, so a GPU run cannot pass by skipping.
func requireGPU(t testing.TB) *Backend {
	t.Helper()
	b, err := Open()
	if err != nil {
		if os.Getenv("DLLM_REQUIRE_GPU") == "1" {
			t.Fatalf("DLLM_REQUIRE_GPU=1 but the CUDA backend does not open: %v", err)
		}
		t.Skipf("no GPU: %v", err)
	}
	return b.(*Backend)
}
