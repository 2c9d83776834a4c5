package decoder

import (
	"fmt"
	"strconv"

	"github.com/dllmgo/dllm/lm"
	"github.com/dllmgo/dllm/tensor"
	"github.com/dllmgo/dllm/transformer"
)

// Arch is the network a family's config describes.
type Arch struct {
	// Family and ModelType name the model in lm.Spec; Label starts its
	// one-line description ("Dream", "A2D Qwen3").
	Family, ModelType, Label string

	Vocab, Hidden, Heads, KVHeads, HeadDim, Intermediate, Layers int

	Eps, Theta float64
	// Scaling is Llama 3's rotary frequency scaling; zero: none.
	Scaling tensor.RoPELlama3

	// QKVBias, OBias and MLPBias give the projections biases; QKNorm adds
	// Qwen3's per-head q_norm and k_norm.
	QKVBias, OBias, MLPBias, QKNorm bool
	// Tied makes the head the embedding matrix (no lm_head.weight).
	Tied bool
	// PadIdx is the embedding's padding_idx, whose row gets no gradient
	// (and is zero in a fresh model); -1: none.
	PadIdx int

	// MaxPositions is max_position_embeddings (lm.Spec).
	MaxPositions int
	// Shift says the logits at i predict the token at i+1 (lm.Spec).
	Shift bool
	// MaskPositions makes Logits give a left-padded row the positions
	// cumsum(keyMask)−1, with the padding at 1, so that its first real
	// token sits at position 0 (Dream's sampler); else 0..S−1.
	MaskPositions bool

	// WeightDType is the dtype of the embedding, the head and the blocks'
	// projections: F32 (zero means F32), or BF16 to keep a checkpoint's BF16
	// weights as they are, for inference (LoadDir maps the files then).
	WeightDType tensor.DType

	// LossWeighting is the MDLM loss weighting the family trains with by
	// default (lm.LossWeighter); "" has no preference.
	LossWeighting string

	// InitStd is the σ of Init (initializer_range).
	InitStd float64

	MaskID, PadID, BOSID, EOSID int32
}

// block is the architecture as package transformer's config.
func (a Arch) block() transformer.Config {
	kv := a.KVHeads
	if kv == a.Heads {
		kv = 0
	}
	return transformer.Config{
		Hidden: a.Hidden, Heads: a.Heads, KVHeads: kv, HeadSize: a.HeadDim, Intermediate: a.Intermediate,
		Norm: transformer.RMSNorm, NormEps: float32(a.Eps),
		MLP: transformer.SwiGLU, Rotary: transformer.RotateQK,
		SeparateQKV: true, SeparateGateUp: true, QKNorm: a.QKNorm, RopeScaling: a.Scaling,
		QKVBias: a.QKVBias, OBias: a.OBias, MLPBias: a.MLPBias,
		WeightDType: a.weightDType(),
	}
}

// weightDType is WeightDType, F32 when unset.
func (a Arch) weightDType() tensor.DType {
	if a.WeightDType == 0 {
		return tensor.F32
	}
	return a.WeightDType
}

// Validate checks what the block needs of the sizes.
func (a Arch) Validate() error {
	switch {
	case a.Vocab <= 0 || a.Hidden <= 0 || a.Heads <= 0 || a.KVHeads <= 0 || a.HeadDim <= 0 || a.Intermediate <= 0 || a.Layers <= 0:
		return fmt.Errorf("sizes must be positive: vocab %d, hidden %d, heads %d, key/value heads %d, head size %d, intermediate %d, layers %d",
			a.Vocab, a.Hidden, a.Heads, a.KVHeads, a.HeadDim, a.Intermediate, a.Layers)
	case a.Eps <= 0 || a.Theta <= 0:
		return fmt.Errorf("rms_norm_eps %g and rope_theta %g must be positive", a.Eps, a.Theta)
	}
	return a.block().Validate()
}

// ParamSpec names one parameter as the checkpoints store it.
type ParamSpec struct {
	Name  string
	Shape []int
}

// ParamShapes lists every parameter in the model's order.
func (a Arch) ParamShapes() []ParamSpec {
	d, q, kv, f := a.Hidden, a.Heads*a.HeadDim, a.KVHeads*a.HeadDim, a.Intermediate
	specs := []ParamSpec{{"model.embed_tokens.weight", []int{a.Vocab, d}}}
	linear := func(name string, out, in int, bias bool) {
		specs = append(specs, ParamSpec{name + ".weight", []int{out, in}})
		if bias {
			specs = append(specs, ParamSpec{name + ".bias", []int{out}})
		}
	}
	for i := range a.Layers {
		pre := "model.layers." + strconv.Itoa(i) + "."
		specs = append(specs, ParamSpec{pre + "input_layernorm.weight", []int{d}})
		linear(pre+"self_attn.q_proj", q, d, a.QKVBias)
		linear(pre+"self_attn.k_proj", kv, d, a.QKVBias)
		linear(pre+"self_attn.v_proj", kv, d, a.QKVBias)
		if a.QKNorm {
			specs = append(specs, ParamSpec{pre + "self_attn.q_norm.weight", []int{a.HeadDim}}, ParamSpec{pre + "self_attn.k_norm.weight", []int{a.HeadDim}})
		}
		linear(pre+"self_attn.o_proj", d, q, a.OBias)
		specs = append(specs, ParamSpec{pre + "post_attention_layernorm.weight", []int{d}})
		linear(pre+"mlp.gate_proj", f, d, a.MLPBias)
		linear(pre+"mlp.up_proj", f, d, a.MLPBias)
		linear(pre+"mlp.down_proj", d, f, a.MLPBias)
	}
	specs = append(specs, ParamSpec{"model.norm.weight", []int{d}})
	if !a.Tied {
		linear("lm_head", a.Vocab, d, false)
	}
	return specs
}

// ParamCount is the number of parameters.
func (a Arch) ParamCount() int64 {
	var n int64
	for _, p := range a.ParamShapes() {
		k := int64(1)
		for _, s := range p.Shape {
			k *= int64(s)
		}
		n += k
	}
	return n
}

// Info is what `dllm inspect` prints.
func (a Arch) Info() lm.ConfigInfo {
	head := "lm_head"
	if a.Tied {
		head = "tied to embed_tokens"
	}
	info := lm.ConfigInfo{
		Lines: []string{
			fmt.Sprintf("%s: vocab %d, hidden %d, %d layers, %d heads of %d on %d key/value heads, SwiGLU %d",
				a.Label, a.Vocab, a.Hidden, a.Layers, a.Heads, a.HeadDim, a.KVHeads, a.Intermediate),
			fmt.Sprintf("RMSNorm eps %g, RoPE theta %g, head %s, %d positions, logits shifted: %v", a.Eps, a.Theta, head, a.MaxPositions, a.Shift),
			fmt.Sprintf("mask token %d, pad %d, BOS %d, EOS %d", a.MaskID, a.PadID, a.BOSID, a.EOSID),
		},
		ParamCount: a.ParamCount(),
	}
	for _, p := range a.ParamShapes() {
		info.ParamNames = append(info.ParamNames, p.Name)
	}
	return info
}
