package main

import (
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dllmgo/dllm/kernels/cu"
)

func TestKernelsCompileBadArch(t *testing.T) {
	for _, args := range [][]string{
		{"kernels", "compile", "--arch", "sm_70"},
		{"kernels", "compile", "--arch", "ampere"},
		{"kernels", "compile", "extra"},
	} {
		code, _, stderr := runCLI(args...)
		require.Equal(t, 2, code, "%v", args)
		require.Equal(t, 1, strings.Count(strings.TrimSpace(stderr), "\n")+1, "one line: %q", stderr)
	}
}

// TestKernelsCompileTable: with NVRTC installed, the table lists every
// kernel entry for the architecture and fills the cache.
func TestKernelsCompileTable(t *testing.T) {
	if testing.Short() {
		t.Skip("compiles every kernel with the real NVRTC (10 s and more): runs without -short (make test)")
	}
	if _, err := cu.LoadNVRTC(); err != nil {
		if os.Getenv("DLLM_REQUIRE_NVRTC") == "1" {
			t.Fatalf("DLLM_REQUIRE_NVRTC=1 but %v", err)
		}
		t.Skipf("no NVRTC: %v", err)
	}
	cache := t.TempDir()
	code, stdout, stderr := runCLI("kernels", "compile", "--arch", "sm_86", "--cache", cache)
	require.Equal(t, 0, code, stderr)
	for _, entry := range []string{"layernorm_fwd_f32", "attn_fwd_d64", "attn_mma_dkv_d64", "adamw_f32"} {
		require.Contains(t, stdout, entry)
	}
	files, err := os.ReadDir(cache)
	require.NoError(t, err)
	require.NotEmpty(t, files)
}
