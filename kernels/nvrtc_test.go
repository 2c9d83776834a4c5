package kernels

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dllmgo/dllm/kernels/cu"
)

// The real compiler, without a GPU.
//
// NVRTC needs no driver and no device, so every kernel file can be compiled
// on any machine that has the library (scripts/install-nvrtc.sh installs it
// from Debian's non-free archive). TestNVRTCCompilesEveryKernel compiles each
// file for every architecture the project targets, exactly as the backend
// would (compileOptions, the embedded sources and header), plus the PTX
// route for the newest virtual architecture. It skips when NVRTC cannot be
// loaded, unless DLLM_REQUIRE_NVRTC=1 (CI sets it): then it fails.
//
// Each compile goes through the backend's own path, compileIsolated: a child
// process per file and architecture, so that a compiler crash (NVRTC has
// crashed on valid sources before) fails that subtest with a one-line error
// instead of killing the run.

// targetArchs are the real architectures every kernel must compile for:
// Ampere (A100, A10/RTX 30), Ada (L4, RTX 40) and Hopper (H100, H200).
var targetArchs = []int{80, 86, 89, 90}

func TestNVRTCCompilesEveryKernel(t *testing.T) {
	nv, err := cu.LoadNVRTC()
	if err != nil {
		if os.Getenv("DLLM_REQUIRE_NVRTC") == "1" {
			t.Fatalf("DLLM_REQUIRE_NVRTC=1 but %v", err)
		}
		t.Skipf("no NVRTC (scripts/install-nvrtc.sh installs it): %v", err)
	}
	supported := nv.Archs()
	t.Logf("NVRTC %d.%d (%s), architectures %v", nv.Major, nv.Minor, nv.Path, supported)
	header, err := source(commonHeader)
	require.NoError(t, err)
	var routes []Route
	for _, a := range targetArchs {
		r, err := chooseRoute(a/10, a%10, supported)
		require.NoError(t, err)
		require.False(t, r.PTX, "NVRTC %d.%d does not support sm_%d (supports %v)", nv.Major, nv.Minor, a, supported)
		routes = append(routes, r)
	}
	// The PTX route, for a device newer than this NVRTC: the newest virtual
	// architecture it knows.
	if len(supported) > 0 {
		newest := supported[len(supported)-1]
		r, err := chooseRoute(newest/10+1, 0, supported)
		require.NoError(t, err)
		require.True(t, r.PTX)
		routes = append(routes, r)
	}
	for _, file := range SourceFiles() {
		t.Run(file, func(t *testing.T) {
			t.Parallel() // each compile is a process of its own
			src, err := source(file)
			require.NoError(t, err)
			for _, r := range routes {
				bin, err := compileIsolated(nv, compileRequest{Name: file, Source: src, Header: header, Options: compileOptions(r.Arch), PTX: r.PTX})
				if err != nil {
					t.Errorf("%s, %v: %v", file, r, err)
					continue
				}
				require.NotEmpty(t, bin)
				if r.PTX {
					ptx := string(bin)
					require.Contains(t, ptx, ".target "+strings.Replace(r.Arch, "compute_", "sm_", 1), "PTX for %s", r.Arch)
					for _, e := range kernelEntries[file] {
						require.Contains(t, ptx, ".entry "+e, "PTX of %s lacks %s", file, e)
					}
				}
			}
		})
	}
}

// crashingNVRTC is a fake libnvrtc whose compiler dies of a segmentation
// fault, as NVRTC 11.8 does on some valid sources.
const crashingNVRTC = `
#include <stddef.h>
#include <signal.h>
int nvrtcVersion(int *major, int *minor) { *major = 11; *minor = 8; return 0; }
const char *nvrtcGetErrorString(int r) { return "fake"; }
int nvrtcCreateProgram(void **p, const char *s, const char *n, int k, const char *const *h, const char *const *i) { return 0; }
int nvrtcDestroyProgram(void **p) { return 0; }
int nvrtcCompileProgram(void *p, int n, const char *const *o) { raise(SIGSEGV); return 0; }
int nvrtcGetProgramLogSize(void *p, size_t *n) { *n = 1; return 0; }
int nvrtcGetProgramLog(void *p, char *l) { l[0] = 0; return 0; }
int nvrtcGetCUBINSize(void *p, size_t *n) { *n = 1; return 0; }
int nvrtcGetCUBIN(void *p, char *c) { c[0] = 0; return 0; }
`

// TestCompilerCrashIsAnError: a compiler that dies takes only its child
// process with it; the backend gets a one-line error naming the file.
func TestCompilerCrashIsAnError(t *testing.T) {
	cc, err := exec.LookPath("cc")
	if err != nil {
		t.Skip("no C compiler to build the crashing NVRTC")
	}
	dir := t.TempDir()
	src := filepath.Join(dir, "crash.c")
	so := filepath.Join(dir, "libnvrtc-crash.so")
	require.NoError(t, os.WriteFile(src, []byte(crashingNVRTC), 0o644))
	out, err := exec.Command(cc, "-shared", "-fPIC", "-o", so, src).CombinedOutput()
	require.NoError(t, err, "%s", out)
	// The parent only needs the path and version; the child loads the
	// library named by DLLM_NVRTC and crashes in it.
	nv := &cu.NVRTC{Path: so, Major: 11, Minor: 8}
	_, err = compileIsolated(nv, compileRequest{Name: "attention.cu", Source: "__global__ void k() {}", Options: compileOptions("sm_90")})
	require.Error(t, err)
	require.Contains(t, err.Error(), "crashed compiling attention.cu")
	require.NotContains(t, err.Error(), "\n", "one line")
	require.Contains(t, err.Error(), "SIGSEGV")
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return fmt.Sprintf("...%s", s[len(s)-n:])
}

// TestChooseRoute pins the route rules: the exact architecture when NVRTC
// knows it (Hopper's sm_90a is served by sm_90), else PTX for the newest
// virtual architecture the device runs, else an error.
func TestChooseRoute(t *testing.T) {
	nvrtc118 := []int{35, 37, 50, 52, 53, 60, 61, 62, 70, 72, 75, 80, 86, 87, 89, 90}
	for _, c := range []struct {
		major, minor int
		supported    []int
		want         Route
		err          bool
	}{
		{8, 0, nvrtc118, Route{Arch: "sm_80"}, false},
		{9, 0, nvrtc118, Route{Arch: "sm_90"}, false},
		{10, 0, nvrtc118, Route{Arch: "compute_90", PTX: true}, false},
		{12, 0, nvrtc118, Route{Arch: "compute_90", PTX: true}, false},
		{8, 8, nvrtc118, Route{Arch: "compute_87", PTX: true}, false},
		{9, 0, nil, Route{Arch: "sm_90"}, false},
		{8, 0, []int{90, 100}, Route{}, true},
	} {
		got, err := chooseRoute(c.major, c.minor, c.supported)
		if c.err {
			require.Error(t, err, "%d.%d", c.major, c.minor)
			continue
		}
		require.NoError(t, err)
		require.Equal(t, c.want, got, "%d.%d", c.major, c.minor)
	}
}
