package lladamoe

import (
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/dllmgo/dllm/lm"
	"github.com/dllmgo/dllm/nn"
	"github.com/dllmgo/dllm/tensor"
	"github.com/dllmgo/dllm/tensor/safetensors"
	"github.com/dllmgo/dllm/transformer"
)

// Model is LLaDAMoEModelLM or RND1's model: embed_tokens, the blocks, a
// final RMSNorm and lm_head.
type Model struct {
	Config Config
	Embed  *nn.Embedding // model.embed_tokens [V, H]
	Blocks []transformer.Weights
	Final  *nn.RMSNorm // model.norm
	Head   *nn.Linear  // lm_head [V, H]; nil with tie_word_embeddings
	// Precision is the arithmetic of Logits; Forward follows its tape's.
	Precision nn.Precision
	// SaveBF16 makes Save store BF16 weights.
	SaveBF16 bool

	b         tensor.Backend
	positions map[[2]int]*tensor.Tensor
}

// New builds a model of a valid config with zero projections and unit
// norms on b; call Init, or load weights.
func New(cfg Config, b tensor.Backend) *Model {
	pad := -1
	if cfg.Variant == LLaDAMoE && cfg.PadTokenID != nil {
		pad = *cfg.PadTokenID // embed_tokens has padding_idx: no gradient for its row
	}
	m := &Model{
		Config:    cfg,
		Embed:     nn.NewEmbedding(b, "model.embed_tokens.weight", cfg.VocabSize, cfg.HiddenSize, pad),
		Final:     nn.NewRMSNorm(b, "model.norm", cfg.HiddenSize, float32(cfg.RMSNormEps), 0),
		b:         b,
		positions: map[[2]int]*tensor.Tensor{},
	}
	m.Embed.Weight.NoDecay = true
	tc := m.blockConfig()
	for i := range cfg.NumHiddenLayers {
		pre := "model.layers." + strconv.Itoa(i) + "."
		m.Blocks = append(m.Blocks, transformer.NewWeights(b, tc, m.layer(i), transformer.Names{
			AttnNorm: pre + "input_layernorm",
			Q:        pre + "self_attn.q_proj", K: pre + "self_attn.k_proj", V: pre + "self_attn.v_proj",
			QNorm: pre + "self_attn.q_norm", KNorm: pre + "self_attn.k_norm", O: pre + "self_attn.o_proj",
			MLPNorm: pre + "post_attention_layernorm",
			Gate:    pre + "mlp.gate_proj", Up: pre + "mlp.up_proj", Down: pre + "mlp.down_proj",
			Router: pre + "mlp.gate", ExpertBias: pre + expertBiasName,
			Experts: pre + "mlp.experts.", Shared: pre + "shared_expert.",
		}))
	}
	if !cfg.TieWordEmbeddings {
		m.Head = nn.NewLinear(b, "lm_head", cfg.HiddenSize, cfg.VocabSize, false)
	}
	return m
}

// blockConfig is the block in package transformer's terms.
func (m *Model) blockConfig() transformer.Config {
	c := m.Config
	kv := c.KVHeads()
	if kv == c.NumAttentionHeads {
		kv = 0
	}
	rot := c.RotaryDim()
	if rot == c.HeadDim() {
		rot = 0
	}
	inter := c.DenseWidth()
	if inter <= 0 {
		inter = c.ExpertWidth() // every layer a mixture: the dense width is unused
	}
	return transformer.Config{
		Hidden: c.HiddenSize, Heads: c.NumAttentionHeads, KVHeads: kv, HeadSize: c.HeadDim(), Intermediate: inter,
		SeparateQKV: true, SeparateGateUp: true, QKNorm: c.QKNorm(), RotaryDim: rot,
		Norm: transformer.RMSNorm, NormEps: float32(c.RMSNormEps),
		MLP: transformer.SwiGLU, Rotary: transformer.RotateQK,
		QKVBias: c.AttentionBias, OBias: c.AttentionBias,
		MoE: transformer.MoE{
			Experts: c.NumExperts, TopK: c.NumExpertsPerTok, Intermediate: c.ExpertWidth(),
			SharedIntermediate: c.SharedWidth(), Renormalize: c.Renormalize(), ExpertBias: c.ExpertBias,
		},
	}
}

func (m *Model) layer(i int) transformer.Layer {
	return transformer.Layer{Theta: m.Config.RopeTheta, MoE: m.Config.IsMoE(i)}
}

// Block is block i as a transformer block.
func (m *Model) Block(i int) transformer.Block {
	return transformer.Block{Config: m.blockConfig(), Layer: m.layer(i), Weights: m.Blocks[i]}
}

// Backend is the device the weights live on.
func (m *Model) Backend() tensor.Backend { return m.b }

// Params lists every parameter in ParamShapes' order.
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

// Forward runs the model: embeddings, the blocks attending to every real
// key (in.KeyMask), the final norm, and the head on in.Rows. Positions are
// in.Positions, or 0..S−1 in every row.
func (m *Model) Forward(tp *nn.Tape, in lm.Input) lm.Output {
	if in.IDs.Rank() != 2 {
		panic(fmt.Sprintf("%s: Forward with ids %v, want [B, S]", m.Config.Variant, in.IDs.Shape()))
	}
	bsz, seq := in.IDs.Dim(0), in.IDs.Dim(1)
	pos := in.Positions
	if pos == nil {
		pos = m.positionIDs(bsz, seq)
	}
	perLayer, err := transformer.InputAttention(m.b, in.KeyMask, in.Mask, bsz, seq)
	if err != nil {
		panic(fmt.Sprintf("%s: %v", m.Config.Variant, err))
	}
	attention := func(i int) transformer.Attention { return perLayer(m.layer(i)) }
	out := lm.Output{Hidden: m.encode(tp, in.IDs.Reshape(bsz*seq), pos, attention)}
	if !in.NoLogits {
		out.Logits = m.head(tp, out.Hidden, in.Rows)
	}
	return out
}

// encode runs the ids [N] at positions pos through the blocks, block i
// with attention(i), and returns the final norm's output [N, H].
func (m *Model) encode(tp *nn.Tape, ids, pos *tensor.Tensor, attention func(layer int) transformer.Attention) *nn.Var {
	x := m.Embed.Forward(tp, ids)
	for i := range m.Blocks {
		x = m.Block(i).Forward(tp, x, pos, attention(i))
	}
	return m.Final.Forward(tp, x)
}

// head maps the hidden rows z selected by rows (nil: all) to logits.
func (m *Model) head(tp *nn.Tape, z *nn.Var, rows *tensor.Tensor) *nn.Var {
	if rows != nil {
		z = tp.GatherRows(z, rows)
	}
	if m.Head != nil {
		return m.Head.Forward(tp, z)
	}
	return tp.Linear(z, m.Embed.Weight.Var)
}

// AttendsWithMask marks the model as one whose Forward honours lm.Input's
// Mask (lm.MaskAttender), which block diffusion (BD3LM) trains with.
func (m *Model) AttendsWithMask() {}

// layers is the geometry of every layer, for the block cache.
func (m *Model) layers() []transformer.Layer {
	ls := make([]transformer.Layer, len(m.Blocks))
	for i := range ls {
		ls[i] = m.layer(i)
	}
	return ls
}

// inferenceTape is a tape for inference in the model's Precision.
func (m *Model) inferenceTape() *nn.Tape {
	tp := nn.NoGrad(m.b)
	tp.Precision = m.Precision
	return tp
}

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

// Logits runs inference on ids (batch×seqLen) and returns the logits at
// the flat positions rows (mdlm.Denoiser). keyMask (1 real, 0 padding)
// hides padded keys; nil attends everywhere.
func (m *Model) Logits(ids []int32, batch, seqLen int, keyMask, rows []int32) ([]float32, error) {
	if err := m.checkBatch(ids, batch, seqLen, keyMask, rows); err != nil || len(rows) == 0 {
		return nil, err
	}
	in := lm.Input{
		IDs:  m.b.FromHost(tensor.FromI32(ids, batch, seqLen)),
		Rows: m.b.FromHost(tensor.FromI32(rows, len(rows))),
	}
	if keyMask != nil {
		in.KeyMask = m.b.FromHost(tensor.FromI32(keyMask, batch, seqLen))
	}
	return m.Forward(m.inferenceTape(), in).Logits.Value.ToCPU().F32(), nil
}

// checkBatch validates the arguments of Logits and BeginBlock.
func (m *Model) checkBatch(ids []int32, batch, seqLen int, keyMask, rows []int32) error {
	v := m.Config.Variant
	if len(ids) != batch*seqLen {
		return fmt.Errorf("%s: %d ids for a %d×%d batch", v, len(ids), batch, seqLen)
	}
	if keyMask != nil && len(keyMask) != len(ids) {
		return fmt.Errorf("%s: key mask of %d flags for a %d×%d batch", v, len(keyMask), batch, seqLen)
	}
	for _, r := range rows {
		if r < 0 || int(r) >= len(ids) {
			return fmt.Errorf("%s: row %d outside the %d×%d batch", v, r, batch, seqLen)
		}
	}
	for _, id := range ids {
		if id < 0 || int(id) >= m.VocabSize() {
			return fmt.Errorf("%s: token id %d outside the vocabulary of %d", v, id, m.VocabSize())
		}
	}
	return nil
}

// VocabSize is the number of logits per position.
func (m *Model) VocabSize() int { return m.Config.VocabSize }

// Spec: RND1's logits are shifted, LLaDA-MoE's are not.
func (m *Model) Spec() lm.Spec {
	c := m.Config
	id := func(p *int) int32 {
		if p == nil {
			return lm.NoToken
		}
		return int32(*p)
	}
	name := FamilyName
	if c.Variant == RND1 {
		name = RND1Name
	}
	return lm.Spec{
		Family: name, ModelType: c.Variant.String(), ShiftLogits: c.Variant == RND1,
		MaxPositions: c.MaxPositionEmbeddings,
		MaskID:       id(c.MaskTokenID), PadID: id(c.PadTokenID), BOSID: lm.NoToken, EOSID: id(c.EOSTokenID),
	}
}

// Describe says what the model is in one line.
func (m *Model) Describe() string {
	c := m.Config
	return fmt.Sprintf("%s hidden %d, %d layers, %d heads (%d key/value), %d experts top %d, vocabulary %d",
		c.Variant, c.HiddenSize, c.NumHiddenLayers, c.NumAttentionHeads, c.KVHeads(), c.NumExperts, c.NumExpertsPerTok, c.VocabSize)
}

// SetPrecision sets the arithmetic of Logits (lm.PrecisionSetter).
func (m *Model) SetPrecision(p nn.Precision) { m.Precision = p }

// Init draws fresh weights: every Linear and the embeddings from
// N(0, initializer_range²), norms 1, biases 0.
func (m *Model) Init(rng *rand.Rand) {
	std := m.Config.InitializerRange
	if std <= 0 {
		std = 0.02
	}
	for _, p := range m.Params() {
		if strings.HasSuffix(p.Name, "norm.weight") {
			m.b.Fill(p.Value, 1)
			continue
		}
		if strings.HasSuffix(p.Name, ".bias") || strings.HasSuffix(p.Name, expertBiasName) {
			m.b.Fill(p.Value, 0)
			continue
		}
		v := make([]float32, p.Value.Numel())
		for i := range v {
			v[i] = float32(rng.NormFloat64() * std)
		}
		m.b.Copy(p.Value, m.b.FromHost(tensor.FromF32(v, p.Value.Shape()...)))
	}
	if m.Embed.PadIdx >= 0 { // padding_idx's row starts at zero
		h := m.Config.HiddenSize
		row := m.Embed.Weight.Value.Rows(m.Embed.PadIdx, m.Embed.PadIdx+1)
		m.b.Copy(row, m.b.FromHost(tensor.FromF32(make([]float32, h), 1, h)))
	}
}

// ConfigFile is the configuration inside a model folder.
const ConfigFile = "config.json"

// Load reads a folder (config.json and model.safetensors or shards; F32,
// F16 or BF16) onto b.
func Load(dir string, b tensor.Backend) (*Model, error) {
	cfg, err := LoadConfig(filepath.Join(dir, ConfigFile))
	if err != nil {
		return nil, err
	}
	if err := checkMemory(cfg, b, readMeminfo()); err != nil {
		return nil, fmt.Errorf("%s: %w", dir, err)
	}
	src, err := safetensors.OpenModel(dir)
	if err != nil {
		return nil, err
	}
	m := New(cfg, b)
	if err := m.LoadWeights(src); err != nil {
		return nil, fmt.Errorf("%s: %w", dir, err)
	}
	return m, nil
}

// TensorSource is what LoadWeights reads.
type TensorSource = lm.TensorSource

// LoadWeights copies every parameter from src under its checkpoint name; a
// missing tensor or one the config does not imply is an error naming it.
func (m *Model) LoadWeights(src TensorSource) error {
	return lm.LoadParams(m.Params(), src, nil)
}

// Save writes config.json and model.safetensors into dir.
func (m *Model) Save(dir string) error {
	if err := lm.SaveParams(dir, m.Params(), m.SaveBF16); err != nil {
		return err
	}
	return SaveConfig(filepath.Join(dir, ConfigFile), m.Config)
}

var _ lm.Model = (*Model)(nil)
