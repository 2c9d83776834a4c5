package kernels

import (
	"math"
	"unsafe"

	"github.com/dllmgo/dllm/kernels/cu"
	"github.com/dllmgo/dllm/tensor"
)

// adamW's scalars, computed as the CPU reference computes them (float64 from
// the step count, then rounded to float32).
type adamWScalars struct{ decay, step, bc2Sqrt, w1, w2 float32 }

func adamScalars(p tensor.AdamWParams) adamWScalars {
	t := float64(p.Step)
	return adamWScalars{
		decay:   float32(1 - float64(p.LR)*float64(p.WeightDecay)),
		step:    float32(float64(p.LR) / (1 - math.Pow(float64(p.Beta1), t))),
		bc2Sqrt: float32(math.Sqrt(1 - math.Pow(float64(p.Beta2), t))),
		w1:      float32(1 - float64(p.Beta1)),
		w2:      float32(1 - float64(p.Beta2)),
	}
}

// rowSum sets dst to the sums (mean: the means) of the rows of src.
func (b *Backend) rowSum(op string, dst, src *tensor.Tensor, rows, d int, mean bool) {
	if rows == 0 {
		return
	}
	if d == 0 {
		b.Fill(dst, 0)
		return
	}
	divisor := float32(1)
	if mean {
		divisor = float32(d)
	}
	b.launch("sum_last_axis.cu", "sum_last_axis_f32", rowsGrid(rows), threads, 0,
		b.ptr(op, dst), b.ptr(op, src), int32(d), divisor)
}

// SumLastAxis sets dst [N] to the row sums of src [N, D].
func (b *Backend) SumLastAxis(dst, src *tensor.Tensor) {
	rows, d := tensor.CheckSumLastAxis(dst, src)
	b.rowSum("SumLastAxis", dst, src, rows, d, false)
}

// MeanLastAxis sets dst [N] to the row means of src [N, D].
func (b *Backend) MeanLastAxis(dst, src *tensor.Tensor) {
	rows, d := tensor.CheckMeanLastAxis(dst, src)
	b.rowSum("MeanLastAxis", dst, src, rows, d, true)
}

// colBlocks sizes the 32-column × 8-lane grid of the column sums: enough
// row chunks to fill the device, each chunk at least 64 rows.
func (b *Backend) colBlocks(rows, d int) cu.Dim3 {
	x := (d + 31) / 32
	y := max(1, min((rows+63)/64, (4*max(1, b.dev.SMs)+x-1)/x))
	return cu.Dim3{X: x, Y: y, Z: 1}
}

var colThreads = cu.Dim3{X: 32, Y: 8, Z: 1}

// SumRows adds the column sums of src [N, D] into dst [D].
func (b *Backend) SumRows(dst, src *tensor.Tensor) {
	const op = "SumRows"
	rows, d := tensor.CheckSumRows(dst, src)
	if rows == 0 || d == 0 {
		return
	}
	b.launch("sum_rows.cu", "sum_rows_f32", b.colBlocks(rows, d), colThreads, 0,
		b.ptr(op, dst), b.ptr(op, src), int64(rows), int32(d))
}

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

// Softmax sets dst to softmax over the last axis of src.
func (b *Backend) Softmax(dst, src *tensor.Tensor) {
	const op = "Softmax"
	rows, d := tensor.CheckSoftmax(dst, src)
	if rows == 0 || d == 0 {
		return
	}
	b.launch("softmax.cu", "softmax_f32", rowsGrid(rows), threads, 0, b.ptr(op, dst), b.ptr(op, src), int32(d))
}

// LayerNorm normalises the rows of x: y = (x−μ)/√(σ²+eps)·gamma (+beta).
func (b *Backend) LayerNorm(y, mean, rstd, x, gamma, beta *tensor.Tensor, eps float32) {
	const op = "LayerNorm"
	rows, d := tensor.CheckLayerNorm(y, mean, rstd, x, gamma, beta)
	if rows == 0 {
		return
	}
	b.launch("layernorm.cu", "layernorm_fwd_f32", rowsGrid(rows), threads, 0,
		b.ptr(op, y), b.ptr(op, mean), b.ptr(op, rstd), b.ptr(op, x), b.ptr(op, gamma), b.ptr(op, beta),
		int32(d), eps)
}

// LayerNormBackward adds the gradients of LayerNorm into dx, dgamma and
// dbeta (dbeta may be nil).
func (b *Backend) LayerNormBackward(dx, dgamma, dbeta, dy, x, mean, rstd, gamma *tensor.Tensor) {
	const op = "LayerNormBackward"
	rows, d := tensor.CheckLayerNormBackward(dx, dgamma, dbeta, dy, x, mean, rstd, gamma)
	if rows == 0 {
		return
	}
	pdy, px, pm, pr := b.ptr(op, dy), b.ptr(op, x), b.ptr(op, mean), b.ptr(op, rstd)
	b.launch("layernorm.cu", "layernorm_bwd_dx_f32", rowsGrid(rows), threads, 0,
		b.ptr(op, dx), pdy, px, pm, pr, b.ptr(op, gamma), int32(d))
	b.launch("layernorm.cu", "layernorm_bwd_params_f32", b.colBlocks(rows, d), colThreads, 0,
		b.ptr(op, dgamma), b.ptr(op, dbeta), pdy, px, pm, pr, int64(rows), int32(d))
}
