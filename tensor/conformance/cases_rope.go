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
	rotary  int               // RoPEParams.RotaryDim
	llama3  tensor.RoPELlama3 // RoPEParams.Llama3
	maxPos  int               // positions drawn from [0, maxPos)
	layout  string            // "random" (from [0, maxPos)), "ordered" (0, 1, 2, ... per sequence of 7), "left-padded"
	seqLen  int               // left-padded: tokens per sequence
	padding []int             // left-padded: leading pad tokens of each sequence
}

// llama31 is Llama 3.1's rope_scaling.
var llama31 = tensor.RoPELlama3{Factor: 8, LowFreqFactor: 1, HighFreqFactor: 4, OriginalMaxPositions: 8192}

var ropeCaseList = []ropeCase{
	{name: "packed QKV [B·S, 3·nh, d], Heads = 2·nh", shape: []int{2 * 7, 3 * 2, 8}, heads: 4, theta: 10000, layout: "ordered"},
	{name: "all heads (Heads = 0), θ = 160000, positions to 8191", shape: []int{5, 3, 16}, theta: 160000, maxPos: 8192, layout: "random"},
	{name: "rank 4 [B, S, nh, d], d = 2", shape: []int{2, 7, 3, 2}, theta: 10000, layout: "ordered"},
	{name: "d = 64 as ModernBERT, Heads = nh", shape: []int{3, 2, 64}, heads: 1, theta: 160000, maxPos: 5000, layout: "random"},
	// Left padding: each sequence's real tokens count from 0 after its pad
	// tokens, which all sit at position 0, so rows of one position repeat
	// and the sequences start at different offsets.
	{name: "left-padded positions, grouped QKV [B·S, nh + 2·nkv, d], Heads = nh + nkv", shape: []int{3 * 6, 4 + 2*2, 8}, heads: 6,
		theta: 10000, layout: "left-padded", seqLen: 6, padding: []int{0, 2, 5}},
	{name: "partial rotary 8 of d = 24, left-padded", shape: []int{2 * 5, 3, 24}, heads: 2, theta: 10000, rotary: 8,
		layout: "left-padded", seqLen: 5, padding: []int{3, 1}},
	{name: "partial rotary 2 of d = 6 (one pair), positions to 3000", shape: []int{4, 2, 6}, theta: 10000, rotary: 2, maxPos: 3000, layout: "random"},
	{name: "partial rotary 32 of d = 128 (Phi-style quarter)", shape: []int{3, 2, 128}, theta: 10000, rotary: 32, maxPos: 4096, layout: "random"},
	// θ = 500000, d = 64: wavelengths from 6.3 to 2·10⁶ positions, so the
	// frequencies fall into all three bands (k ≤ 14 unchanged, 15..17
	// blended, k ≥ 18 slowed by 8).
	{name: "Llama 3.1 scaling, d = 64, θ = 500000, positions to 20000", shape: []int{6, 2, 64}, theta: 500000, llama3: llama31,
		maxPos: 20000, layout: "random"},
	{name: "Llama 3 scaling on partial rotary 12 of 16, L = 64, every band", shape: []int{2 * 5, 2, 16}, theta: 10000, rotary: 12,
		llama3: tensor.RoPELlama3{Factor: 4, LowFreqFactor: 1, HighFreqFactor: 4, OriginalMaxPositions: 64},
		layout: "left-padded", seqLen: 5, padding: []int{0, 3}},
}

func (c ropeCase) params() tensor.RoPEParams {
	return tensor.RoPEParams{Theta: c.theta, Heads: c.heads, RotaryDim: c.rotary, Llama3: c.llama3}
}

// positions returns one position per row.
func (e *env) positions(c ropeCase) []int {
	rows := tensor.Numel(c.shape[:len(c.shape)-2])
	pos := make([]int, rows)
	for r := range pos {
		switch c.layout {
		case "ordered":
			pos[r] = r % 7
		case "left-padded":
			pos[r] = max(0, r%c.seqLen-c.padding[r/c.seqLen])
		default:
			pos[r] = e.rng.IntN(c.maxPos)
		}
	}
	return pos
}

func (c ropeCase) dims() (heads, rotated, d int, f ropeFreq) {
	heads, d = c.shape[len(c.shape)-2], c.shape[len(c.shape)-1]
	rotated = c.heads
	if rotated == 0 {
		rotated = heads
	}
	f = ropeFreq{theta: c.theta, r: d, llama3: c.llama3}
	if c.rotary != 0 {
		f.r = c.rotary
	}
	return heads, rotated, d, f
}

func ropeCases() []testCase {
	return []testCase{
		{"RoPE", func(e *env) error {
			var trs []trial
			for _, c := range ropeCaseList {
				x, pos := e.normal(1, c.shape...), e.positions(c)
				heads, rotated, d, f := c.dims()
				p := c.params()
				trs = append(trs, trial{name: c.name, op: "RoPE", run: func(b tensor.Backend) []*tensor.Tensor {
					dst := poisoned(b, c.shape...)
					b.RoPE(dst, up(b, x.t), up(b, i32s(pos, len(pos))), p)
					return []*tensor.Tensor{dst}
				}, outs: []expect{{name: "dst", want: refRoPE(x.v, pos, heads, rotated, d, f, 1)}}})
			}
			// In place, as a fused QKV split would run it; partial rotary
			// leaves the pass-through features where they are.
			for _, c := range []ropeCase{ropeCaseList[0], ropeCaseList[5]} {
				x, pos := e.normal(1, c.shape...), e.positions(c)
				heads, rotated, d, f := c.dims()
				trs = append(trs, trial{name: "in place: " + c.name, op: "RoPE", run: func(b tensor.Backend) []*tensor.Tensor {
					t := up(b, x.t)
					b.RoPE(t, t, up(b, i32s(pos, len(pos))), c.params())
					return []*tensor.Tensor{t}
				}, outs: []expect{{name: "dst", want: refRoPE(x.v, pos, heads, rotated, d, f, 1)}}})
			}
			return e.collect(trs...)
		}},
		{"RoPEBackward", func(e *env) error {
			var trs []trial
			for _, c := range ropeCaseList {
				x, dy, pos := e.normal(1, c.shape...), e.normal(1, c.shape...), e.positions(c)
				heads, rotated, d, f := c.dims()
				want := NumericalGradient(projected(dy.v, func(v []float64) []float64 {
					return refRoPE(v, pos, heads, rotated, d, f, 1)
				}), x.v)
				d0 := e.seedGrad(want, c.shape...)
				p := c.params()
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
