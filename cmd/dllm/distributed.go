package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/dllmgo/dllm/dist"
	"github.com/dllmgo/dllm/dist/nccl"
	"github.com/dllmgo/dllm/kernels"
	"github.com/dllmgo/dllm/kernels/cu"
	"github.com/dllmgo/dllm/tensor"
	"github.com/dllmgo/dllm/train"
)

// Data-parallel training: `mpirun -np N dllm sft ...` (or srun) starts N
// copies of the command; each finds it was launched (dist.Launched),
// initialises MPI, and trains on its share of every global batch. Only rank
// 0 prints and writes. A rank that fails prints one line and aborts the
// whole job (MPI_Abort), so no rank waits forever in a collective.

// activeComm is the communicator of this process when an MPI launcher
// started it; run finalizes it, or aborts the job on a failure.
var activeComm dist.Comm

// startDist joins the job when a launcher started this process, choosing
// the GPU of this rank first for --device cuda. It returns nil without a
// launcher.
func startDist(device string) (*dist.MPI, error) {
	if !dist.Launched() {
		return nil, nil
	}
	m, err := dist.NewMPI()
	if err != nil {
		return nil, fmt.Errorf("started by an MPI launcher, but: %w", err)
	}
	activeComm = m
	if device == "cuda" {
		if err := pickGPU(m); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// pickGPU gives rank r the GPU (local rank) mod (visible GPUs): the
// launcher's local rank where it says, else the global rank. A launcher or
// user that sets CUDA_VISIBLE_DEVICES per rank to one GPU gets that one.
func pickGPU(m *dist.MPI) error {
	n, err := cu.DeviceCount()
	if err != nil || n == 0 {
		return nil // openDevice reports the missing GPU
	}
	r, ok := dist.LocalRank()
	if !ok {
		r = m.Rank()
	}
	return kernels.UseDevice(r % n)
}

// commFor is the Comm the trainer uses on be: MPI for CPU tensors, NCCL
// (over MPI) for CUDA tensors when there is more than one rank.
func commFor(m *dist.MPI, be tensor.Backend) (dist.Comm, error) {
	if be.Name() != "cuda" || m.Size() == 1 {
		return m, nil
	}
	c, err := nccl.New(m, be)
	if err != nil {
		return nil, fmt.Errorf("--device cuda with %d ranks reduces gradients with NCCL: %w", m.Size(), err)
	}
	activeComm = c
	return c, nil
}

// quiet returns w on rank 0 and io.Discard on the others, so that a job
// prints its progress once.
func quiet(w io.Writer) io.Writer {
	if activeComm != nil && activeComm.Rank() != 0 {
		return io.Discard
	}
	return w
}

// globalBatchLine says how a step's batch is made.
func globalBatchLine(f *trainFlags) string {
	n := 1
	how := "1 process"
	if activeComm != nil {
		n = activeComm.Size()
		how = fmt.Sprint(activeComm)
	}
	ranks := "ranks"
	if n == 1 {
		ranks = "rank"
	}
	return fmt.Sprintf("global batch: %d sequences per step (--batch-size %d x --grad-accum %d x %d %s; %s)",
		f.batchSize*f.gradAccum*n, f.batchSize, f.gradAccum, n, ranks, how)
}

// abortGrace is how long a failed rank other than 0 waits before it
// reports and aborts.
const abortGrace = 2 * time.Second

// finishDist ends this rank's part of the job after its command returned
// err with exit status code: a clean end finalizes MPI; a failure (an
// interrupted run excepted: every rank saw the same stop) prints one line
// naming the rank and aborts every rank.
func finishDist(name string, err error, code int, stderr io.Writer) int {
	c := activeComm
	if c == nil {
		return code
	}
	if err == nil || errors.Is(err, errHelp) || errors.Is(err, train.ErrInterrupted) {
		if cerr := c.Close(); cerr != nil && code == 0 {
			fmt.Fprintf(stderr, "dllm %s: rank %d: %v\n", name, c.Rank(), cerr)
			return 1
		}
		return code
	}
	if c.Rank() != 0 {
		// Most failures (bad input above all) happen on every rank at
		// once: give rank 0 a moment to print the one line and end the
		// job, and speak only if it did not.
		time.Sleep(abortGrace)
	}
	fmt.Fprintf(stderr, "dllm %s: rank %d of %d: %v\n", name, c.Rank(), c.Size(), err)
	if s, ok := stderr.(*os.File); ok {
		s.Sync()
	}
	c.Abort(code)
	return code
}
