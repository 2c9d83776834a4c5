package kernels

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

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
// Each file is compiled in a child process (this test binary again), so
// that a compiler crash — NVRTC has crashed on valid sources before — fails
// that file's subtest with the signal instead of killing the whole run.

// targetArchs are the real architectures every kernel must compile for:
// Ampere (A100, A10/RTX 30), Ada (L4, RTX 40) and Hopper (H100, H200).
var targetArchs = []int{80, 86, 89, 90}

const nvrtcChildEnv = "DLLM_NVRTC_CHILD"

func TestNVRTCCompilesEveryKernel(t *testing.T) {
	if file := os.Getenv(nvrtcChildEnv); file != "" {
		nvrtcChild(t, file)
		return
	}
	nv, err := cu.LoadNVRTC()
	if err != nil {
		if os.Getenv("DLLM_REQUIRE_NVRTC") == "1" {
			t.Fatalf("DLLM_REQUIRE_NVRTC=1 but %v", err)
		}
		t.Skipf("no NVRTC (scripts/install-nvrtc.sh installs it): %v", err)
	}
	t.Logf("NVRTC %d.%d (%s), architectures %v", nv.Major, nv.Minor, nv.Path, nv.Archs())
	for _, file := range SourceFiles() {
		t.Run(file, func(t *testing.T) {
			start := time.Now()
			cmd := exec.Command(os.Args[0], "-test.run=^TestNVRTCCompilesEveryKernel$", "-test.v")
			cmd.Env = append(os.Environ(), nvrtcChildEnv+"="+file)
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("compiling %s: %v\n%s", file, err, tail(string(out), 4000))
			}
			t.Logf("%s: %v", file, time.Since(start).Round(time.Millisecond))
		})
	}
}

// nvrtcChild compiles one file for every target and the PTX route.
func nvrtcChild(t *testing.T, file string) {
	nv, err := cu.LoadNVRTC()
	require.NoError(t, err)
	src, err := source(file)
	require.NoError(t, err)
	header, err := source(commonHeader)
	require.NoError(t, err)
	hdr := []cu.Header{{Name: commonHeader, Source: header}}
	supported := nv.Archs()
	for _, a := range targetArchs {
		r, err := chooseRoute(a/10, a%10, supported)
		require.NoError(t, err)
		require.False(t, r.PTX, "NVRTC %d.%d does not support sm_%d (supports %v)", nv.Major, nv.Minor, a, supported)
		bin, err := nv.CompileCUBIN(file, src, hdr, compileOptions(r.Arch))
		require.NoError(t, err, "%s for %s", file, r.Arch)
		require.NotEmpty(t, bin)
	}
	// The PTX route, for a device newer than this NVRTC: the newest virtual
	// architecture it knows.
	if len(supported) > 0 {
		newest := supported[len(supported)-1]
		r, err := chooseRoute(newest/10+1, 0, supported)
		require.NoError(t, err)
		require.True(t, r.PTX)
		ptx, err := nv.CompilePTX(file, src, hdr, compileOptions(r.Arch))
		require.NoError(t, err, "%s for %s", file, r.Arch)
		require.Contains(t, string(ptx), ".target "+strings.Replace(r.Arch, "compute_", "sm_", 1), "PTX for %s", r.Arch)
		for _, e := range kernelEntries[file] {
			require.Contains(t, string(ptx), ".entry "+e, "PTX of %s lacks %s", file, e)
		}
	}
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
