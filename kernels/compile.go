package kernels

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/dllmgo/dllm/internal/atomicfile"
	"github.com/dllmgo/dllm/kernels/cu"
)

// Kernels are compiled by NVRTC for the device's exact architecture the first
// time one of their file's entries is launched, and the cubin is kept on disk
// so that later runs skip the compiler. The cache key covers everything that
// changes the binary: the source, the common header, the compile options
// (which name the architecture) and NVRTC's version.

// cacheKeyVersion changes when the key's recipe changes, orphaning old files.
const cacheKeyVersion = "dllm-kernels-1"

// compileOptions are NVRTC's options for one architecture (sm_90a, sm_80...).
// No fast math: the kernels must match the CPU reference to float32 rounding.
func compileOptions(arch string) []string {
	return []string{"--gpu-architecture=" + arch, "--std=c++17", "--generate-line-info"}
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
	arch  string
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
	opts := compileOptions(c.arch)
	path := filepath.Join(c.dir, cacheKey(name, src, header, opts, c.nvrtc.Major, c.nvrtc.Minor))
	if !fresh {
		if b, err := os.ReadFile(path); err == nil && len(b) > 0 {
			return b, nil
		}
	}
	bin, err := c.nvrtc.CompileCUBIN(name, src, []cu.Header{{Name: commonHeader, Source: header}}, opts)
	if err != nil {
		return nil, err
	}
	// A cache that cannot be written costs only a recompile next time.
	if os.MkdirAll(c.dir, 0o755) == nil {
		_ = atomicfile.WriteBytes(path, bin, 0o644)
	}
	return bin, nil
}
