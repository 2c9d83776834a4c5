package nccl

import (
	"fmt"
	"os"
	"strings"
	"sync"
	"unsafe"

	"github.com/ebitengine/purego"

	"github.com/dllmgo/dllm/kernels/cu"
)

// LibEnv names a library file to try before libnccl.so.2.
const LibEnv = "DLLM_NCCL_LIB"

// UniqueID is ncclUniqueId: 128 opaque bytes (NCCL_UNIQUE_ID_BYTES) that
// name a communicator's bootstrap.
type UniqueID struct{ Internal [128]byte }

// Handle is an ncclComm_t.
type Handle uintptr

// Data types and reduction ops of nccl.h.
const (
	Float32 = 7 // ncclFloat32
	Sum     = 0 // ncclSum
)

// result is ncclResult_t; 0 is ncclSuccess.
type result int32

// Lib is the opened NCCL library.
type Lib struct {
	Path string

	getUniqueID    func(id *UniqueID) result
	commInitRank   func(comm *Handle, nranks int32, id UniqueID, rank int32) result
	allReduce      func(send, recv cu.DevicePtr, count uintptr, dtype int32, op int32, comm Handle, stream cu.Stream) result
	broadcast      func(send, recv cu.DevicePtr, count uintptr, dtype int32, root int32, comm Handle, stream cu.Stream) result
	groupStart     func() result
	groupEnd       func() result
	commDestroy    func(comm Handle) result
	getErrorString func(r result) *byte
}

var (
	loadOnce sync.Once
	loaded   *Lib
	loadErr  error
)

// Load opens libnccl.so.2 once (DLLM_NCCL_LIB first) and binds the calls.
func Load() (*Lib, error) {
	loadOnce.Do(func() { loaded, loadErr = load() })
	return loaded, loadErr
}

func load() (*Lib, error) {
	var names []string
	if p := os.Getenv(LibEnv); p != "" {
		names = append(names, p)
	}
	names = append(names, "libnccl.so.2", "libnccl.so")
	var tried []string
	for _, n := range names {
		h, err := purego.Dlopen(n, purego.RTLD_NOW|purego.RTLD_GLOBAL)
		if err != nil {
			tried = append(tried, fmt.Sprintf("%s: %v", n, err))
			continue
		}
		l := &Lib{Path: n}
		syms := map[string]any{
			"ncclGetUniqueId":    &l.getUniqueID,
			"ncclCommInitRank":   &l.commInitRank,
			"ncclAllReduce":      &l.allReduce,
			"ncclBroadcast":      &l.broadcast,
			"ncclGroupStart":     &l.groupStart,
			"ncclGroupEnd":       &l.groupEnd,
			"ncclCommDestroy":    &l.commDestroy,
			"ncclGetErrorString": &l.getErrorString,
		}
		var missing []string
		for name, fptr := range syms {
			addr, err := purego.Dlsym(h, name)
			if err != nil || addr == 0 {
				missing = append(missing, name)
				continue
			}
			purego.RegisterFunc(fptr, addr)
		}
		if len(missing) > 0 {
			return nil, fmt.Errorf("%s lacks symbols %s", n, strings.Join(missing, ", "))
		}
		return l, nil
	}
	return nil, fmt.Errorf("no NCCL library (%s)", strings.Join(tried, "; "))
}

// Error is a failed NCCL call.
type Error struct {
	Func string
	Code int32
	Msg  string
}

func (e *Error) Error() string { return fmt.Sprintf("%s: %s (ncclResult %d)", e.Func, e.Msg, e.Code) }

func (l *Lib) check(fn string, r result) error {
	if r == 0 {
		return nil
	}
	msg := "unknown error"
	if p := l.getErrorString(r); p != nil {
		msg = goString(p)
	}
	return &Error{Func: fn, Code: int32(r), Msg: msg}
}

func goString(p *byte) string {
	n := 0
	for *(*byte)(unsafe.Add(unsafe.Pointer(p), n)) != 0 {
		n++
	}
	return string(unsafe.Slice(p, n))
}

// GetUniqueID makes the id of a new communicator (rank 0 calls it).
func (l *Lib) GetUniqueID() (UniqueID, error) {
	var id UniqueID
	return id, l.check("ncclGetUniqueId", l.getUniqueID(&id))
}

// CommInitRank joins communicator id as rank of nranks, on the device
// current on the calling thread; it blocks until every rank has joined.
func (l *Lib) CommInitRank(nranks int, id UniqueID, rank int) (Handle, error) {
	var h Handle
	err := l.check("ncclCommInitRank", l.commInitRank(&h, int32(nranks), id, int32(rank)))
	return h, err
}

// AllReduceSum enqueues the in-place sum of count float32 at p over the
// communicator's ranks on stream.
func (l *Lib) AllReduceSum(p cu.DevicePtr, count int, comm Handle, stream cu.Stream) error {
	return l.check("ncclAllReduce", l.allReduce(p, p, uintptr(count), Float32, Sum, comm, stream))
}

// Broadcast enqueues the in-place copy of root's count float32 at p to
// every rank on stream.
func (l *Lib) Broadcast(p cu.DevicePtr, count int, root int, comm Handle, stream cu.Stream) error {
	return l.check("ncclBroadcast", l.broadcast(p, p, uintptr(count), Float32, int32(root), comm, stream))
}

// GroupStart and GroupEnd bracket calls that NCCL launches as one.
func (l *Lib) GroupStart() error { return l.check("ncclGroupStart", l.groupStart()) }
func (l *Lib) GroupEnd() error   { return l.check("ncclGroupEnd", l.groupEnd()) }

// CommDestroy frees a communicator.
func (l *Lib) CommDestroy(comm Handle) error {
	return l.check("ncclCommDestroy", l.commDestroy(comm))
}

// ErrorString is NCCL's text for a result code.
func (l *Lib) ErrorString(code int32) string {
	if p := l.getErrorString(result(code)); p != nil {
		return goString(p)
	}
	return ""
}
