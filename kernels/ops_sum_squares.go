package kernels

import (
	"unsafe"

	"github.com/dllmgo/dllm/kernels/cu"
	"github.com/dllmgo/dllm/tensor"
)

// SumSquares: sum_squares.cu.

// SumSquares returns Σ x², accumulated in float64. It waits for queued work.
func (b *Backend) SumSquares(x *tensor.Tensor) float64 {
	const op = "SumSquares"
	tensor.CheckSumSquares(x)
	n := x.Numel()
	if n == 0 {
		return 0
	}
	px := b.ptr(op, x)
	var sum float64
	grid := b.grid(n)
	if b.dry != nil {
		b.dry.launch("sum_squares.cu", "sum_squares_f32", grid, threads, 0, []any{cu.DevicePtr(0), px, int64(n)})
		return 0
	}
	b.do(func(th *cu.Thread) error {
		if b.scratch == nil {
			blk, err := b.alloc.get(th, 8)
			if err != nil {
				return err
			}
			b.scratch = blk
		}
		out := b.scratch.ptr
		if err := th.MemsetD8(out, 0, 8); err != nil {
			return err
		}
		f, err := b.function(th, "sum_squares.cu", "sum_squares_f32", 0)
		if err != nil {
			return err
		}
		if err := th.LaunchKernel(f, grid, threads, 0, out, px, int64(n)); err != nil {
			return err
		}
		return th.CopyDtoH(unsafe.Pointer(&sum), out, 8)
	})
	b.mustBeHealthy(op)
	return sum
}
