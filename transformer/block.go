package transformer

import (
	"fmt"
	"math"

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
	// RotateQK rotates every whole Q and K head of the packed qkv
	// [N, 3·nh, d] (the first 2·nh heads; V passes through) in the
	// rotate-half pairing (coordinates k and k + d/2 form a pair), with the
	// layer's base Layer.Theta: ModernBERT, and Hugging Face's Llama. With
	// grouped-query attention the rotated heads become nh + nkv; partial
	// rotary (a rotated prefix of each head) and Llama-3 frequency scaling
	// become fields passed on by rope.
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
	Heads        int // nh attention heads of d = H/nh
	Intermediate int // I, the MLP's inner width

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
}

// HeadDim is d = H/nh.
func (c Config) HeadDim() int { return c.Hidden / c.Heads }

// Validate rejects a configuration no block can run.
func (c Config) Validate() error {
	switch {
	case c.Hidden <= 0 || c.Heads <= 0 || c.Intermediate <= 0:
		return fmt.Errorf("transformer: sizes H=%d, heads=%d, I=%d must be positive", c.Hidden, c.Heads, c.Intermediate)
	case c.Hidden%c.Heads != 0:
		return fmt.Errorf("transformer: %d heads do not divide the width %d", c.Heads, c.Hidden)
	case c.HeadDim()%2 != 0:
		return fmt.Errorf("transformer: head size %d is odd; rotary embeddings rotate pairs", c.HeadDim())
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
	if c.MLP != GeGLU && c.MLP != SwiGLU {
		return fmt.Errorf("transformer: unknown MLP %v", c.MLP)
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
}

// Norm is a normalisation layer over the rows of [N, H]: *nn.LayerNorm or
// *nn.RMSNorm.
type Norm interface {
	Forward(tp *nn.Tape, x *nn.Var) *nn.Var
	Params() []*nn.Param
}

// Weights are one block's parameters by role.
type Weights struct {
	AttnNorm Norm       // nil where Layer.NoAttnNorm
	QKV      *nn.Linear // [3H, H]: rows Q, K, V, each head-major
	O        *nn.Linear // [H, H]
	MLPNorm  Norm
	Up       *nn.Linear // [2I, H] for the gated MLPs
	Down     *nn.Linear // [H, I]
}

// Params lists the weights in the order AttnNorm, QKV, O, MLPNorm, Up, Down.
func (w Weights) Params() []*nn.Param {
	var ps []*nn.Param
	if w.AttnNorm != nil {
		ps = append(ps, w.AttnNorm.Params()...)
	}
	ps = append(ps, w.QKV.Params()...)
	ps = append(ps, w.O.Params()...)
	ps = append(ps, w.MLPNorm.Params()...)
	ps = append(ps, w.Up.Params()...)
	return append(ps, w.Down.Params()...)
}

// Names are the checkpoint names of a block's weights, without the
// ".weight" and ".bias" that the layers append.
type Names struct {
	AttnNorm, QKV, O, MLPNorm, Up, Down string
}

// NewWeights makes one block's weights on b as Config and Layer describe
// them: zero projections and unit norms. The config must be valid.
func NewWeights(b tensor.Backend, c Config, l Layer, names Names) Weights {
	h := c.Hidden
	w := Weights{
		QKV:     nn.NewLinear(b, names.QKV, h, 3*h, c.QKVBias),
		O:       nn.NewLinear(b, names.O, h, h, c.OBias),
		MLPNorm: newNorm(b, c, names.MLPNorm),
		Up:      nn.NewLinear(b, names.Up, h, 2*c.Intermediate, c.MLPBias),
		Down:    nn.NewLinear(b, names.Down, c.Intermediate, h, c.MLPBias),
	}
	if !l.NoAttnNorm {
		w.AttnNorm = newNorm(b, c, names.AttnNorm)
	}
	return w
}

// newNorm makes a norm of c's kind over H.
func newNorm(b tensor.Backend, c Config, name string) Norm {
	switch c.Norm {
	case LayerNorm:
		return nn.NewLayerNorm(b, name, c.Hidden, c.NormEps, c.NormBias)
	case RMSNorm:
		return nn.NewRMSNorm(b, name, c.Hidden, c.NormEps, c.NormWeightOffset)
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
// [N, 3·nh, d] of the block's N rows to the attention output [N, H], with the
// block's attention parameters p (heads, scale, window). FullAttention and
// DualCache make them.
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
	qkv := tp.Reshape(w.QKV.Forward(tp, a), n, 3*c.Heads, c.HeadDim())
	qkv = tp.RoPE(qkv, pos, b.rope())
	x = tp.Add(x, w.O.Forward(tp, attend(tp, qkv, b.AttentionParams())))
	return tp.Add(x, b.mlp(tp, w.MLPNorm.Forward(tp, x)))
}

// AttentionParams are the block's heads, scale 1/√d and window.
func (b Block) AttentionParams() tensor.AttentionParams {
	c := b.Config
	return tensor.AttentionParams{
		Heads:  c.Heads,
		Scale:  float32(1 / math.Sqrt(float64(c.HeadDim()))),
		Window: b.Layer.Window,
	}
}

// rope is the rotation of the packed qkv.
func (b Block) rope() tensor.RoPEParams {
	switch b.Config.Rotary {
	case RotateQK:
		return tensor.RoPEParams{Theta: b.Layer.Theta, Heads: 2 * b.Config.Heads}
	}
	panic(fmt.Sprintf("transformer: unknown rotary layout %v", b.Config.Rotary))
}

// mlp is the feed-forward half on the normalised rows x [N, H].
func (b Block) mlp(tp *nn.Tape, x *nn.Var) *nn.Var {
	w := b.Weights
	switch b.Config.MLP {
	case GeGLU:
		return w.Down.Forward(tp, tp.GeGLU(w.Up.Forward(tp, x)))
	case SwiGLU:
		return w.Down.Forward(tp, tp.SwiGLU(w.Up.Forward(tp, x)))
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
		att := tp.Attention(tp.Reshape(qkv, batch, seq, 3, p.Heads, d), keyMask, p)
		return tp.Reshape(att, batch*seq, p.Heads*d)
	}
}
