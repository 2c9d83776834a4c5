package mpi

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"unsafe"

	"github.com/ebitengine/purego"
)

// LibEnv names a library file to try before the usual names.
const LibEnv = "DLLM_MPI_LIB"

// libNames are tried in order: Open MPI's soname, MPICH's, then the
// unversioned development link.
var libNames = []string{"libmpi.so.40", "libmpi.so.12", "libmpich.so.12", "libmpi.so"}

// Flavour is the handle convention of the loaded library.
type Flavour int

const (
	OpenMPI Flavour = iota // handles are addresses of exported globals
	MPICH                  // handles are integer constants (MPICH ABI)
)

func (f Flavour) String() string {
	if f == OpenMPI {
		return "Open MPI"
	}
	return "MPICH ABI"
}

// MPI's thread levels (the same numbers in Open MPI and MPICH).
const threadSerialized = 2

// mpiSuccess is MPI_SUCCESS.
const mpiSuccess = 0

// MPICH's predefined handles (mpi.h).
const (
	mpichCommWorld = 0x44000000
	mpichFloat     = 0x4c00040a
	mpichByte      = 0x4c00010d
	mpichSum       = 0x58000003
	mpichInPlace   = ^uintptr(0) // (void*)-1
)

// Lib is an opened MPI library. Its methods are safe for concurrent use
// (they serialise on a mutex), Abort excepted, which never waits.
type Lib struct {
	Path    string
	Flavour Flavour

	mu sync.Mutex

	commWorld, float, byteType, sum, inPlace uintptr

	initThread  func(argc, argv unsafe.Pointer, required int32, provided *int32) int32
	finalize    func() int32
	initialized func(flag *int32) int32
	finalized   func(flag *int32) int32
	commRank    func(comm uintptr, rank *int32) int32
	commSize    func(comm uintptr, size *int32) int32
	bcast       func(buf unsafe.Pointer, count int32, dt uintptr, root int32, comm uintptr) int32
	allreduce   func(send uintptr, recv unsafe.Pointer, count int32, dt, op, comm uintptr) int32
	barrier     func(comm uintptr) int32
	abort       func(comm uintptr, code int32) int32
	errorString func(code int32, s *byte, n *int32) int32
}

var (
	loadOnce sync.Once
	loaded   *Lib
	loadErr  error
)

// Load opens the MPI library once (DLLM_MPI_LIB, then libmpi.so.40,
// libmpi.so.12, libmpi.so) and binds the calls. The error lists every
// attempt.
func Load() (*Lib, error) {
	loadOnce.Do(func() { loaded, loadErr = load() })
	return loaded, loadErr
}

func load() (*Lib, error) {
	var names []string
	if p := os.Getenv(LibEnv); p != "" {
		names = append(names, p)
	}
	names = append(names, libNames...)
	var tried []string
	var h uintptr
	var path string
	for _, n := range names {
		// RTLD_GLOBAL: Open MPI's plugins (mca_*.so) resolve libmpi's
		// symbols through the global namespace.
		hh, err := purego.Dlopen(n, purego.RTLD_NOW|purego.RTLD_GLOBAL)
		if err == nil {
			h, path = hh, n
			break
		}
		tried = append(tried, fmt.Sprintf("%s: %v", n, err))
	}
	if h == 0 {
		return nil, fmt.Errorf("no MPI library (%s)", strings.Join(tried, "; "))
	}
	l := &Lib{Path: path}
	if addr, err := purego.Dlsym(h, "ompi_mpi_comm_world"); err == nil && addr != 0 {
		l.Flavour = OpenMPI
		syms := map[string]*uintptr{
			"ompi_mpi_comm_world": &l.commWorld,
			"ompi_mpi_float":      &l.float,
			"ompi_mpi_byte":       &l.byteType,
			"ompi_mpi_op_sum":     &l.sum,
		}
		var missing []string
		for name, dst := range syms {
			a, err := purego.Dlsym(h, name)
			if err != nil || a == 0 {
				missing = append(missing, name)
				continue
			}
			*dst = a
		}
		if len(missing) > 0 {
			return nil, fmt.Errorf("%s lacks symbols %s", path, strings.Join(missing, ", "))
		}
		l.inPlace = 1
	} else {
		l.Flavour = MPICH
		l.commWorld, l.float, l.byteType, l.sum, l.inPlace = mpichCommWorld, mpichFloat, mpichByte, mpichSum, mpichInPlace
	}
	fns := map[string]any{
		"MPI_Init_thread":  &l.initThread,
		"MPI_Finalize":     &l.finalize,
		"MPI_Initialized":  &l.initialized,
		"MPI_Finalized":    &l.finalized,
		"MPI_Comm_rank":    &l.commRank,
		"MPI_Comm_size":    &l.commSize,
		"MPI_Bcast":        &l.bcast,
		"MPI_Allreduce":    &l.allreduce,
		"MPI_Barrier":      &l.barrier,
		"MPI_Abort":        &l.abort,
		"MPI_Error_string": &l.errorString,
	}
	var missing []string
	for name, fptr := range fns {
		addr, err := purego.Dlsym(h, name)
		if err != nil || addr == 0 {
			missing = append(missing, name)
			continue
		}
		purego.RegisterFunc(fptr, addr)
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("%s lacks symbols %s", path, strings.Join(missing, ", "))
	}
	return l, nil
}

// Error is a failed MPI call.
type Error struct {
	Func string
	Code int32
	Msg  string
}

func (e *Error) Error() string { return fmt.Sprintf("%s: %s (MPI error %d)", e.Func, e.Msg, e.Code) }

// check turns a return code into an error (the caller holds mu or needs
// none).
func (l *Lib) check(fn string, rc int32) error {
	if rc == mpiSuccess {
		return nil
	}
	buf := make([]byte, 1024) // MPI_MAX_ERROR_STRING is 256 in both
	var n int32
	msg := "unknown error"
	if l.errorString(rc, &buf[0], &n) == mpiSuccess && n > 0 && int(n) <= len(buf) {
		msg = string(buf[:n])
	}
	return &Error{Func: fn, Code: rc, Msg: msg}
}

// Init initialises MPI for this process (MPI_Init_thread with
// MPI_THREAD_SERIALIZED) unless it already is. It is what every rank calls
// first.
func (l *Lib) Init() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	var flag int32
	if err := l.check("MPI_Initialized", l.initialized(&flag)); err != nil {
		return err
	}
	if flag != 0 {
		return nil
	}
	if _, set := os.LookupEnv("OMPI_MCA_opal_signal"); !set {
		os.Setenv("OMPI_MCA_opal_signal", "") // keep SIGSEGV & co. for the Go runtime
	}
	var provided int32
	if err := l.check("MPI_Init_thread", l.initThread(nil, nil, threadSerialized, &provided)); err != nil {
		return err
	}
	if provided < threadSerialized {
		return fmt.Errorf("MPI_Init_thread: the library gives thread level %d, dllm needs MPI_THREAD_SERIALIZED (%d)", provided, threadSerialized)
	}
	return nil
}

// Initialized reports whether MPI_Init has run (and MPI_Finalize has not).
func (l *Lib) Initialized() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	var in, fin int32
	if l.initialized(&in) != mpiSuccess || l.finalized(&fin) != mpiSuccess {
		return false
	}
	return in != 0 && fin == 0
}

// Finalize shuts MPI down; every rank calls it once at the end.
func (l *Lib) Finalize() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.check("MPI_Finalize", l.finalize())
}

// Rank is this process's rank in MPI_COMM_WORLD.
func (l *Lib) Rank() (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var r int32
	err := l.check("MPI_Comm_rank", l.commRank(l.commWorld, &r))
	return int(r), err
}

// Size is the number of processes in MPI_COMM_WORLD.
func (l *Lib) Size() (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var n int32
	err := l.check("MPI_Comm_size", l.commSize(l.commWorld, &n))
	return int(n), err
}

// maxCount is the largest count one call takes (a C int), rounded down to
// a multiple of 1 MiB elements; longer buffers go in pieces.
const maxCount = 1 << 30

// AllReduceSum replaces buf on every rank with the elementwise sum of every
// rank's buf (MPI_Allreduce, MPI_IN_PLACE, MPI_FLOAT, MPI_SUM).
func (l *Lib) AllReduceSum(buf []float32) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	for len(buf) > 0 {
		n := min(len(buf), maxCount)
		if err := l.check("MPI_Allreduce", l.allreduce(l.inPlace, unsafe.Pointer(&buf[0]), int32(n), l.float, l.sum, l.commWorld)); err != nil {
			return err
		}
		buf = buf[n:]
	}
	return nil
}

// BcastF32 copies root's buf into every rank's buf (MPI_Bcast, MPI_FLOAT).
func (l *Lib) BcastF32(buf []float32, root int) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	for len(buf) > 0 {
		n := min(len(buf), maxCount)
		if err := l.check("MPI_Bcast", l.bcast(unsafe.Pointer(&buf[0]), int32(n), l.float, int32(root), l.commWorld)); err != nil {
			return err
		}
		buf = buf[n:]
	}
	return nil
}

// BcastBytes copies root's buf into every rank's buf (MPI_Bcast, MPI_BYTE).
func (l *Lib) BcastBytes(buf []byte, root int) error {
	if len(buf) == 0 {
		return nil
	}
	if len(buf) > maxCount {
		return errors.New("MPI_Bcast: byte buffer over 1 GiB")
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.check("MPI_Bcast", l.bcast(unsafe.Pointer(&buf[0]), int32(len(buf)), l.byteType, int32(root), l.commWorld))
}

// Barrier returns when every rank has entered it.
func (l *Lib) Barrier() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.check("MPI_Barrier", l.barrier(l.commWorld))
}

// Abort ends every process of the job with exit code code (MPI_Abort on
// MPI_COMM_WORLD). It does not return when MPI does its job; it takes no
// lock, so that a rank can abort while another goroutine waits in a
// collective.
func (l *Lib) Abort(code int) error {
	return l.check("MPI_Abort", l.abort(l.commWorld, int32(code)))
}
