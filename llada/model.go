package llada

import (
	"fmt"
	"math"

	"github.com/dllmgo/dllm/graphs"
	"github.com/dllmgo/dllm/lm"
	"github.com/dllmgo/dllm/nn"
	"github.com/dllmgo/dllm/tensor"
	"github.com/dllmgo/dllm/transformer"
)

// Model is LLaDAModelLM: token embeddings, pre-norm blocks of package
// transformer under LLaDA's names, a final RMSNorm and the head.
type Model struct {
	Config Config
	Embed  *nn.Embedding // model.transformer.wte [E, D]
	Blocks []transformer.Weights
	Final  *nn.RMSNorm // model.transformer.ln_f
	// Head is model.transformer.ff_out [E, D]; nil with weight_tying,
	// whose head is Embed's weight.
	Head *nn.Linear
	// Precision is the arithmetic of inference through Logits (the
	// samplers); Forward follows its tape's.
	Precision nn.Precision
	// NoGraphs keeps Logits and the cached steps from recording their
	// forward passes as graphs on a backend that could.
	NoGraphs bool
	// SaveBF16 makes Save store the weights as BF16, as the released
	// checkpoints are; the default is F32.
	SaveBF16 bool

	// weightDType is the dtype of the embedding, head and projection
	// weights: F32, or BF16 (LoadBF16).
	weightDType tensor.DType
	b           tensor.Backend
	positions   map[[2]int]*tensor.Tensor
	graphs      *graphs.Recorder[graphKey]
}

// New builds a model of a valid config with zero projections and unit
// norms on backend b; call Init, or load weights.
func New(cfg Config, b tensor.Backend) *Model { return newModel(cfg, b, tensor.F32) }

// newModel is New with the embedding, head and projection weights of
// dtype dt (F32, or BF16 for LoadBF16).
func newModel(cfg Config, b tensor.Backend, dt tensor.DType) *Model {
	m := &Model{
		Config:      cfg,
		weightDType: dt,
		Embed:       nn.NewEmbeddingOf(b, dt, "model.transformer.wte.weight", cfg.Embeddings(), cfg.DModel, -1),
		Final:       nn.NewRMSNorm(b, "model.transformer.ln_f", cfg.DModel, float32(cfg.RMSNormEps), 0),
		b:           b,
		positions:   map[[2]int]*tensor.Tensor{},
		graphs:      graphs.NewRecorder[graphKey](b, maxGraphs),
	}
	m.Embed.Weight.NoDecay = true
	tc := m.blockConfig()
	for i := range cfg.NLayers {
		pre := fmt.Sprintf("model.transformer.blocks.%d.", i)
		m.Blocks = append(m.Blocks, transformer.NewWeights(b, tc, transformer.Layer{}, transformer.Names{
			AttnNorm: pre + "attn_norm", Q: pre + "q_proj", K: pre + "k_proj", V: pre + "v_proj",
			O: pre + "attn_out", MLPNorm: pre + "ff_norm", Gate: pre + "ff_proj", Up: pre + "up_proj",
			Down: pre + "ff_out",
		}))
	}
	if !cfg.WeightTying {
		m.Head = nn.NewLinearOf(b, dt, "model.transformer.ff_out", cfg.DModel, cfg.Embeddings(), cfg.IncludeBias)
	}
	return m
}

// blockConfig is LLaDA's llama block in package transformer's terms:
// RMSNorm, SwiGLU with ff_proj the gate and up_proj the linear branch,
// separate q/k/v, rotate-half rotary over whole heads, GQA.
func (m *Model) blockConfig() transformer.Config {
	c := m.Config
	kv := c.KVHeads()
	if kv == c.NHeads {
		kv = 0 // plain multi-head attention
	}
	return transformer.Config{
		Hidden: c.DModel, Heads: c.NHeads, KVHeads: kv, Intermediate: c.MLPHidden(),
		Norm: transformer.RMSNorm, NormEps: float32(c.RMSNormEps),
		MLP: transformer.SwiGLU, Rotary: transformer.RotateQK,
		SeparateQKV: true, SeparateGateUp: true,
		QKVBias: c.IncludeBias || c.IncludeQKVBias, OBias: c.IncludeBias, MLPBias: c.IncludeBias,
		WeightDType: m.weightDType,
	}
}

// Block is block i as a transformer block: every layer attends everywhere
// with the one rotary base.
func (m *Model) Block(i int) transformer.Block {
	return transformer.Block{Config: m.blockConfig(), Layer: m.layer(), Weights: m.Blocks[i]}
}

func (m *Model) layer() transformer.Layer { return transformer.Layer{Theta: m.Config.RopeTheta} }

// layers is the geometry of every layer, for the block cache.
func (m *Model) layers() []transformer.Layer {
	ls := make([]transformer.Layer, len(m.Blocks))
	for i := range ls {
		ls[i] = m.layer()
	}
	return ls
}

// Backend is the device the weights live on.
func (m *Model) Backend() tensor.Backend { return m.b }

// Params lists every parameter in ParamShapes' order, under the
// checkpoints' names.
func (m *Model) Params() []*nn.Param {
	ps := []*nn.Param{m.Embed.Weight}
	for _, w := range m.Blocks {
		ps = append(ps, w.Params()...)
	}
	ps = append(ps, m.Final.Params()...)
	if m.Head != nil {
		ps = append(ps, m.Head.Params()...)
	}
	return ps
}

// Forward runs the model: embeddings (times √D with input_emb_norm), the
// blocks with bidirectional attention over the keys in.KeyMask lets
// through (or under in.Mask's pattern when it is set), ln_f, and the head on in.Rows. Positions are in.Positions, or
// 0..S−1 in every row as LLaDA's own forward has them.
func (m *Model) Forward(tp *nn.Tape, in lm.Input) lm.Output {
	if in.IDs.Rank() != 2 {
		panic(fmt.Sprintf("llada: Forward with ids %v, want [B, S]", in.IDs.Shape()))
	}
	bsz, seq := in.IDs.Dim(0), in.IDs.Dim(1)
	pos := in.Positions
	if pos == nil {
		pos = m.positionIDs(bsz, seq)
	}
	perLayer, err := transformer.InputAttention(m.b, in.KeyMask, in.Mask, bsz, seq)
	if err != nil {
		panic("llada: " + err.Error())
	}
	att := perLayer(m.layer()) // every layer alike
	attention := func(int) transformer.Attention { return att }
	out := lm.Output{Hidden: m.encode(tp, in.IDs.Reshape(bsz*seq), pos, attention)}
	if !in.NoLogits {
		out.Logits = m.head(tp, out.Hidden, in.Rows)
	}
	return out
}

// AttendsWithMask marks the model as one whose Forward honours lm.Input's
// Mask (lm.MaskAttender), which block diffusion (BD3LM) trains and samples
// with.
func (m *Model) AttendsWithMask() {}

// encode runs the ids [N] at positions pos [N] through the blocks, with
// attention(i) as block i's attention, and returns ln_f's output [N, D].
func (m *Model) encode(tp *nn.Tape, ids, pos *tensor.Tensor, attention func(layer int) transformer.Attention) *nn.Var {
	x := m.Embed.Forward(tp, ids)
	if m.Config.InputEmbNorm {
		x = tp.Scale(x, float32(math.Sqrt(float64(m.Config.DModel))))
	}
	for i := range m.Blocks {
		x = m.Block(i).Forward(tp, x, pos, attention(i))
		tp.FreeScratch(x) // inference (Logits): the block's activations are dead
	}
	return m.Final.Forward(tp, x)
}

// head maps the hidden rows z [N, D] selected by rows (nil: all) to logits
// [M, E]: x·ff_outᵀ, or x·wteᵀ with weight_tying, divided by √D with
// scale_logits.
func (m *Model) head(tp *nn.Tape, z *nn.Var, rows *tensor.Tensor) *nn.Var {
	if rows != nil {
		z = tp.GatherRows(z, rows)
	}
	var y *nn.Var
	if m.Head != nil {
		y = m.Head.Forward(tp, z)
	} else {
		y = tp.Linear(z, m.Embed.Weight.Var)
	}
	if m.Config.ScaleLogits {
		y = tp.Scale(y, float32(1/math.Sqrt(float64(m.Config.DModel))))
	}
	return y
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

// VocabSize is the number of logits per position: embedding_size.
func (m *Model) VocabSize() int { return m.Config.Embeddings() }

// Spec describes the model to the family-agnostic code: logits are not
// shifted; ids outside the embeddings count as absent.
func (m *Model) Spec() lm.Spec {
	c := m.Config
	id := func(v int) int32 {
		if v < 0 || v >= c.Embeddings() {
			return lm.NoToken
		}
		return int32(v)
	}
	return lm.Spec{
		Family: FamilyName, ModelType: ModelType,
		MaxPositions: c.MaxSequenceLength,
		MaskID:       id(c.MaskTokenID), PadID: id(c.PadTokenID),
		BOSID: lm.NoToken, EOSID: id(c.EOSTokenID),
	}
}

// Describe says what the model is in one line.
func (m *Model) Describe() string {
	c := m.Config
	return fmt.Sprintf("LLaDA d_model %d, %d layers, %d heads (%d key/value), vocabulary %d", c.DModel, c.NLayers, c.NHeads, c.KVHeads(), c.Embeddings())
}

// SetPrecision sets the arithmetic of Logits (lm.PrecisionSetter).
func (m *Model) SetPrecision(p nn.Precision) { m.Precision = p }

// inferenceTape is a tape for inference in the model's Precision.
func (m *Model) inferenceTape() *nn.Tape {
	tp := nn.NoGrad(m.b)
	tp.Precision = m.Precision
	return tp
}

var _ lm.Model = (*Model)(nil)
