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
// (an option such as --gpu-architecture=sm_90a). A failed compile returns a
// *CompileError carrying the log.
func (n *NVRTC) CompileCUBIN(name, src string, headers []Header, options []string) ([]byte, error) {
	hdrSrc := make([]string, len(headers))
	hdrName := make([]string, len(headers))
	for i, h := range headers {
		hdrSrc[i], hdrName[i] = h.Source, h.Name
	}
	cSrc, cNames, cOpts := newCStrings(hdrSrc), newCStrings(hdrName), newCStrings(options)
	defer runtime.KeepAlive([]*cStrings{cSrc, cNames, cOpts})

	var prog uintptr
	if err := n.check("nvrtcCreateProgram", n.createProgram(&prog, src, name, int32(len(headers)), cSrc.array(), cNames.array())); err != nil {
		return nil, err
	}
	defer n.destroyProgram(&prog)

	compileErr := n.check("nvrtcCompileProgram", n.compileProgram(prog, int32(len(options)), cOpts.array()))
	log := n.programLog(prog)
	if compileErr != nil {
		return nil, &CompileError{Name: name, Log: log, Err: compileErr}
	}
	var size uintptr
	if err := n.check("nvrtcGetCUBINSize", n.getCUBINSize(prog, &size)); err != nil {
		return nil, err
	}
	if size == 0 {
		return nil, fmt.Errorf("nvrtc: %s produced no cubin (was the architecture virtual, compute_XY?)", name)
	}
	cubin := make([]byte, size)
	if err := n.check("nvrtcGetCUBIN", n.getCUBIN(prog, &cubin[0])); err != nil {
		return nil, err
	}
	return cubin, nil
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
