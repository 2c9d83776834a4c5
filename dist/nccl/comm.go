package nccl

import (
	"fmt"

	"github.com/dllmgo/dllm/dist"
	"github.com/dllmgo/dllm/kernels"
	"github.com/dllmgo/dllm/kernels/cu"
	"github.com/dllmgo/dllm/tensor"
)

// Comm is a dist.Comm whose tensor collectives run on NCCL between the
// GPUs of the ranks, and whose other calls (rank, size, bytes, barrier,
// abort) go over MPI.
type Comm struct {
	mpi  *dist.MPI
	lib  *Lib
	be   *kernels.Backend
	comm Handle
}

var (
	_ dist.Comm    = (*Comm)(nil)
	_ dist.Grouper = (*Comm)(nil)
)

// New builds the NCCL communicator of the ranks of m on be's GPU: rank 0's
// unique id is broadcast over MPI and every rank joins with it.
func New(m *dist.MPI, be tensor.Backend) (*Comm, error) {
	kb, ok := be.(*kernels.Backend)
	if !ok {
		return nil, fmt.Errorf("nccl: backend %s is not the CUDA backend", be.Name())
	}
	lib, err := Load()
	if err != nil {
		return nil, err
	}
	var id UniqueID
	if m.Rank() == 0 {
		if id, err = lib.GetUniqueID(); err != nil {
			return nil, err
		}
	}
	if err := m.BroadcastBytes(id.Internal[:], 0); err != nil {
		return nil, err
	}
	c := &Comm{mpi: m, lib: lib, be: kb}
	err = kb.OnStream(nil, func(th *cu.Thread, _ cu.Stream, _ []cu.DevicePtr) error {
		h, err := lib.CommInitRank(m.Size(), id, m.Rank())
		c.comm = h
		return err
	})
	if err != nil {
		return nil, err
	}
	return c, nil
}

func (c *Comm) Name() string { return "nccl" }
func (c *Comm) Rank() int    { return c.mpi.Rank() }
func (c *Comm) Size() int    { return c.mpi.Size() }

func (c *Comm) String() string {
	return fmt.Sprintf("%d processes, gradients over NCCL (%s), the rest over MPI (%s)", c.Size(), c.lib.Path, c.mpi.Lib.Path)
}

func (c *Comm) check(op string, t *tensor.Tensor) error {
	if t.Backend() != tensor.Backend(c.be) || t.DType() != tensor.F32 {
		return fmt.Errorf("nccl: %s of %v: NCCL reduces float32 tensors of the CUDA backend", op, t)
	}
	return nil
}

// AllReduceSum enqueues the sum on the backend's stream, behind the
// kernels that computed t; the next read of t waits for it.
func (c *Comm) AllReduceSum(t *tensor.Tensor) error {
	if err := c.check("all-reduce", t); err != nil {
		return err
	}
	return c.be.OnStream([]*tensor.Tensor{t}, func(_ *cu.Thread, s cu.Stream, p []cu.DevicePtr) error {
		return c.lib.AllReduceSum(p[0], t.Numel(), c.comm, s)
	})
}

func (c *Comm) Broadcast(t *tensor.Tensor, root int) error {
	if err := c.check("broadcast", t); err != nil {
		return err
	}
	return c.be.OnStream([]*tensor.Tensor{t}, func(_ *cu.Thread, s cu.Stream, p []cu.DevicePtr) error {
		return c.lib.Broadcast(p[0], t.Numel(), root, c.comm, s)
	})
}

// Group runs f, whose collectives NCCL then launches as one (ncclGroupStart
// and ncclGroupEnd on the context's thread, where f's calls run too).
func (c *Comm) Group(f func() error) error {
	err := c.be.OnStream(nil, func(*cu.Thread, cu.Stream, []cu.DevicePtr) error { return c.lib.GroupStart() })
	if err != nil {
		return err
	}
	ferr := f()
	err = c.be.OnStream(nil, func(*cu.Thread, cu.Stream, []cu.DevicePtr) error { return c.lib.GroupEnd() })
	if ferr != nil {
		return ferr
	}
	return err
}

func (c *Comm) BroadcastBytes(b []byte, root int) error { return c.mpi.BroadcastBytes(b, root) }
func (c *Comm) Barrier() error                          { return c.mpi.Barrier() }
func (c *Comm) Abort(code int)                          { c.mpi.Abort(code) }

// Close destroys the NCCL communicator and finalizes MPI.
func (c *Comm) Close() error {
	err := c.be.OnStream(nil, func(*cu.Thread, cu.Stream, []cu.DevicePtr) error { return c.lib.CommDestroy(c.comm) })
	if ferr := c.mpi.Close(); err == nil {
		err = ferr
	}
	return err
}
