package bert

import (
	"fmt"
	"math"

	"github.com/dllmgo/dllm/lm"
	"github.com/dllmgo/dllm/nn"
	"github.com/dllmgo/dllm/tensor"
)

// Layer is one pre-norm encoder layer:
//
//	h = h + Wo·Attention(RoPE(Wqkv·AttnNorm(h)))
//	h = h + MLPWo·GeGLU(Wi·MLPNorm(h))
//
// Layer 0 has no AttnNorm: the embeddings were just normalised.
type Layer struct {
	AttnNorm *nn.LayerNorm // nil on layer 0
	Wqkv     *nn.Linear    // [3H, H]: rows Q, K, V, each head-major
	Wo       *nn.Linear    // [H, H]
	MLPNorm  *nn.LayerNorm
	Wi       *nn.Linear // [2I, H]: first half through GELU, second half the gate
	MLPWo    *nn.Linear // [H, I]
	// Global layers attend everywhere with the global RoPE theta; the others
	// see a sliding window of local_attention/2 on each side.
	Global bool
}

// Model is ModernBertForMaskedLM: the encoder plus the masked-LM head whose
// decoder is tied to the token embeddings.
type Model struct {
	Config    Config
	Embed     *nn.Embedding
	EmbedNorm *nn.LayerNorm
	Layers    []*Layer
	FinalNorm *nn.LayerNorm
	HeadDense *nn.Linear
	HeadNorm  *nn.LayerNorm
	// DecoderBias is the only bias in the model; the decoder weight is
	// Embed.Weight itself.
	DecoderBias *nn.Param
	// Precision is the arithmetic of inference through Logits (the
	// samplers): nn.PrecisionBF16 runs the projections and, on a GPU, the
	// attention in bf16 with f32 sums. Forward itself follows its tape's.
	Precision nn.Precision
	// NoGraphs keeps Logits from recording its forward pass as a graph on a
	// backend that could (graph.go); every call then runs eagerly.
	NoGraphs bool

	b         tensor.Backend
	positions map[[2]int]*tensor.Tensor // cached position ids per (batch, seq)
	graphs    graphs                    // recorded forward passes of Logits
}

// New builds a model with zero weights and unit norms on backend b. Call Init
// for Hugging Face's initialisation or Load for a checkpoint.
func New(cfg Config, b tensor.Backend) *Model {
	h, eps := cfg.HiddenSize, float32(cfg.NormEps)
	m := &Model{
		Config:    cfg,
		Embed:     nn.NewEmbedding(b, "model.embeddings.tok_embeddings.weight", cfg.VocabSize, h, cfg.PadTokenID),
		EmbedNorm: nn.NewLayerNorm(b, "model.embeddings.norm", h, eps, false),
		FinalNorm: nn.NewLayerNorm(b, "model.final_norm", h, eps, false),
		HeadDense: nn.NewLinear(b, "head.dense", h, h, false),
		HeadNorm:  nn.NewLayerNorm(b, "head.norm", h, eps, false),
		DecoderBias: func() *nn.Param {
			p := nn.NewParam(b, "decoder.bias", cfg.VocabSize)
			p.NoDecay = true
			return p
		}(),
		b:         b,
		positions: map[[2]int]*tensor.Tensor{},
	}
	m.Embed.Weight.NoDecay = true
	for i := 0; i < cfg.NumLayers; i++ {
		pre := fmt.Sprintf("model.layers.%d.", i)
		l := &Layer{
			Wqkv:    nn.NewLinear(b, pre+"attn.Wqkv", h, 3*h, false),
			Wo:      nn.NewLinear(b, pre+"attn.Wo", h, h, false),
			MLPNorm: nn.NewLayerNorm(b, pre+"mlp_norm", h, eps, false),
			Wi:      nn.NewLinear(b, pre+"mlp.Wi", h, 2*cfg.IntermediateSize, false),
			MLPWo:   nn.NewLinear(b, pre+"mlp.Wo", cfg.IntermediateSize, h, false),
			Global:  cfg.IsGlobal(i),
		}
		if i > 0 {
			l.AttnNorm = nn.NewLayerNorm(b, pre+"attn_norm", h, eps, false)
		}
		m.Layers = append(m.Layers, l)
	}
	return m
}

// Backend is the device the weights live on.
func (m *Model) Backend() tensor.Backend { return m.b }

// Params lists every trainable parameter in Hugging Face's order, named as
// in a Hugging Face checkpoint. The tied decoder weight is not listed: it is
// the embedding.
func (m *Model) Params() []*nn.Param {
	ps := []*nn.Param{m.Embed.Weight}
	ps = append(ps, m.EmbedNorm.Params()...)
	for _, l := range m.Layers {
		if l.AttnNorm != nil {
			ps = append(ps, l.AttnNorm.Params()...)
		}
		ps = append(ps, l.Wqkv.Params()...)
		ps = append(ps, l.Wo.Params()...)
		ps = append(ps, l.MLPNorm.Params()...)
		ps = append(ps, l.Wi.Params()...)
		ps = append(ps, l.MLPWo.Params()...)
	}
	ps = append(ps, m.FinalNorm.Params()...)
	ps = append(ps, m.HeadDense.Params()...)
	ps = append(ps, m.HeadNorm.Params()...)
	return append(ps, m.DecoderBias)
}

// Input and Output are the family-agnostic forward-pass types of package lm.
type (
	Input  = lm.Input
	Output = lm.Output
)

// Forward runs the model. With a recording tape it keeps what the backward
// pass needs; with nn.NoGrad it is plain inference. The tape's Precision
// decides the arithmetic of every projection, the tied decoder included
// (nn.PrecisionBF16: bf16 operands, f32 accumulation).
func (m *Model) Forward(tp *nn.Tape, in Input) Output {
	cfg := m.Config
	if in.IDs.Rank() != 2 {
		panic(fmt.Sprintf("bert: Forward with ids %v, want [B, S]", in.IDs.Shape()))
	}
	bsz, seq := in.IDs.Dim(0), in.IDs.Dim(1)
	n, h, nh := bsz*seq, cfg.HiddenSize, cfg.NumHeads
	d := h / nh
	pos := in.Positions
	if pos == nil {
		pos = m.positionIDs(bsz, seq)
	}

	x := m.EmbedNorm.Forward(tp, m.Embed.Forward(tp, in.IDs.Reshape(n)))
	for _, l := range m.Layers {
		a := x
		if l.AttnNorm != nil {
			a = l.AttnNorm.Forward(tp, x)
		}
		qkv := l.Wqkv.Forward(tp, a) // [N, 3H] = [N, 3·nh, d]
		theta, window := cfg.LocalRopeTheta, cfg.LocalAttention
		if l.Global {
			theta, window = cfg.GlobalRopeTheta, 0
		}
		qkv = tp.RoPE(tp.Reshape(qkv, n, 3*nh, d), pos, tensor.RoPEParams{Theta: theta, Heads: 2 * nh})
		att := tp.Attention(tp.Reshape(qkv, bsz, seq, 3, nh, d), in.KeyMask, tensor.AttentionParams{
			Heads: nh, Scale: float32(1 / math.Sqrt(float64(d))), Window: window,
		})
		x = tp.Add(x, l.Wo.Forward(tp, tp.Reshape(att, n, h)))
		mlp := l.MLPWo.Forward(tp, tp.GeGLU(l.Wi.Forward(tp, l.MLPNorm.Forward(tp, x))))
		x = tp.Add(x, mlp)
	}
	out := Output{Hidden: m.FinalNorm.Forward(tp, x)}
	if in.NoLogits {
		return out
	}
	z := out.Hidden
	if in.Rows != nil {
		z = tp.GatherRows(z, in.Rows)
	}
	z = m.HeadNorm.Forward(tp, tp.GELU(m.HeadDense.Forward(tp, z)))
	out.Logits = tp.AddBias(tp.Linear(z, m.Embed.Weight.Var), m.DecoderBias.Var)
	return out
}

// positionIDs returns [B·S] positions 0..S−1 per sequence, cached.
func (m *Model) positionIDs(bsz, seq int) *tensor.Tensor {
	key := [2]int{bsz, seq}
	if p, ok := m.positions[key]; ok {
		return p
	}
	ids := make([]int32, bsz*seq)
	for i := range ids {
		ids[i] = int32(i % seq)
	}
	p := m.b.FromHost(tensor.FromI32(ids, bsz*seq))
	m.positions[key] = p
	return p
}
