package kernels

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestEmulatedGPU runs this package's GPU tests, the conformance suite among
// them, against testdata/emu: a CPU stand-in for libcuda, NVRTC and cuBLASLt
// that executes the real kernel sources as host C++ threads (see emu.cpp for
// what it does and does not prove). It needs a C++20 compiler; it runs the
// tests in a child process of this test binary, pointed at the emulator with
// DLLM_LIBCUDA, DLLM_NVRTC and DLLM_CUBLASLT and with DLLM_REQUIRE_GPU=1.
//
// It takes a while on two cores, so it runs only with DLLM_KERNEL_EMULATOR=1.
// DLLM_EMULATOR_RUN narrows the tests run; DLLM_EMULATOR_KEEP=DIR builds the
// emulator (DIR/libcudaemu.so) into DIR and keeps it there.
func TestEmulatedGPU(t *testing.T) {
	if os.Getenv("DLLM_EMULATOR_CHILD") == "1" {
		t.Skip("inside the emulated run")
	}
	if os.Getenv("DLLM_KERNEL_EMULATOR") != "1" {
		t.Skip("set DLLM_KERNEL_EMULATOR=1 to run the GPU tests on the CPU emulator")
	}
	cxx, err := exec.LookPath("g++")
	if err != nil {
		t.Skip("no g++ to build the emulator")
	}
	dir := t.TempDir()
	if keep := os.Getenv("DLLM_EMULATOR_KEEP"); keep != "" {
		// Build into a folder that outlives the test, so that other test
		// binaries (bench's GPU tests, say) can be pointed at the emulator.
		dir = keep
		require.NoError(t, os.MkdirAll(dir, 0o755))
	}
	var inc, entries strings.Builder
	for _, f := range append(SourceFiles(), commonHeader) {
		src, err := source(f)
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(dir, f), []byte(src), 0o644))
		if f != commonHeader {
			fmt.Fprintf(&inc, "#include %q\n", f)
			for _, e := range kernelEntries[f] {
				fmt.Fprintf(&entries, "DLLM_KERNEL(%s)\n", e)
			}
		}
	}
	require.NoError(t, os.WriteFile(filepath.Join(dir, "kernels.inc"), []byte(inc.String()), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "entries.inc"), []byte(entries.String()), 0o644))
	lib := filepath.Join(dir, "libcudaemu.so")
	emu, err := filepath.Abs(filepath.Join("testdata", "emu", "emu.cpp"))
	require.NoError(t, err)
	start := time.Now()
	out, err := exec.Command(cxx, "-std=c++20", "-O2", "-fPIC", "-shared", "-pthread", "-ffp-contract=off",
		"-Wall", "-Wno-unknown-pragmas", "-Wno-unused-function", "-I", dir, "-o", lib, emu).CombinedOutput()
	require.NoError(t, err, "building the emulator:\n%s", out)
	t.Logf("emulator built in %v", time.Since(start))

	pattern := os.Getenv("DLLM_EMULATOR_RUN")
	if pattern == "" {
		pattern = "^(TestGPU|TestConformance)"
	}
	cmd := exec.Command(os.Args[0], "-test.run", pattern, "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(),
		"DLLM_EMULATOR_CHILD=1", "DLLM_REQUIRE_GPU=1",
		"DLLM_EMU_MEMORY="+fmt.Sprint(1<<30), // a 1 GiB device: TestGPUOutOfMemoryCollects fills it
		"DLLM_LIBCUDA="+lib, "DLLM_NVRTC="+lib, "DLLM_CUBLASLT="+lib,
		"DLLM_KERNEL_CACHE="+filepath.Join(dir, "cache"))
	start = time.Now()
	out, err = cmd.CombinedOutput()
	t.Logf("emulated run took %v", time.Since(start))
	if err != nil {
		t.Fatalf("the GPU tests failed on the emulator: %v\n%s", err, out)
	}
	if testing.Verbose() {
		t.Logf("the emulated run:\n%s", out)
	}
	if os.Getenv("DLLM_EMULATOR_RUN") == "" {
		require.Contains(t, string(out), "--- PASS: TestConformance", "%s", out)
	}
	require.NotContains(t, string(out), "--- SKIP", "%s", out)
}
