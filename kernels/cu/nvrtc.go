package cu

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"unsafe"
)

// NVRTC is the CUDA run-time compiler. Its calls are thread-safe and need no
// context, so they run on any goroutine.
type NVRTC struct {
	Path         string // the library that was loaded
	Major, Minor int    // NVRTC's version, part of the kernel cache key

	// nvrtcResult nvrtcVersion(int *major, int *minor)
	version func(major, minor *int32) int32
	// const char *nvrtcGetErrorString(nvrtcResult result)
	errorString func(r int32) string
	// nvrtcResult nvrtcCreateProgram(nvrtcProgram *prog, const char *src, const char *name,
	//   int numHeaders, const char * const *headers, const char * const *includeNames)
	createProgram func(prog *uintptr, src, name string, numHeaders int32, headers, includeNames unsafe.Pointer) int32
	// nvrtcResult nvrtcDestroyProgram(nvrtcProgram *prog)
	destroyProgram func(prog *uintptr) int32
	// nvrtcResult nvrtcCompileProgram(nvrtcProgram prog, int numOptions, const char * const *options)
	compileProgram func(prog uintptr, numOptions int32, options unsafe.Pointer) int32
	// nvrtcResult nvrtcGetProgramLogSize(nvrtcProgram prog, size_t *logSizeRet)
	getProgramLogSize func(prog uintptr, n *uintptr) int32
	// nvrtcResult nvrtcGetProgramLog(nvrtcProgram prog, char *log)
	getProgramLog func(prog uintptr, log *byte) int32
	// nvrtcResult nvrtcGetCUBINSize(nvrtcProgram prog, size_t *cubinSizeRet)
	getCUBINSize func(prog uintptr, n *uintptr) int32
	// nvrtcResult nvrtcGetCUBIN(nvrtcProgram prog, char *cubin)
	getCUBIN func(prog uintptr, cubin *byte) int32
	// nvrtcResult nvrtcGetPTXSize(nvrtcProgram prog, size_t *ptxSizeRet)
	getPTXSize func(prog uintptr, n *uintptr) int32
	// nvrtcResult nvrtcGetPTX(nvrtcProgram prog, char *ptx)
	getPTX func(prog uintptr, ptx *byte) int32
	// nvrtcResult nvrtcGetNumSupportedArchs(int *numArchs) and
	// nvrtcResult nvrtcGetSupportedArchs(int *supportedArchs), NVRTC 11.2+;
	// nil on an older library.
	numSupportedArchs func(n *int32) int32
	supportedArchs    func(archs *int32) int32
}

var (
	nvrtcOnce sync.Once
	nvrtcLib  *NVRTC
	nvrtcErr  error
)

// LoadNVRTC opens libnvrtc once: the file DLLM_NVRTC names, else the newest
// NVRTC found (see nvrtcCandidates). A newer NVRTC knows newer devices and
// compiles better code, and a distribution's older copy on the linker path
// must not shadow the toolkit a user installed.
func LoadNVRTC() (*NVRTC, error) {
	nvrtcOnce.Do(func() {
		if p := os.Getenv("DLLM_NVRTC"); p != "" {
			nvrtcLib, nvrtcErr = newestNVRTC([]string{p})
			return
		}
		nvrtcLib, nvrtcErr = newestNVRTC(nvrtcCandidates())
	})
	return nvrtcLib, nvrtcErr
}

// nvrtcCandidates lists the NVRTC libraries worth trying, most preferred
// first (ties in version go to the earlier): the toolkit that CUDA_HOME or
// CUDA_PATH names, the CUDA wheels of Python environments, the toolkits under
// /usr/local, and last the dynamic linker's search path.
func nvrtcCandidates() []string {
	var dirs []string
	for _, env := range []string{"CUDA_HOME", "CUDA_PATH"} {
		if root := os.Getenv(env); root != "" {
			dirs = append(dirs, filepath.Join(root, "lib64"), filepath.Join(root, "lib"))
		}
	}
	var wheels []string
	for _, root := range []string{os.Getenv("VIRTUAL_ENV"), os.Getenv("CONDA_PREFIX"), "/usr/local", "/usr"} {
		if root == "" {
			continue
		}
		for _, sp := range []string{"lib/python3*/site-packages", "lib/python3*/dist-packages", "lib/python3/dist-packages"} {
			m, _ := filepath.Glob(filepath.Join(root, sp, "nvidia/cuda_nvrtc/lib"))
			wheels = append(wheels, m...)
		}
	}
	dirs = append(dirs, wheels...)
	versioned, _ := filepath.Glob("/usr/local/cuda-*/lib64")
	sort.Sort(sort.Reverse(sort.StringSlice(versioned)))
	dirs = append(dirs, versioned...)
	dirs = append(dirs, "/usr/local/cuda/lib64", "/usr/local/cuda/targets/x86_64-linux/lib")
	var out []string
	seen := map[string]bool{}
	for _, d := range dirs {
		files, _ := filepath.Glob(filepath.Join(d, "libnvrtc.so*"))
		for _, f := range files {
			if !seen[f] {
				seen[f] = true
				out = append(out, f)
			}
		}
	}
	return append(out, "libnvrtc.so", "libnvrtc.so.13", "libnvrtc.so.12", "libnvrtc.so.11.2")
}

// newestNVRTC opens each candidate that loads and keeps the newest version.
func newestNVRTC(candidates []string) (*NVRTC, error) {
	var best *NVRTC
	var tried []string
	for _, c := range candidates {
		lib, err := openFirst("", []string{c}, nil)
		if err != nil {
			tried = append(tried, err.Error())
			continue
		}
		n, err := bindNVRTC(lib)
		if err != nil {
			tried = append(tried, fmt.Sprintf("%s: %v", c, err))
			continue
		}
		if best == nil || n.Major > best.Major || n.Major == best.Major && n.Minor > best.Minor {
			best = n
		}
	}
	if best == nil {
		return nil, fmt.Errorf("cannot load NVRTC (set DLLM_NVRTC to libnvrtc.so's path): %s", strings.Join(tried, "; "))
	}
	return best, nil
}

// bindNVRTC resolves NVRTC's functions in lib and reads its version.
func bindNVRTC(lib *library) (*NVRTC, error) {
	n := &NVRTC{Path: lib.path}
	err := bind(lib, map[string]any{
		"nvrtcVersion":           &n.version,
		"nvrtcGetErrorString":    &n.errorString,
		"nvrtcCreateProgram":     &n.createProgram,
		"nvrtcDestroyProgram":    &n.destroyProgram,
		"nvrtcCompileProgram":    &n.compileProgram,
		"nvrtcGetProgramLogSize": &n.getProgramLogSize,
		"nvrtcGetProgramLog":     &n.getProgramLog,
		"nvrtcGetCUBINSize":      &n.getCUBINSize,
		"nvrtcGetCUBIN":          &n.getCUBIN,
	})
	if err != nil {
		return nil, err
	}
	// PTX output and the list of supported architectures are optional: without
	// them CompilePTX fails and Archs reports nothing.
	_ = bind(lib, map[string]any{"nvrtcGetPTXSize": &n.getPTXSize, "nvrtcGetPTX": &n.getPTX})
	_ = bind(lib, map[string]any{
		"nvrtcGetNumSupportedArchs": &n.numSupportedArchs,
		"nvrtcGetSupportedArchs":    &n.supportedArchs,
	})
	var major, minor int32
	if err := n.check("nvrtcVersion", n.version(&major, &minor)); err != nil {
		return nil, err
	}
	n.Major, n.Minor = int(major), int(minor)
	return n, nil
}

func (n *NVRTC) check(fn string, r int32) error {
	if r == 0 {
		return nil
	}
	return fmt.Errorf("%s: %s (nvrtcResult %d)", fn, n.errorString(r), r)
}

// Header is a named source handed to NVRTC, found by #include "Name".
type Header struct {
	Name, Source string
}

// CompileError is a failed compilation with NVRTC's log.
type CompileError struct {
	Name string
	Log  string
	Err  error
}

func (e *CompileError) Error() string {
	return fmt.Sprintf("nvrtc: compiling %s: %v\n%s", e.Name, e.Err, strings.TrimSpace(e.Log))
}

// CompileCUBIN compiles one CUDA C++ source to a cubin for a real architecture
// (an option such as --gpu-architecture=sm_90). A failed compile returns a
// *CompileError carrying the log.
func (n *NVRTC) CompileCUBIN(name, src string, headers []Header, options []string) ([]byte, error) {
	out, _, err := n.compile(name, src, headers, options, false)
	return out, err
}

// CompilePTX compiles one source to PTX for a virtual architecture
// (--gpu-architecture=compute_90): the route for a device newer than NVRTC
// knows, whose driver then compiles the PTX itself when the module loads.
func (n *NVRTC) CompilePTX(name, src string, headers []Header, options []string) ([]byte, error) {
	out, _, err := n.compile(name, src, headers, options, true)
	return out, err
}

// CompileLog compiles to a cubin like CompileCUBIN and also returns NVRTC's
// log of a successful compile: with --ptxas-options=--verbose it holds
// ptxas's resource report per kernel (registers, spills, shared memory).
func (n *NVRTC) CompileLog(name, src string, headers []Header, options []string) ([]byte, string, error) {
	return n.compile(name, src, headers, options, false)
}

func (n *NVRTC) compile(name, src string, headers []Header, options []string, ptx bool) ([]byte, string, error) {
	hdrSrc := make([]string, len(headers))
	hdrName := make([]string, len(headers))
	for i, h := range headers {
		hdrSrc[i], hdrName[i] = h.Source, h.Name
	}
	cSrc, cNames, cOpts := newCStrings(hdrSrc), newCStrings(hdrName), newCStrings(options)
	defer runtime.KeepAlive([]*cStrings{cSrc, cNames, cOpts})

	var prog uintptr
	if err := n.check("nvrtcCreateProgram", n.createProgram(&prog, src, name, int32(len(headers)), cSrc.array(), cNames.array())); err != nil {
		return nil, "", err
	}
	defer n.destroyProgram(&prog)

	compileErr := n.check("nvrtcCompileProgram", n.compileProgram(prog, int32(len(options)), cOpts.array()))
	log := n.programLog(prog)
	if compileErr != nil {
		return nil, log, &CompileError{Name: name, Log: log, Err: compileErr}
	}
	getSize, get, what := n.getCUBINSize, n.getCUBIN, "cubin"
	if ptx && (n.getPTX == nil || n.getPTXSize == nil) {
		return nil, log, fmt.Errorf("nvrtc: %s lacks nvrtcGetPTX", n.Path)
	}
	if ptx {
		getSize, get, what = n.getPTXSize, n.getPTX, "PTX"
	}
	var size uintptr
	if err := n.check("nvrtcGet"+what+"Size", getSize(prog, &size)); err != nil {
		return nil, log, err
	}
	if size == 0 {
		return nil, log, fmt.Errorf("nvrtc: %s produced no %s (a cubin needs a real architecture, sm_XY; PTX a virtual one, compute_XY)", name, what)
	}
	out := make([]byte, size)
	if err := n.check("nvrtcGet"+what, get(prog, &out[0])); err != nil {
		return nil, log, err
	}
	return out, log, nil
}

// Archs lists the real architectures this NVRTC compiles for, as numbers
// (80 for sm_80), ascending; nil when the library cannot say (before 11.2).
func (n *NVRTC) Archs() []int {
	if n.numSupportedArchs == nil || n.supportedArchs == nil {
		return nil
	}
	var k int32
	if n.numSupportedArchs(&k) != 0 || k <= 0 {
		return nil
	}
	a := make([]int32, k)
	if n.supportedArchs(&a[0]) != 0 {
		return nil
	}
	out := make([]int, k)
	for i, v := range a {
		out[i] = int(v)
	}
	return out
}

func (n *NVRTC) programLog(prog uintptr) string {
	var size uintptr
	if n.getProgramLogSize(prog, &size) != 0 || size <= 1 {
		return ""
	}
	buf := make([]byte, size)
	if n.getProgramLog(prog, &buf[0]) != 0 {
		return ""
	}
	return strings.TrimRight(string(buf), "\x00")
}
