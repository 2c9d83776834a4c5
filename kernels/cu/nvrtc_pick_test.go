package cu

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// fakeNVRTC is a C library with NVRTC's entry points that reports a chosen
// version, so the choice between several installed NVRTCs can be tested.
const fakeNVRTC = `
#include <stddef.h>
int nvrtcVersion(int *major, int *minor) { *major = MAJOR; *minor = MINOR; return 0; }
const char *nvrtcGetErrorString(int r) { return "fake"; }
int nvrtcCreateProgram(void **p, const char *s, const char *n, int k, const char *const *h, const char *const *i) { return 0; }
int nvrtcDestroyProgram(void **p) { return 0; }
int nvrtcCompileProgram(void *p, int n, const char *const *o) { return 0; }
int nvrtcGetProgramLogSize(void *p, size_t *n) { *n = 1; return 0; }
int nvrtcGetProgramLog(void *p, char *l) { l[0] = 0; return 0; }
int nvrtcGetCUBINSize(void *p, size_t *n) { *n = 1; return 0; }
int nvrtcGetCUBIN(void *p, char *c) { c[0] = 0; return 0; }
`

// TestNewestNVRTCWins: of the NVRTCs that load, the newest is used whatever
// the order, an equal version keeps the earlier (preferred) one, and files
// that do not load are skipped and named in the error when none loads.
func TestNewestNVRTCWins(t *testing.T) {
	cc, err := exec.LookPath("cc")
	if err != nil {
		t.Skip("no C compiler to build fake NVRTC libraries")
	}
	dir := t.TempDir()
	src := filepath.Join(dir, "fake.c")
	require.NoError(t, os.WriteFile(src, []byte(fakeNVRTC), 0o644))
	build := func(name string, major, minor int) string {
		so := filepath.Join(dir, name)
		out, err := exec.Command(cc, "-shared", "-fPIC", fmt.Sprintf("-DMAJOR=%d", major), fmt.Sprintf("-DMINOR=%d", minor), "-o", so, src).CombinedOutput()
		require.NoError(t, err, "%s", out)
		return so
	}
	old := build("libnvrtc-old.so", 11, 8)
	newer := build("libnvrtc-new.so", 12, 4)
	same := build("libnvrtc-same.so", 12, 4)
	missing := filepath.Join(dir, "libnvrtc-missing.so")

	n, err := newestNVRTC([]string{old, missing, newer})
	require.NoError(t, err)
	require.Equal(t, newer, n.Path)
	require.Equal(t, [2]int{12, 4}, [2]int{n.Major, n.Minor})

	n, err = newestNVRTC([]string{newer, old})
	require.NoError(t, err)
	require.Equal(t, newer, n.Path)

	n, err = newestNVRTC([]string{same, newer})
	require.NoError(t, err)
	require.Equal(t, same, n.Path, "a tie keeps the preferred (earlier) library")

	_, err = newestNVRTC([]string{missing})
	require.ErrorContains(t, err, "libnvrtc-missing.so")
}
