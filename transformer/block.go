package transformer

import (
	"fmt"
	"math"
	"slices"
	"sync"

	"github.com/dllmgo/dllm/nn"
	"github.com/dllmgo/dllm/tensor"
)

// NormKind is the normalisation a block applies before attention and before
// the MLP.
type NormKind int

const (
	// LayerNorm is (x − mean(x)) / √(var(x) + eps) · weight (+ bias) over each
	// row: ModernBERT's, without bias.
	LayerNorm NormKind = iota
	// RMSNorm is x / √(mean(x²) + eps) · (weight + Config.NormWeightOffset),
	// without bias: LLaDA, Dream, Llama, Qwen (offset 0), Gemma (offset 1).
	RMSNorm
)

func (k NormKind) String() string {
	switch k {
	case LayerNorm:
		return "LayerNorm"
	case RMSNorm:
		return "RMSNorm"
	}
	return fmt.Sprintf("NormKind(%d)", int(k))
}

// MLPKind is the feed-forward half of a block.
type MLPKind int

const (
	// GeGLU is Down·(GELU(u) ⊙ g) where [u; g] = Up·x: one fused Up [2I, H]
	// whose first I rows go through GELU and whose last I rows are the gate
	// (ModernBERT's mlp.Wi).
	GeGLU MLPKind = iota
	// SwiGLU is Down·(SiLU(g) ⊙ u) where [g; u] = Up·x: the gate first, as
	// Llama's gate_proj and up_proj stacked into one Up [2I, H]. A mixture of
	// experts comes after it, applied in mlp, with the router and the
	// experts in Weights.
	SwiGLU
)

func (k MLPKind) String() string {
	switch k {
	case GeGLU:
		return "GeGLU"
	case SwiGLU:
		return "SwiGLU"
	}
	return fmt.Sprintf("MLPKind(%d)", int(k))
}

// RotaryLayout is how rotary embeddings are applied to the packed qkv.
type RotaryLayout int

const (
	// RotateQK rotates every Q and K head of the packed qkv
	// [N, nh + 2·nkv, d] (the first nh + nkv heads; V passes through) in the
	// rotate-half pairing (coordinates k and k + r/2 form a pair, r the
	// rotary size: Config.RotaryDim, or d), with the layer's base
	// Layer.Theta and Config.RopeScaling's Llama-3 frequencies: ModernBERT,
	// LLaDA, and Hugging Face's Llama and Qwen.
	RotateQK RotaryLayout = iota
)

func (k RotaryLayout) String() string {
	switch k {
	case RotateQK:
		return "RotateQK"
	}
	return fmt.Sprintf("RotaryLayout(%d)", int(k))
}

// Config is what the blocks of one model share.
type Config struct {
	Hidden       int // H, the width of the residual stream
	Heads        int // nh attention (query) heads of d = H/nh
	Intermediate int // I, the MLP's inner width

	// KVHeads is nkv, the number of key/value heads of grouped-query
	// attention; 0 means nh. nh must be a multiple of it: query head j uses
	// key/value head ⌊j·nkv/nh⌋ (consecutive query heads share one). The
	// packed QKV projection is then (nh + 2·nkv)·d wide.
	KVHeads int
	// HeadSize is d where it is not H/nh (Qwen3: 128 whatever the width);
	// 0 means H/nh. The attention output is nh·d wide, which O maps to H.
	HeadSize int
	// SeparateQKV says that the checkpoint stores the query, key and value
	// projections as three tensors (Weights.Q, K, V: Llama's q_proj,
	// k_proj, v_proj) instead of one packed QKV. NewWeights makes them views
	// of consecutive rows of one tensor, which is the packed projection: the
	// parameters are exactly the checkpoint's tensors, and the block still
	// runs one GEMM, without a copy, into the same packed qkv.
	SeparateQKV bool
	// SeparateGateUp is the same for the gated MLP: Weights.Gate and
	// Weights.Up [I, H] each (Llama's gate_proj and up_proj) instead of one
	// Up [2I, H], stacked gate first.
	SeparateGateUp bool
	// QKNorm normalises each query and key head by its own RMSNorm over d
	// (Weights.QNorm, KNorm, weights [d]) after the projection and before
	// the rotary: Qwen3's q_norm and k_norm. Eps and weight offset are the
	// config's.
	QKNorm bool
	// RotaryDim is partial rotary: only the first RotaryDim coordinates of
	// each Q and K head turn; 0 means all d.
	RotaryDim int
	// RopeScaling is Llama 3.1's frequency scaling; the zero value is none.
	RopeScaling tensor.RoPELlama3

	Norm     NormKind
	NormEps  float32
	NormBias bool // LayerNorm only: the norms have a bias (ModernBERT: no)
	// NormWeightOffset is RMSNorm's: the scale is weight + offset (1 for
	// Gemma, whose checkpoints store the scale minus one; else 0).
	NormWeightOffset float32

	MLP    MLPKind
	Rotary RotaryLayout

	// QKVBias, OBias and MLPBias give the projections a bias: the packed
	// QKV (Qwen2 has one), the attention output O, and the MLP's Up and Down.
	QKVBias, OBias, MLPBias bool

	// MoE is the mixture of experts of the layers whose Layer.MoE is set
	// (the other layers keep the MLP above); the zero value is none.
	MoE MoE

	// WeightDType is the dtype NewWeights gives the projections' weights
	// (not the experts', norms' or biases'): F32 (the zero value means F32)
	// to train, or BF16 to keep a checkpoint's BF16 weights as they are for
	// inference, at half the memory.
	WeightDType tensor.DType
}

// weightDType is WeightDType, F32 when unset.
func (c Config) weightDType() tensor.DType {
	if c.WeightDType == 0 {
		return tensor.F32
	}
	return c.WeightDType
}

// HeadDim is d: HeadSize, or H/nh.
func (c Config) HeadDim() int {
	if c.HeadSize > 0 {
		return c.HeadSize
	}
	return c.Hidden / c.Heads
}

// KV is nkv, the number of key/value heads: KVHeads, or Heads.
func (c Config) KV() int {
	if c.KVHeads > 0 {
		return c.KVHeads
	}
	return c.Heads
}

// QKVHeads is the number of heads in a row of the packed qkv: nh + 2·nkv.
func (c Config) QKVHeads() int { return c.Heads + 2*c.KV() }

// Validate rejects a configuration no block can run.
func (c Config) Validate() error {
	switch {
	case c.Hidden <= 0 || c.Heads <= 0 || c.Intermediate <= 0:
		return fmt.Errorf("transformer: sizes H=%d, heads=%d, I=%d must be positive", c.Hidden, c.Heads, c.Intermediate)
	case c.HeadSize == 0 && c.Hidden%c.Heads != 0:
		return fmt.Errorf("transformer: %d heads do not divide the width %d", c.Heads, c.Hidden)
	case c.HeadSize < 0 || c.KVHeads < 0 || c.RotaryDim < 0:
		return fmt.Errorf("transformer: negative head size %d, key/value heads %d or rotary size %d", c.HeadSize, c.KVHeads, c.RotaryDim)
	case c.Heads%c.KV() != 0:
		return fmt.Errorf("transformer: %d key/value heads do not divide the %d query heads", c.KV(), c.Heads)
	case c.HeadDim()%2 != 0:
		return fmt.Errorf("transformer: head size %d is odd; rotary embeddings rotate pairs", c.HeadDim())
	case c.RotaryDim%2 != 0 || c.RotaryDim > c.HeadDim():
		return fmt.Errorf("transformer: rotary size %d must be even and at most the head size %d", c.RotaryDim, c.HeadDim())
	case c.NormEps <= 0:
		return fmt.Errorf("transformer: norm eps %g must be positive", c.NormEps)
	}
	switch c.Norm {
	case LayerNorm:
		if c.NormWeightOffset != 0 {
			return fmt.Errorf("transformer: a weight offset of %g for LayerNorm, which has none", c.NormWeightOffset)
		}
	case RMSNorm:
		if c.NormBias {
			return fmt.Errorf("transformer: RMSNorm has no bias")
		}
	default:
		return fmt.Errorf("transformer: unknown norm %v", c.Norm)
	}
	if c.QKNorm && c.Norm != RMSNorm {
		return fmt.Errorf("transformer: per-head q/k norms are RMSNorms, the config's norm is %v", c.Norm)
	}
	if c.MLP != GeGLU && c.MLP != SwiGLU {
		return fmt.Errorf("transformer: unknown MLP %v", c.MLP)
	}
	if c.MoE != (MoE{}) {
		if err := c.MoE.validate(c); err != nil {
			return err
		}
	}
	if c.Rotary != RotateQK {
		return fmt.Errorf("transformer: unknown rotary layout %v", c.Rotary)
	}
	return nil
}

// Layer is one layer's geometry.
type Layer struct {
	// Theta is the rotary base: pair k of a head of size d turns by
	// position·Theta^(−2k/d).
	Theta float64
	// Window is the attention's local window in Hugging Face's sense: query
	// i sees key j iff |i−j| ≤ Window/2. 0 attends everywhere.
	Window int
	// NoAttnNorm skips the attention norm: ModernBERT's layer 0, whose input
	// is the just-normalised embeddings.
	NoAttnNorm bool
	// MoE replaces the layer's MLP by Config.MoE's mixture of experts.
	MoE bool
}

// Norm is a normalisation layer over the rows of [N, H]: *nn.LayerNorm or
// *nn.RMSNorm.
type Norm interface {
	Forward(tp *nn.Tape, x *nn.Var) *nn.Var
	Params() []*nn.Param
}

// Weights are one block's parameters by role.
type Weights struct {
	AttnNorm Norm // nil where Layer.NoAttnNorm
	// QKV [(nh+2·nkv)·d, H] is the packed projection: rows Q, K, V, each
	// head-major. With Config.SeparateQKV it is nil and Q [nh·d, H],
	// K and V [nkv·d, H] hold its three parts.
	QKV     *nn.Linear
	Q, K, V *nn.Linear
	// QNorm and KNorm are the per-head norms over d (Config.QKNorm), else nil.
	QNorm, KNorm Norm
	O            *nn.Linear // [H, nh·d]
	MLPNorm      Norm
	// Up is [2I, H] for the gated MLPs, the gate's rows first; with
	// Config.SeparateGateUp it is [I, H] and Gate [I, H] is the gate.
	Gate, Up *nn.Linear
	Down     *nn.Linear // [H, I]

	// Router [E, H], ExpertBias [E] (or nil), Experts and Shared (or nil)
	// are the mixture of experts of a Layer.MoE layer, which has no Gate,
	// Up and Down.
	Router     *nn.Linear
	ExpertBias *nn.Param
	Experts    []*Expert
	Shared     *Expert

	// qkvStack and gateUpStack are the storage that NewWeights made Q, K, V
	// (and Gate, Up) views of: the packed projection, without a copy.
	qkvStack, gateUpStack *stack

	// qkIdx keeps qkNorm's gather indices per row count on the device, so
	// that a forward pass uploads nothing after its first (a recorded graph
	// may replay it). NewWeights makes it with QKNorm; without it (Weights
	// written by hand) qkNorm uploads its indices every time.
	qkIdx *qkIndices
}

// stack is one packed projection whose row ranges are the weights (and
// biases) of the Linears parts.
type stack struct {
	w, b  *tensor.Tensor // b nil without bias
	parts []*nn.Linear
}

// newStack makes Linears named names, of in inputs and outs[i] outputs,
// whose weights (of dtype dt; biases F32) are consecutive row ranges of one
// tensor.
func newStack(be tensor.Backend, dt tensor.DType, in int, bias bool, names []string, outs []int) *stack {
	total := 0
	for _, o := range outs {
		total += o
	}
	st := &stack{w: nn.NewWeight(be, dt, total, in)}
	if bias {
		st.b = be.New(tensor.F32, total)
	}
	at := 0
	for i, o := range outs {
		l := &nn.Linear{W: &nn.Param{Name: names[i] + ".weight", Var: nn.Leaf(st.w.Rows(at, at+o))}}
		if bias {
			l.B = &nn.Param{Name: names[i] + ".bias", Var: nn.Leaf(st.b.Rows(at, at+o)), NoDecay: true}
		}
		st.parts = append(st.parts, l)
		at += o
	}
	return st
}

// holds reports whether ls are still the stack's own Linears (a caller may
// have replaced one).
func (st *stack) holds(ls []*nn.Linear) bool {
	return st != nil && slices.Equal(st.parts, ls)
}

// qkIndices are qkNorm's gathers by row count N: the query rows, key rows
// and value rows of the packed qkv, and the way back to packed order.
type qkIndices struct {
	mu    sync.Mutex
	byRow map[int][4]*tensor.Tensor
}

// Params lists the weights in the order AttnNorm, QKV (or Q, K, V), QNorm,
// KNorm, O, MLPNorm, (Gate,) Up, Down, skipping those a block has not.
func (w Weights) Params() []*nn.Param {
	var ps []*nn.Param
	for _, n := range []Norm{w.AttnNorm} {
		if n != nil {
			ps = append(ps, n.Params()...)
		}
	}
	for _, l := range []*nn.Linear{w.QKV, w.Q, w.K, w.V} {
		if l != nil {
			ps = append(ps, l.Params()...)
		}
	}
	for _, n := range []Norm{w.QNorm, w.KNorm} {
		if n != nil {
			ps = append(ps, n.Params()...)
		}
	}
	ps = append(ps, w.O.Params()...)
	ps = append(ps, w.MLPNorm.Params()...)
	if w.Router != nil {
		return append(ps, w.moeParams()...)
	}
	if w.Gate != nil {
		ps = append(ps, w.Gate.Params()...)
	}
	ps = append(ps, w.Up.Params()...)
	return append(ps, w.Down.Params()...)
}

// Names are the checkpoint names of a block's weights, without the
// ".weight" and ".bias" that the layers append. Q, K, V are used with
// Config.SeparateQKV instead of QKV, Gate with Config.SeparateGateUp, QNorm
// and KNorm with Config.QKNorm.
type Names struct {
	AttnNorm, QKV, O, MLPNorm, Up, Down string
	Q, K, V, QNorm, KNorm, Gate         string
	// Router and ExpertBias name the mixture's router and bias; Experts
	// and Shared are prefixes: expert e's projections are
	// Experts+"{e}.gate_proj" (up_proj, down_proj), the shared expert's
	// Shared+"gate_proj" and so on.
	Router, ExpertBias, Experts, Shared string
}

// NewWeights makes one block's weights on b as Config and Layer describe
// them: zero projections and unit norms. The config must be valid.
func NewWeights(b tensor.Backend, c Config, l Layer, names Names) Weights {
	h, d, dt := c.Hidden, c.HeadDim(), c.weightDType()
	w := Weights{
		O:       nn.NewLinearOf(b, dt, names.O, c.Heads*d, h, c.OBias),
		MLPNorm: newNorm(b, c, names.MLPNorm, h),
	}
	if l.MoE {
		newMoE(b, c, names, &w)
	} else {
		w.Down = nn.NewLinearOf(b, dt, names.Down, c.Intermediate, h, c.MLPBias)
	}
	if c.SeparateQKV {
		w.qkvStack = newStack(b, dt, h, c.QKVBias, []string{names.Q, names.K, names.V}, []int{c.Heads * d, c.KV() * d, c.KV() * d})
		w.Q, w.K, w.V = w.qkvStack.parts[0], w.qkvStack.parts[1], w.qkvStack.parts[2]
	} else {
		w.QKV = nn.NewLinearOf(b, dt, names.QKV, h, c.QKVHeads()*d, c.QKVBias)
	}
	if c.QKNorm {
		w.QNorm = newNorm(b, c, names.QNorm, d)
		w.KNorm = newNorm(b, c, names.KNorm, d)
		w.qkIdx = &qkIndices{byRow: map[int][4]*tensor.Tensor{}}
	}
	switch {
	case l.MoE:
	case c.SeparateGateUp:
		w.gateUpStack = newStack(b, dt, h, c.MLPBias, []string{names.Gate, names.Up}, []int{c.Intermediate, c.Intermediate})
		w.Gate, w.Up = w.gateUpStack.parts[0], w.gateUpStack.parts[1]
	default:
		w.Up = nn.NewLinearOf(b, dt, names.Up, h, 2*c.Intermediate, c.MLPBias)
	}
	if !l.NoAttnNorm {
		w.AttnNorm = newNorm(b, c, names.AttnNorm, h)
	}
	return w
}

// newNorm makes a norm of c's kind over dim features.
func newNorm(b tensor.Backend, c Config, name string, dim int) Norm {
	switch c.Norm {
	case LayerNorm:
		return nn.NewLayerNorm(b, name, dim, c.NormEps, c.NormBias)
	case RMSNorm:
		return nn.NewRMSNorm(b, name, dim, c.NormEps, c.NormWeightOffset)
	}
	panic(fmt.Sprintf("transformer: unknown norm %v", c.Norm))
}

// Block is one layer ready to run: the model's config, the layer's geometry
// and its weights.
type Block struct {
	Config  Config
	Layer   Layer
	Weights Weights
}

// An Attention is the hook of a block: it maps the post-rotary packed qkv
// [N, nh + 2·nkv, d] of the block's N rows to the attention output
// [N, nh·d], with the block's attention parameters p (heads, key/value
// heads, scale, window). FullAttention and DualCache make them.
type Attention func(tp *nn.Tape, qkv *nn.Var, p tensor.AttentionParams) *nn.Var

// Forward runs the block on the hidden rows x [N, H] at the rotary positions
// pos [N] (I32), with attend as its attention. With a recording tape it keeps
// what the backward pass needs; the tape's Precision decides the arithmetic
// of the projections.
func (b Block) Forward(tp *nn.Tape, x *nn.Var, pos *tensor.Tensor, attend Attention) *nn.Var {
	c, w := b.Config, b.Weights
	n := x.Shape()[0]
	a := x
	if !b.Layer.NoAttnNorm {
		a = w.AttnNorm.Forward(tp, x)
	}
	qkv := tp.Reshape(b.qkvProj(tp, a), n, c.QKVHeads(), c.HeadDim())
	if c.QKNorm {
		qkv = b.qkNorm(tp, qkv)
	}
	qkv = tp.RoPE(qkv, pos, b.rope())
	x = tp.Add(x, w.O.Forward(tp, attend(tp, qkv, b.AttentionParams())))
	return tp.Add(x, b.mlp(tp, w.MLPNorm.Forward(tp, x)))
}

// qkvProj is the packed projection [N, (nh+2·nkv)·d] of the normalised rows
// a: one GEMM, with the separate Q, K, V weights stacked first where the
// checkpoint keeps them apart.
func (b Block) qkvProj(tp *nn.Tape, a *nn.Var) *nn.Var {
	w := b.Weights
	if !b.Config.SeparateQKV {
		return w.QKV.Forward(tp, a)
	}
	return stacked(tp, a, w.qkvStack, w.Q, w.K, w.V)
}

// stacked applies the Linears ls as one: their weights (and biases) stacked
// row-wise, so that the output is their outputs side by side. Where st
// holds them (NewWeights made them as views of one tensor) the stack is
// that tensor, without a copy; otherwise their rows are copied together.
func stacked(tp *nn.Tape, x *nn.Var, st *stack, ls ...*nn.Linear) *nn.Var {
	ws := make([]*nn.Var, len(ls))
	var bs []*nn.Var
	for i, l := range ls {
		ws[i] = l.W.Var
		if l.B != nil {
			bs = append(bs, l.B.Var)
		}
	}
	bias := len(bs) == len(ls)
	if st.holds(ls) && bias == (st.b != nil) {
		y := tp.Linear(x, tp.Stacked(st.w, ws...))
		if bias {
			y = tp.AddBias(y, tp.Stacked(st.b, bs...))
		}
		return y
	}
	y := tp.Linear(x, tp.ConcatRows(ws...))
	if bias {
		y = tp.AddBias(y, tp.ConcatRows(bs...))
	}
	return y
}

// qkNorm applies QNorm to every query head and KNorm to every key head of
// the packed qkv [N, nh+2·nkv, d]; values pass through. The heads are
// gathered into three contiguous groups (Q, K, V), the first two normalised,
// and gathered back into the packed order.
func (b Block) qkNorm(tp *nn.Tape, qkv *nn.Var) *nn.Var {
	c, w := b.Config, b.Weights
	n, d := qkv.Shape()[0], c.HeadDim()
	idx := b.qkIndices(tp.B, n)
	rows := tp.Reshape(qkv, n*c.QKVHeads(), d)
	q := w.QNorm.Forward(tp, tp.GatherRows(rows, idx[0]))
	k := w.KNorm.Forward(tp, tp.GatherRows(rows, idx[1]))
	v := tp.GatherRows(rows, idx[2])
	out := tp.GatherRows(tp.ConcatRows(q, k, v), idx[3])
	return tp.Reshape(out, n, c.QKVHeads(), d)
}

// qkIndices returns qkNorm's gathers for n rows on be, made once per n
// where the weights keep them.
func (b Block) qkIndices(be tensor.Backend, n int) [4]*tensor.Tensor {
	cache := b.Weights.qkIdx
	if cache != nil {
		cache.mu.Lock()
		defer cache.mu.Unlock()
		if idx, ok := cache.byRow[n]; ok {
			return idx
		}
	}
	c := b.Config
	nh, nkv, heads := c.Heads, c.KV(), c.QKVHeads()
	var idx [4]*tensor.Tensor
	for part, span := range [3][2]int{{0, nh}, {nh, nkv}, {nh + nkv, nkv}} { // Q, K, V heads
		v := make([]int32, 0, n*span[1])
		for i := range n {
			for h := range span[1] {
				v = append(v, int32(i*heads+span[0]+h))
			}
		}
		idx[part] = be.FromHost(tensor.FromI32(v, len(v)))
	}
	// Back to packed order: row i's head h sits at i·nh+h among the queries,
	// n·nh + i·nkv + h among the keys, n·(nh+nkv) + i·nkv + h among the values.
	back := make([]int32, 0, n*heads)
	for i := range n {
		for h := range nh {
			back = append(back, int32(i*nh+h))
		}
		for part := range 2 {
			for h := range nkv {
				back = append(back, int32(n*nh+part*n*nkv+i*nkv+h))
			}
		}
	}
	idx[3] = be.FromHost(tensor.FromI32(back, len(back)))
	if cache != nil {
		cache.byRow[n] = idx
	}
	return idx
}

// AttentionParams are the block's heads, key/value heads, scale 1/√d and
// window.
func (b Block) AttentionParams() tensor.AttentionParams {
	c := b.Config
	return tensor.AttentionParams{
		Heads:   c.Heads,
		KVHeads: c.KVHeads,
		Scale:   float32(1 / math.Sqrt(float64(c.HeadDim()))),
		Window:  b.Layer.Window,
	}
}

// rope is the rotation of the packed qkv.
func (b Block) rope() tensor.RoPEParams {
	c := b.Config
	switch c.Rotary {
	case RotateQK:
		return tensor.RoPEParams{Theta: b.Layer.Theta, Heads: c.Heads + c.KV(), RotaryDim: c.RotaryDim, Llama3: c.RopeScaling}
	}
	panic(fmt.Sprintf("transformer: unknown rotary layout %v", c.Rotary))
}

// mlp is the feed-forward half on the normalised rows x [N, H].
func (b Block) mlp(tp *nn.Tape, x *nn.Var) *nn.Var {
	if b.Layer.MoE {
		return b.moe(tp, x)
	}
	w := b.Weights
	var up *nn.Var // [N, 2I], the first half through the activation
	if b.Config.SeparateGateUp {
		up = stacked(tp, x, w.gateUpStack, w.Gate, w.Up)
	} else {
		up = w.Up.Forward(tp, x)
	}
	switch b.Config.MLP {
	case GeGLU:
		return w.Down.Forward(tp, tp.GeGLU(up))
	case SwiGLU:
		return w.Down.Forward(tp, tp.SwiGLU(up))
	}
	panic(fmt.Sprintf("transformer: unknown MLP %v", b.Config.MLP))
}

// FullAttention is the attention over whole sequences: the N = batch·seq
// rows are batch sequences of seq tokens, and each query sees the keys of
// its own sequence within the layer's window that keyMask [batch, seq] (I32,
// 1 = real token; nil: all) lets through. Global and sliding-window layers
// differ only in their window. This is the training forward pass's attention
// and the sampler's.
func FullAttention(keyMask *tensor.Tensor, batch, seq int) Attention {
	return func(tp *nn.Tape, qkv *nn.Var, p tensor.AttentionParams) *nn.Var {
		d := qkv.Shape()[2]
		var packed *nn.Var
		if p.KV() == p.Heads {
			packed = tp.Reshape(qkv, batch, seq, 3, p.Heads, d)
		} else {
			packed = tp.Reshape(qkv, batch, seq, p.Heads+2*p.KV(), d)
		}
		att := tp.Attention(packed, keyMask, p)
		return tp.Reshape(att, batch*seq, p.Heads*d)
	}
}
