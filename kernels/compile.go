package kernels

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/dllmgo/dllm/internal/atomicfile"
	"github.com/dllmgo/dllm/kernels/cu"
)

// Kernels are compiled by NVRTC the first time one of their file's entries is
// launched, and the binary is kept on disk so that later runs skip the
// compiler. The cache key covers everything that changes the binary: the
// source, the common header, the compile options (which name the
// architecture and so the route) and NVRTC's version.
//
// Two routes reach a device (chooseRoute):
//   - a cubin for the device's own architecture (sm_80, sm_90), when NVRTC
//     knows it. The kernels use no architecture-specific features, so a
//     Hopper card (which reports sm_90a) gets the plain sm_90 cubin;
//   - PTX for the newest virtual architecture NVRTC knows that the device
//     can run (compute_90 on an sm_100 card with NVRTC 11.8), which the
//     driver compiles for the device itself when the module loads.

// cacheKeyVersion changes when the key's recipe changes, orphaning old files.
const cacheKeyVersion = "dllm-kernels-1"

// compileOptions are NVRTC's options for one architecture (sm_90, sm_80,
// compute_90...). No fast math: the kernels must match the CPU reference to
// float32 rounding.
func compileOptions(arch string) []string {
	return []string{"--gpu-architecture=" + arch, "--std=c++17", "--generate-line-info"}
}

// Route is how the kernels reach one device: Arch is NVRTC's
// --gpu-architecture, PTX says that it is virtual (compute_XY) and the
// driver finishes the compile.
type Route struct {
	Arch string
	PTX  bool
}

// String says which route was taken, for logs.
func (r Route) String() string {
	if r.PTX {
		return "PTX for " + r.Arch + ", compiled by the driver"
	}
	return "cubin for " + r.Arch
}

// chooseRoute picks the route for a device of compute capability
// major.minor, given the real architectures NVRTC supports (nil: unknown,
// then the device's own is tried).
func chooseRoute(major, minor int, supported []int) (Route, error) {
	want := major*10 + minor
	if len(supported) == 0 || slices.Contains(supported, want) {
		return Route{Arch: fmt.Sprintf("sm_%d", want)}, nil
	}
	best := 0
	for _, a := range supported {
		if a <= want && a > best {
			best = a
		}
	}
	if best == 0 {
		return Route{}, fmt.Errorf("kernels: NVRTC supports architectures %v, none that a compute capability %d.%d device runs", supported, major, minor)
	}
	return Route{Arch: fmt.Sprintf("compute_%d", best), PTX: true}, nil
}

// cacheKey names a cubin: a hash of the source, the header, the options and
// the NVRTC version.
func cacheKey(name, src, header string, options []string, nvrtcMajor, nvrtcMinor int) string {
	h := sha256.New()
	for _, part := range []string{
		cacheKeyVersion, name, src, header, strings.Join(options, "\x00"),
		fmt.Sprintf("nvrtc %d.%d", nvrtcMajor, nvrtcMinor),
	} {
		fmt.Fprintf(h, "%d:%s;", len(part), part) // length-prefixed: no ambiguous joins
	}
	return strings.TrimSuffix(name, ".cu") + "-" + hex.EncodeToString(h.Sum(nil))[:24] + ".cubin"
}

// CacheDir is where compiled kernels are kept: $DLLM_KERNEL_CACHE, else
// dllm/kernels under the user's cache folder, else under the temp folder.
func CacheDir() string {
	if d := os.Getenv("DLLM_KERNEL_CACHE"); d != "" {
		return d
	}
	if d, err := os.UserCacheDir(); err == nil {
		return filepath.Join(d, "dllm", "kernels")
	}
	return filepath.Join(os.TempDir(), "dllm-kernels")
}

// compiler turns an embedded source into a cubin for one architecture,
// through the disk cache.
type compiler struct {
	nvrtc *cu.NVRTC
	route Route
	dir   string
}

// cubin returns the compiled file, from the cache when possible. fresh
// skips the cache read (after a cached cubin failed to load).
func (c *compiler) cubin(name string, fresh bool) ([]byte, error) {
	src, err := source(name)
	if err != nil {
		return nil, err
	}
	header, err := source(commonHeader)
	if err != nil {
		return nil, err
	}
	opts := compileOptions(c.route.Arch)
	path := filepath.Join(c.dir, cacheKey(name, src, header, opts, c.nvrtc.Major, c.nvrtc.Minor))
	if !fresh {
		if b, err := os.ReadFile(path); err == nil && len(b) > 0 {
			return b, nil
		}
	}
	bin, err := compileIsolated(c.nvrtc, compileRequest{Name: name, Source: src, Header: header, Options: opts, PTX: c.route.PTX})
	if err != nil {
		return nil, err
	}
	// A cache that cannot be written costs only a recompile next time.
	if os.MkdirAll(c.dir, 0o755) == nil {
		_ = atomicfile.WriteBytes(path, bin, 0o644)
	}
	return bin, nil
}
