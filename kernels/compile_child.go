package kernels

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"

	"github.com/dllmgo/dllm/kernels/cu"
)

// NVRTC runs in a child process.
//
// NVRTC is a compiler inside our process: when it crashes (it has, with a
// segmentation fault on valid sources) it takes the whole program with it,
// training run included. So the backend compiles in a child: the running
// executable started again with DLLM_NVRTC_WORKER=1, which this package's
// init turns into a compile worker before main runs. The request goes in on
// stdin, the binary comes back on stdout, a compile error's log on stderr.
// A crash of the child is then one error naming the file and the
// architecture. DLLM_NVRTC_INPROCESS=1 compiles in-process instead (faster
// by one process start per file, and what a debugger wants).

const (
	workerEnv    = "DLLM_NVRTC_WORKER"
	inProcessEnv = "DLLM_NVRTC_INPROCESS"
)

func init() {
	if os.Getenv(workerEnv) == "1" {
		os.Exit(compileWorker(os.Stdin, os.Stdout, os.Stderr))
	}
}

// compileRequest is what the parent sends its compile worker.
type compileRequest struct {
	Name, Source, Header string
	Options              []string
	PTX                  bool
}

// The worker's exit statuses. Anything else, a signal or the Go runtime's own
// status 2 after a fault in C code, is a crash.
const (
	workerCompileError = 3 // NVRTC rejected the source: the log is on stderr
	workerCannotTry    = 4 // no request, no NVRTC
)

// compileWorker serves one request: the binary on stdout and, after a
// successful compile, NVRTC's log on stderr; its exit status is 0 on
// success, else one of the worker statuses.
func compileWorker(in io.Reader, out, errw io.Writer) int {
	var req compileRequest
	if err := json.NewDecoder(in).Decode(&req); err != nil {
		fmt.Fprintf(errw, "nvrtc worker: reading the request: %v\n", err)
		return workerCannotTry
	}
	nv, err := cu.LoadNVRTC()
	if err != nil {
		fmt.Fprintln(errw, err)
		return workerCannotTry
	}
	bin, log, err := compileWith(nv, req)
	if err != nil {
		fmt.Fprintln(errw, err)
		return workerCompileError
	}
	if _, err := out.Write(bin); err != nil {
		return workerCannotTry
	}
	fmt.Fprint(errw, log)
	return 0
}

func compileWith(nv *cu.NVRTC, req compileRequest) ([]byte, string, error) {
	hdr := []cu.Header{{Name: commonHeader, Source: req.Header}}
	if req.PTX {
		bin, err := nv.CompilePTX(req.Name, req.Source, hdr, req.Options)
		return bin, "", err
	}
	return nv.CompileLog(req.Name, req.Source, hdr, req.Options)
}

// compileIsolated compiles req in a child process (or in this one when
// DLLM_NVRTC_INPROCESS=1 or the executable cannot be found).
func compileIsolated(nv *cu.NVRTC, req compileRequest) ([]byte, error) {
	bin, _, err := compileIsolatedLog(nv, req)
	return bin, err
}

// compileIsolatedLog is compileIsolated that also returns NVRTC's log of a
// successful compile (ptxas's resource report, with --ptxas-options=--verbose).
func compileIsolatedLog(nv *cu.NVRTC, req compileRequest) ([]byte, string, error) {
	exe, err := os.Executable()
	if os.Getenv(inProcessEnv) == "1" || err != nil {
		return compileWith(nv, req)
	}
	js, err := json.Marshal(req)
	if err != nil {
		return nil, "", err
	}
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), workerEnv+"=1", "DLLM_NVRTC="+nv.Path)
	cmd.Stdin = bytes.NewReader(js)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err = cmd.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return stdout.Bytes(), stderr.String(), nil
	case errors.As(err, &exit) && exit.ExitCode() == workerCompileError:
		return nil, "", errors.New(strings.TrimSpace(stderr.String()))
	case errors.As(err, &exit) && exit.ExitCode() == workerCannotTry:
		return nil, "", fmt.Errorf("kernels: compiling %s in a child process: %s", req.Name, strings.TrimSpace(stderr.String()))
	case errors.As(err, &exit):
		// Killed by a signal, or the Go runtime's report of a fault in C:
		// its first line names the signal.
		why, _, _ := strings.Cut(strings.TrimSpace(stderr.String()), "\n")
		if why == "" {
			why = exit.String()
		}
		return nil, "", fmt.Errorf("kernels: NVRTC %d.%d crashed compiling %s (%s): %s", nv.Major, nv.Minor, req.Name, strings.Join(req.Options, " "), why)
	default:
		return nil, "", fmt.Errorf("kernels: compiling %s in a child process: %v", req.Name, err)
	}
}
