package kernels

import (
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dllmgo/dllm/kernels/cu"
)

// TestLaunchShapesCoverEveryEntry: the report's model-shape run launches
// every kernel entry, so each has a block size (a new kernel must be added
// to modelShapes).
func TestLaunchShapesCoverEveryEntry(t *testing.T) {
	shapes := launchShapes(h100)
	for _, file := range SourceFiles() {
		for _, e := range kernelEntries[file] {
			s, ok := shapes[e]
			require.True(t, ok, "modelShapes never launches %s (%s)", e, file)
			require.Positive(t, s.threads, e)
		}
	}
}

func TestOccupancy(t *testing.T) {
	for _, c := range []struct {
		arch, regs, threads, shared int
		blocks                      int
		limit                       string
	}{
		{80, 32, 256, 0, 8, "threads"},              // 2048 threads / 256
		{80, 64, 256, 0, 4, "registers"},            // 64·32 = 2048 per warp: 32 warps, 8 per block
		{80, 40, 64, 0, 24, "registers"},            // 1280 per warp: 51 → 48 warps, 2 per block
		{80, 16, 32, 0, 32, "blocks"},               // the block limit
		{80, 32, 128, 48 << 10, 3, "shared memory"}, // 164 KiB / 49 KiB
		{86, 32, 256, 0, 6, "threads"},              // 1536 threads
		{90, 32, 128, 100 << 10, 2, "shared memory"},
		{90, 255, 128, 0, 2, "registers"}, // 8192 per warp: 8 warps
	} {
		b, limit := occupancy(c.arch, c.regs, c.threads, c.shared)
		require.Equal(t, c.blocks, b, "%+v", c)
		require.Equal(t, c.limit, limit, "%+v", c)
	}
}

func TestParsePtxas(t *testing.T) {
	log := `ptxas info    : 0 bytes gmem
ptxas info    : Compiling entry function 'k_a' for 'sm_80'
ptxas info    : Function properties for k_a
ptxas         .     0 bytes stack frame, 8 bytes spill stores, 12 bytes spill loads
ptxas info    : Used 39 registers, 2112 bytes smem, 412 bytes cmem[0]
ptxas info    : Compiling entry function 'k_b' for 'sm_80'
ptxas info    : Function properties for k_b
ptxas         .     0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads
ptxas info    : Used 22 registers, 404 bytes cmem[0]
`
	got := parsePtxas(log)
	require.Equal(t, KernelStats{Entry: "k_a", Arch: "sm_80", Registers: 39, StaticShared: 2112, SpillStores: 8, SpillLoads: 12}, got["k_a"])
	require.Equal(t, KernelStats{Entry: "k_b", Arch: "sm_80", Registers: 22}, got["k_b"])
}

// TestKernelBudgets holds the compiled kernels to their budgets on the
// architectures that matter most (A100, H100), with the real NVRTC: no
// spills outside the head-128 attention kernels, and at least two resident
// blocks per SM for the head-64 attention (ModernBERT's head size), forward
// and backward. It skips without NVRTC unless DLLM_REQUIRE_NVRTC=1.
func TestKernelBudgets(t *testing.T) {
	if _, err := cu.LoadNVRTC(); err != nil {
		if os.Getenv("DLLM_REQUIRE_NVRTC") == "1" {
			t.Fatalf("DLLM_REQUIRE_NVRTC=1 but %v", err)
		}
		t.Skipf("no NVRTC: %v", err)
	}
	for _, arch := range []string{"sm_80", "sm_90"} {
		stats, err := Report(arch, "")
		require.NoError(t, err)
		for _, s := range stats {
			t.Logf("%s %-18s %-22s regs %3d spill %3d/%3d smem %6d+%6d threads %4d blocks %2d warps %2d (%s)",
				arch, s.File, s.Entry, s.Registers, s.SpillStores, s.SpillLoads, s.StaticShared, s.DynamicShared, s.Threads, s.Blocks, s.Warps, s.Limit)
			if !strings.HasSuffix(s.Entry, "_d128") {
				require.Zero(t, s.SpillStores+s.SpillLoads, "%s spills on %s", s.Entry, arch)
			}
			if strings.HasPrefix(s.Entry, "attn") && strings.HasSuffix(s.Entry, "_d64") {
				require.GreaterOrEqual(t, s.Blocks, 2, "%s: resident blocks per SM on %s (limited by %s)", s.Entry, arch, s.Limit)
			}
		}
	}
}
