package decoder

import (
	"fmt"
	"math/rand/v2"
	"strings"

	"github.com/dllmgo/dllm/graphs"
	"github.com/dllmgo/dllm/lm"
	"github.com/dllmgo/dllm/nn"
	"github.com/dllmgo/dllm/tensor"
	"github.com/dllmgo/dllm/tensor/safetensors"
	"github.com/dllmgo/dllm/transformer"
)

// Model is the decoder run bidirectionally. A family wraps it with its
// config (Save).
type Model struct {
	Arch   Arch
	Embed  *nn.Embedding // model.embed_tokens [V, D]
	Blocks []transformer.Weights
	Final  *nn.RMSNorm // model.norm
	Head   *nn.Linear  // lm_head [V, D]; nil when tied
	// Precision is the arithmetic of inference through Logits.
	Precision nn.Precision
	// NoGraphs runs Logits and the cached block steps eagerly even on a
	// backend that records graphs (package graphs).
	NoGraphs bool

	b         tensor.Backend
	positions map[[2]int]*tensor.Tensor
	graphs    *graphs.Recorder[graphKey]
}

// New builds a model of a valid Arch with zero projections and unit norms.
func New(a Arch, b tensor.Backend) *Model {
	m := &Model{
		Arch:      a,
		Embed:     nn.NewEmbeddingOf(b, a.weightDType(), "model.embed_tokens.weight", a.Vocab, a.Hidden, a.PadIdx),
		Final:     nn.NewRMSNorm(b, "model.norm", a.Hidden, float32(a.Eps), 0),
		b:         b,
		positions: map[[2]int]*tensor.Tensor{},
		graphs:    graphs.NewRecorder[graphKey](b, maxGraphs),
	}
	m.Embed.Weight.NoDecay = true
	tc := a.block()
	for i := range a.Layers {
		pre := fmt.Sprintf("model.layers.%d.", i)
		m.Blocks = append(m.Blocks, transformer.NewWeights(b, tc, transformer.Layer{}, transformer.Names{
			AttnNorm: pre + "input_layernorm", Q: pre + "self_attn.q_proj", K: pre + "self_attn.k_proj",
			V: pre + "self_attn.v_proj", QNorm: pre + "self_attn.q_norm", KNorm: pre + "self_attn.k_norm",
			O: pre + "self_attn.o_proj", MLPNorm: pre + "post_attention_layernorm",
			Gate: pre + "mlp.gate_proj", Up: pre + "mlp.up_proj", Down: pre + "mlp.down_proj",
		}))
	}
	if !a.Tied {
		m.Head = nn.NewLinearOf(b, a.weightDType(), "lm_head", a.Hidden, a.Vocab, false)
	}
	return m
}

// Block is layer i as a transformer block.
func (m *Model) Block(i int) transformer.Block {
	return transformer.Block{Config: m.Arch.block(), Layer: transformer.Layer{Theta: m.Arch.Theta}, Weights: m.Blocks[i]}
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

// Forward runs the model: embeddings, the blocks attending over every key
// in.KeyMask lets through (no causal mask), the final norm and the head on
// in.Rows. Positions are in.Positions, or 0..S−1 in every row. The logits
// are not shifted here: row i is what the network computes at position i.
func (m *Model) Forward(tp *nn.Tape, in lm.Input) lm.Output {
	if in.IDs.Rank() != 2 {
		panic(fmt.Sprintf("%s: Forward with ids %v, want [B, S]", m.Arch.Family, in.IDs.Shape()))
	}
	bsz, seq := in.IDs.Dim(0), in.IDs.Dim(1)
	pos := in.Positions
	if pos == nil {
		pos = m.positionIDs(bsz, seq)
	}
	perLayer, err := transformer.InputAttention(m.b, in.KeyMask, in.Mask, bsz, seq)
	if err != nil {
		panic(m.Arch.Family + ": " + err.Error())
	}
	att := perLayer(transformer.Layer{Theta: m.Arch.Theta}) // every layer alike
	attention := func(int) transformer.Attention { return att }
	out := lm.Output{Hidden: m.encode(tp, in.IDs.Reshape(bsz*seq), pos, attention)}
	if !in.NoLogits {
		out.Logits = m.head(tp, out.Hidden, in.Rows)
	}
	return out
}

// encode runs ids [N] at positions pos [N] through the blocks, with
// attention(i) as layer i's attention, and returns model.norm's output.
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
// Mask (lm.MaskAttender), which block diffusion (BD3LM) trains and samples
// with.
func (m *Model) AttendsWithMask() {}

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

// MaskPositions are the positions of a padded batch as Dream's samplers give
// them: cumsum(keyMask)−1 along each row, and 1 at the padding; nil when
// nothing is padded (then 0..S−1).
func MaskPositions(keyMask []int32, batch, seqLen int) []int32 {
	padded := false
	for _, k := range keyMask {
		padded = padded || k == 0
	}
	if !padded {
		return nil
	}
	pos := make([]int32, batch*seqLen)
	for b := range batch {
		n := int32(0)
		for s := range seqLen {
			i := b*seqLen + s
			n += keyMask[i]
			if keyMask[i] == 0 {
				pos[i] = 1
			} else {
				pos[i] = n - 1
			}
		}
	}
	return pos
}

// Logits runs inference on ids (batch×seqLen, row-major) and returns the
// logits at the flat positions rows, unshifted: with VocabSize it makes the
// model an mdlm.Denoiser (mdlm.Shifted reads a shifted one). keyMask (1 =
// real token) hides the padded keys; nil attends everywhere.
func (m *Model) Logits(ids []int32, batch, seqLen int, keyMask, rows []int32) ([]float32, error) {
	if err := m.checkBatch(ids, batch, seqLen, keyMask, rows); err != nil {
		return nil, err
	}
	if len(rows) == 0 {
		return nil, nil
	}
	var pos []int32
	if keyMask != nil && m.Arch.MaskPositions {
		pos = MaskPositions(keyMask, batch, seqLen)
	}
	if m.useGraphs() {
		return m.graphLogits(ids, batch, seqLen, keyMask, pos, rows), nil
	}
	in := lm.Input{
		IDs:  m.b.FromHost(tensor.FromI32(ids, batch, seqLen)),
		Rows: m.b.FromHost(tensor.FromI32(rows, len(rows))),
	}
	if keyMask != nil {
		in.KeyMask = m.b.FromHost(tensor.FromI32(keyMask, batch, seqLen))
	}
	if pos != nil {
		in.Positions = m.b.FromHost(tensor.FromI32(pos, len(pos)))
	}
	return m.Forward(m.inferenceTape(), in).Logits.Value.ToCPU().F32(), nil
}

// maxGraphs bounds the recorded graphs a model keeps for Logits.
const maxGraphs = 16

// graphKey is the shape of one recorded Logits pass: which inputs are
// present is part of it, since a graph keeps its inputs' nil-ness.
type graphKey struct {
	batch, seq, rows  int
	masked, positions bool
	prec              nn.Precision
}

// useGraphs reports whether Logits and the cached steps record graphs.
func (m *Model) useGraphs() bool { return !m.NoGraphs && m.graphs.CanRecord() }

// LogitsGraphs reports how many forward passes Logits has recorded.
func (m *Model) LogitsGraphs() int { return m.graphs.Graphs() }

// ReleaseGraphs destroys the recorded graphs and their memory.
func (m *Model) ReleaseGraphs() { m.graphs.Release() }

// graphLogits is Logits through a recorded graph. The inputs (ids, key
// mask, Dream's padded positions, rows) are the graph's buffers, rewritten
// by each call; rows are padded to a multiple of graphs.RowQuantum so that
// one graph serves a whole block as its masks are revealed.
func (m *Model) graphLogits(ids []int32, batch, seqLen int, keyMask, pos, rows []int32) []float32 {
	padded := graphs.PadRows(rows, graphs.RowQuantum)
	key := graphKey{batch: batch, seq: seqLen, rows: len(padded), masked: keyMask != nil, positions: pos != nil, prec: m.Precision}
	in := []*tensor.Tensor{tensor.FromI32(ids, batch, seqLen), nil, nil, tensor.FromI32(padded, len(padded))}
	if keyMask != nil {
		in[1] = tensor.FromI32(keyMask, batch, seqLen)
	}
	if pos != nil {
		in[2] = tensor.FromI32(pos, len(pos))
	}
	out := m.graphs.Run(key, in, func(in []*tensor.Tensor) *tensor.Tensor {
		return m.Forward(m.inferenceTape(), lm.Input{IDs: in[0], KeyMask: in[1], Positions: in[2], Rows: in[3]}).Logits.Value
	})
	return out.F32()[:len(rows)*m.VocabSize()]
}

// checkBatch validates the arguments of Logits and BeginBlock.
func (m *Model) checkBatch(ids []int32, batch, seqLen int, keyMask, rows []int32) error {
	name := m.Arch.Family
	if len(ids) != batch*seqLen {
		return fmt.Errorf("%s: %d ids for a %d×%d batch", name, len(ids), batch, seqLen)
	}
	if keyMask != nil && len(keyMask) != len(ids) {
		return fmt.Errorf("%s: key mask of %d flags for a %d×%d batch", name, len(keyMask), batch, seqLen)
	}
	for _, r := range rows {
		if r < 0 || int(r) >= len(ids) {
			return fmt.Errorf("%s: row %d outside the %d×%d batch", name, r, batch, seqLen)
		}
	}
	for _, id := range ids {
		if id < 0 || int(id) >= m.VocabSize() {
			return fmt.Errorf("%s: token id %d outside the vocabulary of %d", name, id, m.VocabSize())
		}
	}
	return nil
}

// VocabSize is the number of logits per position.
func (m *Model) VocabSize() int { return m.Arch.Vocab }

// Spec describes the model to the family-agnostic code.
func (m *Model) Spec() lm.Spec {
	a := m.Arch
	id := func(v int32) int32 {
		if v < 0 || int(v) >= a.Vocab {
			return lm.NoToken
		}
		return v
	}
	return lm.Spec{
		Family: a.Family, ModelType: a.ModelType, ShiftLogits: a.Shift, MaxPositions: a.MaxPositions,
		MaskID: id(a.MaskID), PadID: id(a.PadID), BOSID: id(a.BOSID), EOSID: id(a.EOSID),
	}
}

// Describe says what the model is in one line.
func (m *Model) Describe() string {
	a := m.Arch
	return fmt.Sprintf("%s hidden %d, %d layers, %d heads of %d (%d key/value), vocabulary %d", a.Label, a.Hidden, a.Layers, a.Heads, a.HeadDim, a.KVHeads, a.Vocab)
}

// LossWeighting implements lm.LossWeighter.
func (m *Model) LossWeighting() string { return m.Arch.LossWeighting }

// SetPrecision sets the arithmetic of Logits (lm.PrecisionSetter).
func (m *Model) SetPrecision(p nn.Precision) { m.Precision = p }

// Init draws fresh weights as transformers' _init_weights does for these
// models: every Linear and the embeddings from N(0, initializer_range²),
// biases 0, the padding row of the embeddings 0, norms 1.
func (m *Model) Init(rng *rand.Rand) {
	std := m.Arch.InitStd
	if std <= 0 {
		std = 0.02
	}
	for _, p := range m.Params() {
		v := make([]float32, p.Value.Numel())
		switch {
		case strings.HasSuffix(p.Name, "norm.weight"):
			for i := range v {
				v[i] = 1
			}
		case strings.HasSuffix(p.Name, ".bias"):
		default:
			for i := range v {
				v[i] = float32(rng.NormFloat64() * std)
			}
		}
		if p == m.Embed.Weight && m.Arch.PadIdx >= 0 && m.Arch.PadIdx < m.Arch.Vocab {
			d := m.Arch.Hidden
			clear(v[m.Arch.PadIdx*d : (m.Arch.PadIdx+1)*d])
		}
		m.b.Copy(p.Value, m.b.FromHost(tensor.FromF32(v, p.Value.Shape()...)))
	}
}

// TensorSource is what LoadWeights reads: one safetensors file or a
// sharded set seen as one.
type TensorSource = lm.TensorSource

// LoadWeights copies every parameter from src under its checkpoint name;
// a tensor the architecture does not have, a missing one or a shape that
// differs is an error. A tied model's folder may still hold lm_head.weight
// (some checkpoints store the copy): it must then equal the embeddings'
// shape and is ignored.
func (m *Model) LoadWeights(src TensorSource) error {
	return lm.LoadParams(m.Params(), src, func(name string) bool {
		return m.Arch.Tied && name == "lm_head.weight"
	})
}

// Open builds the decoder a describes and loads dir's weights into it. The
// weights are opened before the model is built, so a folder without them is
// refused before a config naming a large model takes memory. With bf16 the
// embedding, the head and the projections stay BF16 (mapped from BF16 files
// where they can be, LoadDir), for inference.
func Open(dir string, a Arch, b tensor.Backend, bf16 bool) (*Model, error) {
	open := safetensors.OpenModel
	if bf16 {
		a.WeightDType = tensor.BF16
		open = safetensors.MapModel
	}
	src, err := open(dir)
	if err != nil {
		return nil, err
	}
	m := New(a, b)
	if err := m.LoadWeights(src); err != nil {
		return nil, fmt.Errorf("%s: %w", dir, err)
	}
	return m, nil
}

// LoadDir reads the weights of a folder (model.safetensors or the shards of
// model.safetensors.index.json), F32, F16 or BF16 on disk. With BF16
// weights (Arch.WeightDType) the files are memory-mapped, and BF16 tensors
// are used in place where they can be (lm.LoadParams).
func (m *Model) LoadDir(dir string) error {
	open := safetensors.OpenModel
	if m.Arch.weightDType() == tensor.BF16 {
		open = safetensors.MapModel
	}
	src, err := open(dir)
	if err != nil {
		return err
	}
	if err := m.LoadWeights(src); err != nil {
		return fmt.Errorf("%s: %w", dir, err)
	}
	return nil
}

// SaveWeights writes model.safetensors into dir, atomically, F32 or BF16.
func (m *Model) SaveWeights(dir string, bf16 bool) error {
	return lm.SaveParams(dir, m.Params(), bf16)
}
