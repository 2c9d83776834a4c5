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
// It also holds the kernels to their budgets on sm_80 and sm_90
// (checkBudgets). Each compile goes through the backend's own path,
// compileIsolated: a child process per file and architecture, so that a compiler crash (NVRTC has
// crashed on valid sources before) fails that subtest with a one-line error
// instead of killing the run.

// targetArchs are the real architectures every kernel must compile for:
// Ampere (A100, A10/RTX 30), Ada (L4, RTX 40) and Hopper (H100, H200).
var targetArchs = []int{80, 86, 89, 90}

func TestNVRTCCompilesEveryKernel(t *testing.T) {
	if testing.Short() {
		t.Skip("compiles every kernel with the real NVRTC for each architecture (about a minute): runs without -short (make test)")
	}
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
	// Each real architecture compiles with ptxas's resource report, which
	// leaves the cubin as the backend builds it and feeds the budgets.
	var reports []*archReport
	for _, a := range targetArchs {
		r, err := chooseRoute(a/10, a%10, supported)
		require.NoError(t, err)
		require.False(t, r.PTX, "NVRTC %d.%d does not support sm_%d (supports %v)", nv.Major, nv.Minor, a, supported)
		rep, err := newArchReport(nv, r.Arch)
		require.NoError(t, err)
		reports = append(reports, rep)
	}
	// The PTX route, for a device newer than this NVRTC: the newest virtual
	// architecture it knows.
	var ptxRoute *Route
	if len(supported) > 0 {
		newest := supported[len(supported)-1]
		r, err := chooseRoute(newest/10+1, 0, supported)
		require.NoError(t, err)
		require.True(t, r.PTX)
		ptxRoute = &r
	}
	for _, file := range SourceFiles() {
		t.Run(file, func(t *testing.T) {
			t.Parallel() // each compile is a process of its own
			for _, rep := range reports {
				bin, stats, err := rep.file(file)
				if err != nil {
					t.Errorf("%s, %s: %v", file, rep.arch, err)
					continue
				}
				require.NotEmpty(t, bin)
				if budgetArchs[rep.arch] {
					checkBudgets(t, stats)
				}
			}
			if ptxRoute == nil {
				return
			}
			src, err := source(file)
			require.NoError(t, err)
			bin, err := compileIsolated(nv, compileRequest{Name: file, Source: src, Header: header, Options: compileOptions(ptxRoute.Arch), PTX: true})
			require.NoError(t, err, "%s, %v", file, *ptxRoute)
			ptx := string(bin)
			require.Contains(t, ptx, ".target "+strings.Replace(ptxRoute.Arch, "compute_", "sm_", 1), "PTX for %s", ptxRoute.Arch)
			for _, e := range kernelEntries[file] {
				require.Contains(t, ptx, ".entry "+e, "PTX of %s lacks %s", file, e)
			}
		})
	}
}

// budgetArchs are the architectures that matter most (A100, H100), where
// the kernels are held to their budgets.
var budgetArchs = map[string]bool{"sm_80": true, "sm_90": true}

// checkBudgets holds compiled kernels to their budgets: no spills outside
// the head-128 attention kernels, and at least two resident blocks per SM
// for the head-64 attention (ModernBERT's head size), forward and backward.
func checkBudgets(t *testing.T, stats []KernelStats) {
	t.Helper()
	for _, s := range stats {
		t.Logf("%s %-18s %-22s regs %3d spill %3d/%3d smem %6d+%6d threads %4d blocks %2d warps %2d (%s)",
			s.Arch, s.File, s.Entry, s.Registers, s.SpillStores, s.SpillLoads, s.StaticShared, s.DynamicShared, s.Threads, s.Blocks, s.Warps, s.Limit)
		if !strings.HasSuffix(s.Entry, "_d128") {
			require.Zero(t, s.SpillStores+s.SpillLoads, "%s spills on %s", s.Entry, s.Arch)
		}
		if strings.HasPrefix(s.Entry, "attn") && strings.HasSuffix(s.Entry, "_d64") {
			require.GreaterOrEqual(t, s.Blocks, 2, "%s: resident blocks per SM on %s (limited by %s)", s.Entry, s.Arch, s.Limit)
		}
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
