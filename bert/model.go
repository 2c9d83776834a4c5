package bert

import (
	"fmt"
	"sync"

	"github.com/dllmgo/dllm/graphs"
	"github.com/dllmgo/dllm/lm"
	"github.com/dllmgo/dllm/nn"
	"github.com/dllmgo/dllm/tensor"
	"github.com/dllmgo/dllm/transformer"
)

// Layer is one pre-norm encoder layer, ModernBERT's weights under Hugging
// Face's names:
//
//	h = h + Wo·Attention(RoPE(Wqkv·AttnNorm(h)))
//	h = h + MLPWo·GeGLU(Wi·MLPNorm(h))
//
// Layer 0 has no AttnNorm: the embeddings were just normalised. The
// arithmetic is package transformer's block (Model.Block).
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

// weights is the layer's weights by role.
func (l *Layer) weights() transformer.Weights {
	w := transformer.Weights{QKV: l.Wqkv, O: l.Wo, MLPNorm: l.MLPNorm, Up: l.Wi, Down: l.MLPWo}
	if l.AttnNorm != nil { // a nil *nn.LayerNorm is not a nil Norm
		w.AttnNorm = l.AttnNorm
	}
	return w
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
	positions map[[2]int]*tensor.Tensor  // cached position ids per (batch, seq)
	graphs    *graphs.Recorder[graphKey] // recorded forward passes of Logits
	// lent is the host tensor of the logits last returned (hostLogits),
	// until RecycleLogits takes it back.
	lentMu sync.Mutex
	lent   *tensor.Tensor
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
		graphs:    graphs.NewRecorder[graphKey](b, maxGraphs),
	}
	m.Embed.Weight.NoDecay = true
	tc := m.blockConfig()
	for i := 0; i < cfg.NumLayers; i++ {
		pre := fmt.Sprintf("model.layers.%d.", i)
		w := transformer.NewWeights(b, tc, transformer.Layer{NoAttnNorm: i == 0}, transformer.Names{
			AttnNorm: pre + "attn_norm", QKV: pre + "attn.Wqkv", O: pre + "attn.Wo",
			MLPNorm: pre + "mlp_norm", Up: pre + "mlp.Wi", Down: pre + "mlp.Wo",
		})
		l := &Layer{Wqkv: w.QKV, Wo: w.O, Wi: w.Up, MLPWo: w.Down, Global: cfg.IsGlobal(i)}
		l.AttnNorm, _ = w.AttnNorm.(*nn.LayerNorm) // nil on layer 0
		l.MLPNorm = w.MLPNorm.(*nn.LayerNorm)
		m.Layers = append(m.Layers, l)
	}
	return m
}

// blockConfig is what ModernBERT's layers share, in package transformer's
// terms: bias-free LayerNorm, GeGLU with a fused Wi, rotary over the packed
// Q and K heads, no bias anywhere.
func (m *Model) blockConfig() transformer.Config {
	cfg := m.Config
	return transformer.Config{
		Hidden: cfg.HiddenSize, Heads: cfg.NumHeads, Intermediate: cfg.IntermediateSize,
		Norm: transformer.LayerNorm, NormEps: float32(cfg.NormEps),
		MLP: transformer.GeGLU, Rotary: transformer.RotateQK,
	}
}

// layer is layer i's geometry: global layers attend everywhere with the
// global rotary base, the others within the sliding window with the local
// one; layer 0 has no attention norm.
func (m *Model) layer(i int) transformer.Layer {
	cfg := m.Config
	l := transformer.Layer{Theta: cfg.LocalRopeTheta, Window: cfg.LocalAttention, NoAttnNorm: m.Layers[i].AttnNorm == nil}
	if m.Layers[i].Global {
		l.Theta, l.Window = cfg.GlobalRopeTheta, 0
	}
	return l
}

// Block is encoder layer i as a transformer block: the arithmetic that
// Forward, Logits, BeginBlock and the cached steps all run.
func (m *Model) Block(i int) transformer.Block {
	return transformer.Block{Config: m.blockConfig(), Layer: m.layer(i), Weights: m.Layers[i].weights()}
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
		ps = append(ps, l.weights().Params()...)
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
	if in.IDs.Rank() != 2 {
		panic(fmt.Sprintf("bert: Forward with ids %v, want [B, S]", in.IDs.Shape()))
	}
	bsz, seq := in.IDs.Dim(0), in.IDs.Dim(1)
	pos := in.Positions
	if pos == nil {
		pos = m.positionIDs(bsz, seq)
	}
	perLayer, err := transformer.InputAttention(m.b, in.KeyMask, in.Mask, bsz, seq)
	if err != nil {
		panic("bert: " + err.Error())
	}
	attention := func(i int) transformer.Attention { return perLayer(m.layer(i)) }
	out := Output{Hidden: m.encode(tp, in.IDs.Reshape(bsz*seq), pos, attention)}
	if !in.NoLogits {
		out.Logits = m.head(tp, out.Hidden, in.Rows)
	}
	return out
}

// AttendsWithMask marks the model as one whose Forward honours lm.Input's
// Mask (lm.MaskAttender).
func (m *Model) AttendsWithMask() {}

var _ lm.MaskAttender = (*Model)(nil)

// encode runs the encoder on the token ids [N] at positions pos [N], with
// attention(i) as layer i's attention, and returns the final-normed hidden
// states [N, H]. Forward attends over whole sequences; the block cache's
// steps (cache.go) over cached keys.
func (m *Model) encode(tp *nn.Tape, ids, pos *tensor.Tensor, attention func(layer int) transformer.Attention) *nn.Var {
	return m.FinalNorm.Forward(tp, m.lastLayer(tp, ids, pos, attention))
}

// lastLayer is encode without the final norm: the last layer's output.
func (m *Model) lastLayer(tp *nn.Tape, ids, pos *tensor.Tensor, attention func(layer int) transformer.Attention) *nn.Var {
	x := m.EmbedNorm.Forward(tp, m.Embed.Forward(tp, ids))
	for i := range m.Layers {
		x = m.Block(i).Forward(tp, x, pos, attention(i))
		tp.FreeScratch(x) // inference (Logits): the layer's activations are dead
	}
	return x
}

// head is the masked-LM head on the hidden rows z [N, H] selected by rows
// (nil: all): dense, GELU, norm, then the tied decoder and its bias.
func (m *Model) head(tp *nn.Tape, z *nn.Var, rows *tensor.Tensor) *nn.Var {
	if rows != nil {
		z = tp.GatherRows(z, rows)
	}
	z = m.HeadNorm.Forward(tp, tp.GELU(m.HeadDense.Forward(tp, z)))
	return tp.LinearBias(z, m.Embed.Weight.Var, m.DecoderBias.Var)
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
