package kernels

import (
	"testing"

	"github.com/stretchr/testify/require"
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
