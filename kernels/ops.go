package kernels

import (
	"fmt"

	"github.com/dllmgo/dllm/kernels/cu"
)

// The op wrappers: each op's Go side is ops_<op>.go, beside its kernels in
// <op>.cu and its CPU twin tensor/cpu_<op>.go; its shape and dtype contract is
// tensor.Check<Op>, which every wrapper calls before it launches anything.
// This file holds what the wrappers share: launch shapes and the check for
// the device's own limits.

// threads is the block of the one-dimensional kernels.
var threads = cu.Dim3{X: 256, Y: 1, Z: 1}

// grid sizes a grid-stride launch over n elements: one element per thread up
// to 32 blocks per multiprocessor, then each thread loops.
func (b *Backend) grid(n int) cu.Dim3 {
	blocks := (n + threads.X - 1) / threads.X
	blocks = max(1, min(blocks, 32*max(1, b.dev.SMs)))
	return cu.Dim3{X: blocks, Y: 1, Z: 1}
}

// rowsGrid is one block per row.
func rowsGrid(rows int) cu.Dim3 { return cu.Dim3{X: rows, Y: 1, Z: 1} }

// check panics with the op's name when a limit of the CUDA backend is
// exceeded. The ops' contracts (shapes and dtypes) are package tensor's,
// shared with the CPU backend; this is for what only the device refuses.
func check(ok bool, op, format string, args ...any) {
	if !ok {
		panic(fmt.Sprintf("kernels: %s: %s", op, fmt.Sprintf(format, args...)))
	}
}
