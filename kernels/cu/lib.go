package cu

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"unsafe"

	"github.com/ebitengine/purego"
)

// library is an opened shared object.
type library struct {
	handle uintptr
	path   string // the name that dlopen accepted
}

// openFirst dlopens the first of names that loads. A name is tried as given
// (the dynamic linker's search path) and then inside each of dirs. envVar, when
// set, names a file to try before everything else. The error lists every
// attempt, so a user can see why no CUDA library was found.
func openFirst(envVar string, names []string, dirs []string) (*library, error) {
	var candidates []string
	if p := os.Getenv(envVar); p != "" {
		candidates = append(candidates, p)
	}
	for _, n := range names {
		candidates = append(candidates, n)
	}
	for _, d := range dirs {
		for _, n := range names {
			candidates = append(candidates, filepath.Join(d, n))
		}
	}
	var tried []string
	for _, c := range candidates {
		h, err := purego.Dlopen(c, purego.RTLD_NOW|purego.RTLD_GLOBAL)
		if err == nil {
			return &library{handle: h, path: c}, nil
		}
		tried = append(tried, fmt.Sprintf("%s: %v", c, err))
	}
	return nil, errors.New(strings.Join(tried, "; "))
}

// toolkitDirs are the folders where a CUDA toolkit or a pip wheel usually puts
// libnvrtc and libcublasLt when they are not on the linker's search path.
func toolkitDirs() []string {
	var dirs []string
	for _, env := range []string{"CUDA_HOME", "CUDA_PATH"} {
		if root := os.Getenv(env); root != "" {
			dirs = append(dirs, filepath.Join(root, "lib64"), filepath.Join(root, "lib"))
		}
	}
	dirs = append(dirs,
		"/usr/local/cuda/lib64",
		"/usr/local/cuda/targets/x86_64-linux/lib",
		"/usr/lib/x86_64-linux-gnu",
	)
	versioned, _ := filepath.Glob("/usr/local/cuda-*/lib64")
	return append(dirs, versioned...)
}

// bind resolves each symbol of syms in lib and stores a Go function that calls
// it in the matching pointer. A missing symbol is an error naming it, never a
// panic: purego.RegisterFunc panics, so the symbol is looked up first.
func bind(lib *library, syms map[string]any) error {
	var missing []string
	for name, fptr := range syms {
		addr, err := purego.Dlsym(lib.handle, name)
		if err != nil || addr == 0 {
			missing = append(missing, name)
			continue
		}
		purego.RegisterFunc(fptr, addr)
	}
	if len(missing) > 0 {
		return fmt.Errorf("%s lacks symbols %s", lib.path, strings.Join(missing, ", "))
	}
	return nil
}

// goString copies a NUL-terminated C string owned by a library.
func goString(p *byte) string {
	if p == nil {
		return ""
	}
	n := 0
	for *(*byte)(unsafe.Add(unsafe.Pointer(p), n)) != 0 {
		n++
	}
	return string(unsafe.Slice(p, n))
}

// cStrings holds NUL-terminated copies of Go strings and an array of pointers
// to them, for C parameters of type const char* const*. The memory is Go's;
// callers keep the value alive (and pinned) across the C call.
type cStrings struct {
	bytes [][]byte
	ptrs  []uintptr
}

func newCStrings(ss []string) *cStrings {
	c := &cStrings{}
	for _, s := range ss {
		b := append([]byte(s), 0)
		c.bytes = append(c.bytes, b)
	}
	for _, b := range c.bytes {
		c.ptrs = append(c.ptrs, uintptr(unsafe.Pointer(&b[0])))
	}
	return c
}

// array returns the const char** argument (nil for no strings).
func (c *cStrings) array() unsafe.Pointer {
	if len(c.ptrs) == 0 {
		return nil
	}
	return unsafe.Pointer(&c.ptrs[0])
}
