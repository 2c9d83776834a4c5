package bert

import (
	"math"
	"math/rand/v2"

	"github.com/dllmgo/dllm/nn"
	"github.com/dllmgo/dllm/tensor"
)

// Init sets the weights as Hugging Face's ModernBertPreTrainedModel does:
// truncated normals cut at ±cutoff·σ with σ = initializer_range for inputs
// (Wqkv, Wi) and embeddings, σ = initializer_range/√(2L) for outputs (attn Wo,
// mlp Wo, head dense); norms 1, the decoder bias 0. The tied decoder is the
// embedding, so it is not drawn again.
func (m *Model) Init(rng *rand.Rand) {
	cfg := m.Config
	std := cfg.InitializerRange
	cutoff := cfg.InitializerCutoff
	if cutoff == 0 {
		cutoff = 3 // Hugging Face's default when the field is null
	}
	out := std / math.Sqrt(2*float64(cfg.NumLayers))
	draw := func(p *nn.Param, sigma float64) {
		v := make([]float32, p.Value.Numel())
		for i := range v {
			v[i] = float32(truncNormal(rng, sigma, cutoff))
		}
		m.b.Copy(p.Value, m.b.FromHost(tensor.FromF32(v, p.Value.Shape()...)))
	}
	draw(m.Embed.Weight, std)
	for _, l := range m.Layers {
		draw(l.Wqkv.W, std)
		draw(l.Wo.W, out)
		draw(l.Wi.W, std)
		draw(l.MLPWo.W, out)
	}
	draw(m.HeadDense.W, out)
	for _, ln := range m.norms() {
		m.b.Fill(ln.Weight.Value, 1)
	}
	m.b.Fill(m.DecoderBias.Value, 0)
}

func (m *Model) norms() []*nn.LayerNorm {
	ns := []*nn.LayerNorm{m.EmbedNorm, m.FinalNorm, m.HeadNorm}
	for _, l := range m.Layers {
		if l.AttnNorm != nil {
			ns = append(ns, l.AttnNorm)
		}
		ns = append(ns, l.MLPNorm)
	}
	return ns
}

// truncNormal draws from N(0, σ²) conditioned on |x| ≤ cutoff·σ, by
// rejection: at a cutoff of 2σ about 95% of draws are accepted.
func truncNormal(rng *rand.Rand, sigma, cutoff float64) float64 {
	for {
		x := rng.NormFloat64()
		if math.Abs(x) <= cutoff {
			return x * sigma
		}
	}
}
