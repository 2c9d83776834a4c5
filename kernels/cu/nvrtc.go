package cu

import (
	"fmt"
	"runtime"
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

// LoadNVRTC opens libnvrtc once. DLLM_NVRTC may name the library file.
func LoadNVRTC() (*NVRTC, error) {
	nvrtcOnce.Do(func() { nvrtcLib, nvrtcErr = loadNVRTC() })
	return nvrtcLib, nvrtcErr
}

func loadNVRTC() (*NVRTC, error) {
	names := []string{"libnvrtc.so", "libnvrtc.so.13", "libnvrtc.so.12", "libnvrtc.so.11.2"}
	lib, err := openFirst("DLLM_NVRTC", names, toolkitDirs())
	if err != nil {
		return nil, fmt.Errorf("cannot load NVRTC (set DLLM_NVRTC to libnvrtc.so's path): %v", err)
	}
	n := &NVRTC{Path: lib.path}
	err = bind(lib, map[string]any{
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
