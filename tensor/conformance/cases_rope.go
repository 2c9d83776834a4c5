package conformance

import (
	"fmt"

	"github.com/dllmgo/dllm/tensor"
)

type ropeCase struct {
	name    string
	shape   []int // [..., heads, d]
	heads   int   // RoPEParams.Heads
	theta   float64
	maxPos  int  // positions drawn from [0, maxPos)
	ordered bool // positions 0, 1, 2, ... per sequence of 7 instead
}

var ropeCaseList = []ropeCase{
	{"packed QKV [B·S, 3·nh, d], Heads = 2·nh", []int{2 * 7, 3 * 2, 8}, 4, 10000, 0, true},
	{"all heads (Heads = 0), θ = 160000, positions to 8191", []int{5, 3, 16}, 0, 160000, 8192, false},
	{"rank 4 [B, S, nh, d], d = 2", []int{2, 7, 3, 2}, 0, 10000, 0, true},
	{"d = 64 as ModernBERT, Heads = nh", []int{3, 2, 64}, 1, 160000, 5000, false},
}

// positions returns one position per row.
func (e *env) positions(c ropeCase) []int {
	rows := tensor.Numel(c.shape[:len(c.shape)-2])
	pos := make([]int, rows)
	for r := range pos {
		if c.ordered {
			pos[r] = r % 7
		} else {
			pos[r] = e.rng.IntN(c.maxPos)
		}
	}
	return pos
}

func (c ropeCase) dims() (heads, rotated, d int) {
	heads, d = c.shape[len(c.shape)-2], c.shape[len(c.shape)-1]
	rotated = c.heads
	if rotated == 0 {
		rotated = heads
	}
	return heads, rotated, d
}

func ropeCases() []testCase {
	return []testCase{
		{"RoPE", func(e *env) error {
			var trs []trial
			for _, c := range ropeCaseList {
				x, pos := e.normal(1, c.shape...), e.positions(c)
				heads, rotated, d := c.dims()
				p := tensor.RoPEParams{Theta: c.theta, Heads: c.heads}
				trs = append(trs, trial{name: c.name, op: "RoPE", run: func(b tensor.Backend) []*tensor.Tensor {
					dst := poisoned(b, c.shape...)
					b.RoPE(dst, up(b, x.t), up(b, i32s(pos, len(pos))), p)
					return []*tensor.Tensor{dst}
				}, outs: []expect{{name: "dst", want: refRoPE(x.v, pos, heads, rotated, d, c.theta, 1)}}})
			}
			// In place, as a fused QKV split would run it.
			c := ropeCaseList[0]
			x, pos := e.normal(1, c.shape...), e.positions(c)
			heads, rotated, d := c.dims()
			trs = append(trs, trial{name: "in place", op: "RoPE", run: func(b tensor.Backend) []*tensor.Tensor {
				t := up(b, x.t)
				b.RoPE(t, t, up(b, i32s(pos, len(pos))), tensor.RoPEParams{Theta: c.theta, Heads: c.heads})
				return []*tensor.Tensor{t}
			}, outs: []expect{{name: "dst", want: refRoPE(x.v, pos, heads, rotated, d, c.theta, 1)}}})
			return e.collect(trs...)
		}},
		{"RoPEBackward", func(e *env) error {
			var trs []trial
			for _, c := range ropeCaseList {
				x, dy, pos := e.normal(1, c.shape...), e.normal(1, c.shape...), e.positions(c)
				heads, rotated, d := c.dims()
				want := NumericalGradient(projected(dy.v, func(v []float64) []float64 {
					return refRoPE(v, pos, heads, rotated, d, c.theta, 1)
				}), x.v)
				d0 := e.seedGrad(want, c.shape...)
				p := tensor.RoPEParams{Theta: c.theta, Heads: c.heads}
				trs = append(trs, trial{name: fmt.Sprint(c.name), op: "RoPEBackward", run: func(b tensor.Backend) []*tensor.Tensor {
					dsrc := up(b, d0.t)
					b.RoPEBackward(dsrc, up(b, dy.t), up(b, i32s(pos, len(pos))), p)
					return []*tensor.Tensor{dsrc}
				}, outs: []expect{{name: "dsrc", want: plus(d0.v, want), base: d0.v}}})
			}
			return e.collect(trs...)
		}},
	}
}
