package transformer

import (
	"math/rand/v2"
	"testing"

	"github.com/dllmgo/dllm/nn"
	"github.com/dllmgo/dllm/tensor"
)

// BenchmarkMoE compares, on 256 rows of width 256, the mixture grouped by
// expert (one GEMM per expert and projection) with the naive per-token
// loop (each row through its experts alone) and with a dense SwiGLU of the
// same active width (top-k × expert width).
func BenchmarkMoE(b *testing.B) {
	const n, h = 256, 256
	m := MoE{Experts: 16, TopK: 4, Intermediate: 128}
	c := llamaConfig()
	c.Hidden, c.Heads, c.Intermediate, c.SeparateQKV, c.MoE = h, 4, m.TopK*m.Intermediate, true, m
	rng := rand.New(rand.NewPCG(1, 2))
	fill := func(w Weights) {
		for _, p := range w.Params() {
			v := p.Value.F32()
			for i := range v {
				v[i] = float32(rng.NormFloat64() * 0.05)
			}
		}
	}
	l := Layer{Theta: 10000, MoE: true}
	moe := Block{Config: c, Layer: l, Weights: NewWeights(tensor.CPU(), c, l, moeNames)}
	fill(moe.Weights)
	dc := c
	dc.SeparateGateUp = true
	dense := Block{Config: dc, Layer: Layer{Theta: 10000}, Weights: NewWeights(tensor.CPU(), dc, Layer{Theta: 10000}, testNames)}
	fill(dense.Weights)
	x := nn.Constant(tensor.FromF32(randomF32(rng, n*h), n, h))

	b.Run("grouped", func(b *testing.B) {
		for b.Loop() {
			moe.moe(nn.NoGrad(tensor.CPU()), x)
		}
	})
	b.Run("per-token", func(b *testing.B) {
		for b.Loop() {
			tp := nn.NoGrad(tensor.CPU())
			probs := tp.Softmax(moe.Weights.Router.Forward(tp, x))
			route := Route(probs.Value.F32(), n, m.Experts, m.TopK)
			for i, e := range route.Experts {
				row := tp.GatherRows(x, tensor.FromI32([]int32{int32(i / m.TopK)}, 1))
				moe.Weights.Experts[e].forward(tp, row)
			}
		}
	})
	b.Run("dense same active width", func(b *testing.B) {
		for b.Loop() {
			dense.mlp(nn.NoGrad(tensor.CPU()), x)
		}
	})
}
