package kernels

import (
	"unsafe"

	"github.com/dllmgo/dllm/kernels/cu"
	"github.com/dllmgo/dllm/tensor"
)

// SumSquares: sum_squares.cu.

// SumSquares returns Σ x² over all of xs, accumulated in float64: one
// kernel per tensor, all adding into one device double, and one wait for the
// result, so a global gradient norm costs one synchronisation however many
// parameters the model has.
func (b *Backend) SumSquares(xs ...*tensor.Tensor) float64 {
	const op = "SumSquares"
	tensor.CheckSumSquares(xs...)
	type launch struct {
		px   cu.DevicePtr
		n    int64
		grid cu.Dim3
	}
	var ls []launch
	for _, x := range xs {
		if n := x.Numel(); n > 0 {
			ls = append(ls, launch{b.ptr(op, x), int64(n), b.grid(n)})
		}
	}
	if len(ls) == 0 {
		return 0
	}
	var sum float64
	if b.dry != nil {
		for _, l := range ls {
			b.dry.launch("sum_squares.cu", "sum_squares_f32", l.grid, threads, 0, []any{cu.DevicePtr(0), l.px, l.n})
		}
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
		for _, l := range ls {
			if err := th.LaunchKernel(f, l.grid, threads, 0, out, l.px, l.n); err != nil {
				return err
			}
		}
		return th.CopyDtoH(unsafe.Pointer(&sum), out, 8)
	})
	b.mustBeHealthy(op)
	return sum
}
