package conformance

import (
	"fmt"
	"math"

	"github.com/dllmgo/dllm/tensor"
)

// attnCase is one attention geometry. mask: "none", "tail" (each sequence
// padded at the end to a random length), "holes" (random keys padded
// anywhere, including whole sequences: some queries then see no key). nkv
// is AttentionParams.KVHeads: 0 packs qkv as [B, S, 3, nh, d], anything else
// as [B, S, nh + 2·nkv, d]. blocks is block diffusion's pattern (Size 0:
// none), checked against a dense mask (refBlockMask); "head" padding pads
// each sequence at the start, as the block sampler's left-padded prompts.
type attnCase struct {
	name        string
	b, s, nh, d int
	window      int
	mask        string
	nkv         int
	blocks      tensor.BlockPattern
}

var attnCaseList = []attnCase{
	{"global, d odd", 2, 11, 2, 5, 0, "none", 0, tensor.BlockPattern{}},
	{"global, padded, a sequence all padding", 3, 9, 2, 8, 0, "holes", 0, tensor.BlockPattern{}},
	{"window 4 (|i−j| ≤ 2), S = 37 spans query blocks", 1, 37, 2, 6, 4, "holes", 0, tensor.BlockPattern{}},
	{"window larger than S", 2, 10, 1, 4, 100, "tail", 0, tensor.BlockPattern{}},
	{"window 1: each query sees only itself", 1, 9, 2, 3, 1, "holes", 0, tensor.BlockPattern{}},
	{"window 16, S = 70, 3 heads", 1, 70, 3, 16, 16, "none", 0, tensor.BlockPattern{}},
	{"ModernBERT head size 64, window 128, S = 150", 2, 150, 2, 64, 128, "tail", 0, tensor.BlockPattern{}},
	// Grouped-query attention: query head h uses KV head h/(nh/nkv).
	{"GQA nh = 4, nkv = 2, padded, a sequence all padding", 3, 9, 4, 8, 0, "holes", 2, tensor.BlockPattern{}},
	{"MQA nh = 3, nkv = 1, d odd, window 6", 2, 13, 3, 5, 6, "tail", 1, tensor.BlockPattern{}},
	{"GQA nh = 4, nkv = 4 packed [B, S, nh + 2·nkv, d]", 1, 8, 4, 4, 0, "none", 4, tensor.BlockPattern{}},
	{"GQA nh = 4, nkv = 1, window 16, S = 70 spans query blocks", 1, 70, 4, 16, 16, "holes", 1, tensor.BlockPattern{}},
	{"GQA nh = 6, nkv = 2, head size 64, window 128, S = 150", 1, 150, 6, 64, 128, "tail", 2, tensor.BlockPattern{}},
	{"GQA nh = 4, nkv = 2, head size 100 (the 128 class), S = 40", 1, 40, 4, 100, 0, "tail", 2, tensor.BlockPattern{}},
	// Block diffusion's patterns as structure (tensor.BlockPattern).
	{"BD3LM halves L = 10, blocks of 3, GQA, padded", 2, 20, 4, 8, 0, "tail", 2, tensor.BlockPattern{Size: 3, Half: 10}},
	{"BD3LM halves L = 5, blocks of 1", 1, 10, 2, 4, 0, "none", 0, tensor.BlockPattern{Size: 1, Half: 5}},
	{"BD3LM halves L = 37, blocks of 4, S = 74 spans query tiles, holes", 2, 74, 2, 16, 0, "holes", 0, tensor.BlockPattern{Size: 4, Half: 37}},
	{"BD3LM halves L = 75, blocks of 16, head size 64, window 40 in positions", 1, 150, 2, 64, 40, "tail", 1, tensor.BlockPattern{Size: 16, Half: 75}},
	{"block-causal, blocks of 4, left padding, S = 70", 2, 70, 2, 8, 0, "head", 0, tensor.BlockPattern{Size: 4}},
	{"block-causal, blocks of 32, head size 100, S = 100, GQA, window 50", 1, 100, 4, 100, 50, "head", 2, tensor.BlockPattern{Size: 32}},
}

// shape is the case's qkv shape.
func (c attnCase) shape() []int {
	if c.nkv == 0 {
		return []int{c.b, c.s, 3, c.nh, c.d}
	}
	return []int{c.b, c.s, c.nh + 2*c.nkv, c.d}
}

// draw makes the case's qkv and mask; mask is nil for "none".
func (e *env) drawAttention(c attnCase) (qkv host, mask []int, g attnGeom) {
	// q and k with standard deviation 1.4 give scores of standard deviation
	// about 2 after the 1/√d scaling: peaked but not one-hot softmaxes.
	qkv = e.normal(1.4, c.shape()...)
	switch c.mask {
	case "tail":
		mask = make([]int, c.b*c.s)
		for bi := range c.b {
			n := 1 + e.rng.IntN(c.s)
			for j := range n {
				mask[bi*c.s+j] = 1
			}
		}
	case "head":
		mask = make([]int, c.b*c.s)
		for bi := range c.b {
			n := e.rng.IntN(c.s)
			for j := n; j < c.s; j++ {
				mask[bi*c.s+j] = 1
			}
		}
	case "holes":
		mask = make([]int, c.b*c.s)
		for i := range mask {
			if e.rng.Float64() < 0.7 {
				mask[i] = 1
			}
		}
		if c.b > 1 {
			for j := range c.s { // the second sequence is all padding
				mask[c.s+j] = 0
			}
		}
	}
	g = attnGeom{b: c.b, s: c.s, nh: c.nh, nkv: c.nkv, d: c.d, scale: 1 / math.Sqrt(float64(c.d)), window: c.window, mask: mask}
	if c.blocks.Size > 0 {
		g.allow, g.pos = refBlockMask(c.s, c.blocks.Size, c.blocks.Half)
	}
	return qkv, mask, g
}

func (c attnCase) params(bf16 bool) tensor.AttentionParams {
	return tensor.AttentionParams{Heads: c.nh, KVHeads: c.nkv, Scale: float32(1 / math.Sqrt(float64(c.d))), Window: c.window, Blocks: c.blocks, BF16: bf16}
}

func maskTensor(mask []int, b, s int) *tensor.Tensor {
	if mask == nil {
		return nil
	}
	return i32s(mask, b, s)
}

func attentionCases() []testCase { return attentionChecks("") }

// bf16AttentionCases are the same checks with AttentionParams.BF16 set; their
// ops are named AttentionBF16 and AttentionBackwardBF16, bounded by tol.BF16.
func bf16AttentionCases() []testCase { return attentionChecks("BF16") }

// attentionChecks builds the attention cases; suffix "BF16" sets
// AttentionParams.BF16 and names the ops (and so their tolerance) after it.
func attentionChecks(suffix string) []testCase {
	bf16 := suffix == "BF16"
	fwd, bwd := "Attention"+suffix, "AttentionBackward"+suffix
	return []testCase{
		{fwd, func(e *env) error {
			var trs []trial
			for _, c := range attnCaseList {
				qkv, mask, g := e.drawAttention(c)
				g.scale = float64(c.params(bf16).Scale)
				out, lse := refAttention(qkv.v, g)
				mt := maskTensor(mask, c.b, c.s)
				trs = append(trs, trial{name: c.name, op: fwd, run: func(b tensor.Backend) []*tensor.Tensor {
					o, l := poisoned(b, c.b, c.s, c.nh, c.d), poisoned(b, c.b, c.nh, c.s)
					b.Attention(o, l, up(b, qkv.t), up(b, mt), c.params(bf16))
					return []*tensor.Tensor{o, l}
				}, outs: []expect{{name: "out", want: out}, {name: "lse", want: lse}}})
			}
			// lse may be nil at inference.
			c := attnCaseList[2]
			qkv, mask, g := e.drawAttention(c)
			g.scale = float64(c.params(bf16).Scale)
			out, _ := refAttention(qkv.v, g)
			mt := maskTensor(mask, c.b, c.s)
			trs = append(trs, trial{name: "no lse", op: fwd, run: func(b tensor.Backend) []*tensor.Tensor {
				o := poisoned(b, c.b, c.s, c.nh, c.d)
				b.Attention(o, nil, up(b, qkv.t), up(b, mt), c.params(bf16))
				return []*tensor.Tensor{o}
			}, outs: []expect{{name: "out", want: out}}})
			return e.collect(trs...)
		}},
		{bwd, func(e *env) error {
			var trs []trial
			for _, c := range attnCaseList {
				qkv, mask, g := e.drawAttention(c)
				g.scale = float64(c.params(bf16).Scale)
				dout := e.normal(1, c.b, c.s, c.nh, c.d)
				out, lse := refAttention(qkv.v, g)
				var want []float64
				how := "finite differences"
				if len(qkv.v) <= 3000 {
					want = NumericalGradient(projected(dout.v, func(v []float64) []float64 {
						o, _ := refAttention(v, g)
						return o
					}), qkv.v)
				} else {
					want, how = refAttentionBackward(qkv.v, dout.v, g), "analytic"
				}
				d0 := e.seedGrad(want, c.shape()...)
				mt := maskTensor(mask, c.b, c.s)
				outT, lseT := roundF32(out, c.b, c.s, c.nh, c.d), roundF32(lse, c.b, c.nh, c.s)
				trs = append(trs, trial{name: fmt.Sprintf("%s (%s)", c.name, how), op: bwd, run: func(b tensor.Backend) []*tensor.Tensor {
					dqkv := up(b, d0.t)
					b.AttentionBackward(dqkv, up(b, dout.t), up(b, qkv.t), up(b, outT), up(b, lseT), up(b, mt), c.params(bf16))
					return []*tensor.Tensor{dqkv}
				}, outs: []expect{{name: "dqkv", want: plus(d0.v, want), base: d0.v}}})
			}
			return e.collect(trs...)
		}},
	}
}
