package cu

import (
	"errors"
	"fmt"
	"runtime"
	"sync"
)

// Context is a device's primary context with one stream, served by a
// goroutine locked to its OS thread. It is safe for concurrent use: calls to
// Do are serialised on that goroutine.
type Context struct {
	Device DeviceInfo

	calls     chan call
	closeOnce sync.Once
	closed    chan struct{}
	done      chan struct{}

	// Owned by the worker goroutine.
	dev    int32
	ctx    ctxHandle
	stream Stream
}

// DeviceInfo describes the device a Context runs on.
type DeviceInfo struct {
	Ordinal        int
	Name           string
	Major, Minor   int // compute capability
	SMs            int // multiprocessors
	MaxSharedOptin int // bytes of shared memory a block may opt in to
	DriverVersion  int // e.g. 13000
}

// Arch is the NVRTC architecture name for the device: sm_90a on Hopper, so
// that the arch-specific instructions (wgmma, setmaxnreg) are available, and
// sm_XY elsewhere.
func (d DeviceInfo) Arch() string {
	if d.Major == 9 && d.Minor == 0 {
		return "sm_90a"
	}
	return fmt.Sprintf("sm_%d%d", d.Major, d.Minor)
}

type call struct {
	f     func(*Thread) error
	reply chan error
}

// Thread is the context's locked goroutine. It exists only inside Context.Do,
// and its methods are the driver calls that need the context current.
type Thread struct {
	c *Context
}

// ErrClosed is returned by Do after Close.
var ErrClosed = errors.New("cu: context closed")

// NewContext retains device ordinal's primary context, makes it current on a
// new locked goroutine and creates the context's stream.
func NewContext(ordinal int) (*Context, error) {
	if err := Load(); err != nil {
		return nil, err
	}
	c := &Context{
		calls:  make(chan call),
		closed: make(chan struct{}),
		done:   make(chan struct{}),
	}
	ready := make(chan error, 1)
	go c.serve(ordinal, ready)
	if err := <-ready; err != nil {
		return nil, err
	}
	return c, nil
}

// serve is the worker: it locks itself to its OS thread for its whole life,
// since the CUDA context is bound to that thread.
func (c *Context) serve(ordinal int, ready chan<- error) {
	runtime.LockOSThread()
	defer close(c.done)
	if err := c.setup(ordinal); err != nil {
		ready <- err
		return // the thread stays locked and exits with the goroutine
	}
	ready <- nil
	t := &Thread{c: c}
	for {
		select {
		case cl := <-c.calls:
			cl.reply <- t.run(cl.f)
		case <-c.closed:
			c.teardown()
			runtime.UnlockOSThread()
			return
		}
	}
}

// run calls f, turning a panic into an error so a bug in a caller's closure
// cannot kill the worker and hang every later call.
func (t *Thread) run(f func(*Thread) error) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("cu: panic on the context thread: %v", p)
		}
	}()
	return f(t)
}

func (c *Context) setup(ordinal int) error {
	n, err := DeviceCount()
	if err != nil {
		return err
	}
	if n == 0 {
		return fmt.Errorf("%w: the driver reports no devices", ErrNoDevice)
	}
	if ordinal < 0 || ordinal >= n {
		return fmt.Errorf("%w: device %d requested, %d present", ErrNoDevice, ordinal, n)
	}
	if err := check("cuDeviceGet", drv.cuDeviceGet(&c.dev, int32(ordinal))); err != nil {
		return err
	}
	info := DeviceInfo{Ordinal: ordinal}
	name := make([]byte, 256)
	if err := check("cuDeviceGetName", drv.cuDeviceGetName(&name[0], int32(len(name)), c.dev)); err != nil {
		return err
	}
	for i, b := range name {
		if b == 0 {
			name = name[:i]
			break
		}
	}
	info.Name = string(name)
	for _, a := range []struct {
		attr DeviceAttribute
		dst  *int
	}{
		{AttrComputeCapabilityMajor, &info.Major},
		{AttrComputeCapabilityMinor, &info.Minor},
		{AttrMultiprocessorCount, &info.SMs},
		{AttrMaxSharedMemoryPerBlockOptin, &info.MaxSharedOptin},
	} {
		var v int32
		if err := check("cuDeviceGetAttribute", drv.cuDeviceGetAttribute(&v, a.attr, c.dev)); err != nil {
			return err
		}
		*a.dst = int(v)
	}
	if info.DriverVersion, err = DriverVersion(); err != nil {
		return err
	}
	c.Device = info
	if err := check("cuDevicePrimaryCtxRetain", drv.cuDevicePrimaryCtxRetain(&c.ctx, c.dev)); err != nil {
		return err
	}
	if err := check("cuCtxSetCurrent", drv.cuCtxSetCurrent(c.ctx)); err != nil {
		drv.cuDevicePrimaryCtxRelease(c.dev)
		return err
	}
	// Flags 0 (CU_STREAM_DEFAULT): the stream also orders itself after the
	// legacy default stream, which the synchronous cuMemset/cuMemFree use.
	if err := check("cuStreamCreate", drv.cuStreamCreate(&c.stream, 0)); err != nil {
		drv.cuDevicePrimaryCtxRelease(c.dev)
		return err
	}
	return nil
}

func (c *Context) teardown() {
	drv.cuStreamSynchronize(c.stream)
	drv.cuStreamDestroy(c.stream)
	drv.cuDevicePrimaryCtxRelease(c.dev)
}

// Do runs f on the context's thread and returns its error. Calls from several
// goroutines run one at a time, in arrival order.
func (c *Context) Do(f func(*Thread) error) error {
	reply := make(chan error, 1)
	select {
	case c.calls <- call{f: f, reply: reply}:
	case <-c.closed:
		return ErrClosed
	}
	return <-reply
}

// Close waits for queued work, destroys the stream and releases the primary
// context. Later calls to Do return ErrClosed.
func (c *Context) Close() {
	c.closeOnce.Do(func() {
		close(c.closed)
		<-c.done
	})
}
