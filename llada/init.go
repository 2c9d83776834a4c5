package llada

import (
	"math"
	"math/rand/v2"

	"github.com/dllmgo/dllm/nn"
	"github.com/dllmgo/dllm/tensor"
)

// Init draws fresh weights in the manner of OLMo's "normal" initialisation,
// the simplest of the schemes LLaDA's code offers: every Linear and the
// embeddings from N(0, σ²) with σ = init_std, truncated at ±3σ; the
// projections that write into the residual stream (attn_out and the
// blocks' ff_out) with σ/√(2·n_layers), so that the stream's variance does
// not grow with depth; norms 1, biases 0. (The released checkpoints were
// pretrained from the "mitchell" scheme; a fresh model here is for training
// from scratch, where the difference is one of scale.)
func (m *Model) Init(rng *rand.Rand) {
	std := m.Config.InitStd
	if std <= 0 {
		std = 0.02
	}
	out := std / math.Sqrt(2*float64(m.Config.NLayers))
	draw := func(p *nn.Param, sigma float64) {
		v := make([]float32, p.Value.Numel())
		for i := range v {
			x := rng.NormFloat64()
			for math.Abs(x) > 3 {
				x = rng.NormFloat64()
			}
			v[i] = float32(x * sigma)
		}
		m.b.Copy(p.Value, m.b.FromHost(tensor.FromF32(v, p.Value.Shape()...)))
	}
	linear := func(l *nn.Linear, sigma float64) {
		if l == nil {
			return
		}
		draw(l.W, sigma)
		if l.B != nil {
			m.b.Fill(l.B.Value, 0)
		}
	}
	draw(m.Embed.Weight, std)
	for _, w := range m.Blocks {
		for _, l := range []*nn.Linear{w.Q, w.K, w.V, w.Gate, w.Up} {
			linear(l, std)
		}
		linear(w.O, out)
		linear(w.Down, out)
		m.b.Fill(w.AttnNorm.Params()[0].Value, 1)
		m.b.Fill(w.MLPNorm.Params()[0].Value, 1)
	}
	m.b.Fill(m.Final.Weight.Value, 1)
	linear(m.Head, std)
}
