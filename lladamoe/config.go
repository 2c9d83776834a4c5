package lladamoe

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/dllmgo/dllm/internal/atomicfile"
	"github.com/dllmgo/dllm/lm"
)

// Variant is which of the two models a Config describes.
type Variant int

const (
	// LLaDAMoE is inclusionAI's LLaDA-MoE (model_type "lladamoe"): an
	// OLMoE/Llama-style model with a dense-or-MoE pattern per layer
	// (moe_layer_freq), an optional shared expert and an optional expert
	// bias; its weights are the selected router probabilities, never
	// renormalised, whatever norm_topk_prob says; logits are not shifted.
	LLaDAMoE Variant = iota
	// RND1 is Radical Numerics' RND1 (model_type "rnd1"): Qwen3-MoE made
	// bidirectional, renormalised top-k weights (norm_topk_prob), every
	// layer a mixture unless mlp_only_layers names it, per-head q/k norms,
	// and logits shifted by one position (position i−1 predicts token i).
	RND1
)

// ModelTypes are the config.json model_types of the variants.
var modelTypes = [...]string{LLaDAMoE: "lladamoe", RND1: "rnd1"}

func (v Variant) String() string { return modelTypes[v] }

// Config is a configuration in config.json's spelling (Hugging Face's). The
// keys the arithmetic depends on are fields; the others are kept in Extra,
// so that a folder's config.json survives a load and a save. Nothing is
// filled from a class's defaults: the file is read as written (RND1's own
// config class overwrites many values of a config.json with its 30B
// defaults; this does not).
type Config struct {
	Variant Variant `json:"-"`

	HiddenSize        int  `json:"hidden_size"`
	NumHiddenLayers   int  `json:"num_hidden_layers"`
	NumAttentionHeads int  `json:"num_attention_heads"`
	NumKeyValueHeads  int  `json:"num_key_value_heads"`
	HeadDimKey        *int `json:"head_dim,omitempty"` // RND1; LLaDA-MoE: hidden/heads

	// LLaDA-MoE's MLP widths; RND1's are IntermediateSize and
	// MoEIntermediateSize.
	DenseIntermediateSize        int  `json:"dense_intermediate_size,omitempty"`
	ExpertIntermediateSize       int  `json:"expert_intermediate_size,omitempty"`
	SharedExpertIntermediateSize *int `json:"shared_expert_intermediate_size,omitempty"`
	IntermediateSize             int  `json:"intermediate_size,omitempty"`
	MoEIntermediateSize          int  `json:"moe_intermediate_size,omitempty"`

	NumExperts       int   `json:"num_experts"`
	NumExpertsPerTok int   `json:"num_experts_per_tok"`
	MoELayerFreq     []int `json:"moe_layer_freq,omitempty"` // LLaDA-MoE: per layer, 0 dense
	// RND1 (Qwen3-MoE): layer i is a mixture unless it is in MLPOnlyLayers
	// or (i+1) is not a multiple of DecoderSparseStep.
	MLPOnlyLayers     []int  `json:"mlp_only_layers,omitempty"`
	DecoderSparseStep int    `json:"decoder_sparse_step,omitempty"`
	NormTopKProb      bool   `json:"norm_topk_prob"`
	ExpertBias        bool   `json:"moe_router_enable_expert_bias"`
	ScoreFunction     string `json:"moe_router_score_function,omitempty"`

	QKLayernorm         bool            `json:"qk_layernorm"` // LLaDA-MoE; RND1 always has them
	RopeTheta           float64         `json:"rope_theta"`
	PartialRotaryFactor *float64        `json:"partial_rotary_factor,omitempty"`
	RopeScaling         json.RawMessage `json:"rope_scaling,omitempty"`
	RMSNormEps          float64         `json:"rms_norm_eps"`
	AttentionBias       bool            `json:"attention_bias"`
	ClipQKV             *float64        `json:"clip_qkv,omitempty"`
	HiddenAct           string          `json:"hidden_act"`
	TieWordEmbeddings   bool            `json:"tie_word_embeddings"`

	VocabSize             int  `json:"vocab_size"`
	MaxPositionEmbeddings int  `json:"max_position_embeddings"`
	PadTokenID            *int `json:"pad_token_id"`
	MaskTokenID           *int `json:"mask_token_id,omitempty"`
	EOSTokenID            *int `json:"eos_token_id"`

	InitializerRange float64 `json:"initializer_range,omitempty"`

	// Extra holds the other keys of config.json verbatim.
	Extra map[string]json.RawMessage `json:"-"`
}

// HeadDim is d: head_dim, or hidden_size/num_attention_heads.
func (c Config) HeadDim() int {
	if c.HeadDimKey != nil {
		return *c.HeadDimKey
	}
	if c.NumAttentionHeads == 0 {
		return 0
	}
	return c.HiddenSize / c.NumAttentionHeads
}

// RotaryDim is head_dim·partial_rotary_factor.
func (c Config) RotaryDim() int {
	if c.PartialRotaryFactor == nil {
		return c.HeadDim()
	}
	return int(float64(c.HeadDim()) * *c.PartialRotaryFactor)
}

// KVHeads is num_key_value_heads, or num_attention_heads where it is 0.
func (c Config) KVHeads() int {
	if c.NumKeyValueHeads > 0 {
		return c.NumKeyValueHeads
	}
	return c.NumAttentionHeads
}

// DenseWidth is the width of the dense layers' MLP.
func (c Config) DenseWidth() int {
	if c.Variant == RND1 {
		return c.IntermediateSize
	}
	return c.DenseIntermediateSize
}

// ExpertWidth is the width of each expert.
func (c Config) ExpertWidth() int {
	if c.Variant == RND1 {
		return c.MoEIntermediateSize
	}
	return c.ExpertIntermediateSize
}

// SharedWidth is the shared expert's width (0: none; RND1 has none).
func (c Config) SharedWidth() int {
	if c.Variant == RND1 || c.SharedExpertIntermediateSize == nil {
		return 0
	}
	return *c.SharedExpertIntermediateSize
}

// QKNorm says whether q and k are normalised per head.
func (c Config) QKNorm() bool { return c.Variant == RND1 || c.QKLayernorm }

// Renormalize says whether the top-k weights are renormalised: RND1's
// norm_topk_prob; never for LLaDA-MoE, whose block hard-codes false.
func (c Config) Renormalize() bool { return c.Variant == RND1 && c.NormTopKProb }

// IsMoE says whether layer i is a mixture of experts.
func (c Config) IsMoE(i int) bool {
	if c.Variant == RND1 {
		step := max(c.DecoderSparseStep, 1)
		return !slices.Contains(c.MLPOnlyLayers, i) && c.NumExperts > 0 && (i+1)%step == 0
	}
	return c.MoELayerFreq[i] != 0
}

// checkSizes refuses sizes past lm's limits.
func (c Config) checkSizes() error {
	err := lm.CheckSizes(
		lm.Size{Key: "num_hidden_layers", Value: c.NumHiddenLayers, Max: lm.MaxLayers},
		lm.Size{Key: "hidden_size", Value: c.HiddenSize, Max: lm.MaxWidth},
		lm.Size{Key: "head_dim", Value: c.HeadDim(), Max: lm.MaxWidth},
		lm.Size{Key: "num_attention_heads", Value: c.NumAttentionHeads, Max: lm.MaxHeads},
		lm.Size{Key: "num_key_value_heads", Value: c.KVHeads(), Max: lm.MaxHeads},
		lm.Size{Key: "num_experts", Value: c.NumExperts, Max: lm.MaxHeads},
		lm.Size{Key: "num_experts_per_tok", Value: c.NumExpertsPerTok, Max: lm.MaxHeads},
		lm.Size{Key: "intermediate_size", Value: c.DenseWidth(), Max: lm.MaxWidth},
		lm.Size{Key: "moe_intermediate_size", Value: c.ExpertWidth(), Max: lm.MaxWidth},
		lm.Size{Key: "vocab_size", Value: c.VocabSize, Max: lm.MaxVocab},
		lm.Size{Key: "max_position_embeddings", Value: c.MaxPositionEmbeddings, Max: lm.MaxPositions},
	)
	if err != nil {
		return fmt.Errorf("%s: %w", c.Variant, err)
	}
	return nil
}

// Validate rejects what this implementation does not run, naming the key.
func (c Config) Validate() error {
	bad := func(key string, v any, why string) error {
		return fmt.Errorf("%s: %s = %v is not supported: %s", c.Variant, key, v, why)
	}
	if err := c.checkSizes(); err != nil {
		return err
	}
	switch {
	case c.HiddenSize <= 0 || c.NumHiddenLayers <= 0 || c.NumAttentionHeads <= 0 || c.VocabSize <= 0:
		return fmt.Errorf("%s: hidden_size %d, num_hidden_layers %d, num_attention_heads %d and vocab_size %d must be positive", c.Variant, c.HiddenSize, c.NumHiddenLayers, c.NumAttentionHeads, c.VocabSize)
	case c.HeadDimKey == nil && c.HiddenSize%c.NumAttentionHeads != 0:
		return bad("num_attention_heads", c.NumAttentionHeads, fmt.Sprintf("it must divide hidden_size %d", c.HiddenSize))
	case c.HeadDim() <= 0 || c.HeadDim()%2 != 0:
		return bad("head_dim", c.HeadDim(), "the head size must be even and positive")
	case c.NumAttentionHeads%c.KVHeads() != 0:
		return bad("num_key_value_heads", c.KVHeads(), fmt.Sprintf("it must divide num_attention_heads %d", c.NumAttentionHeads))
	case c.RotaryDim()%2 != 0 || c.RotaryDim() <= 0 || c.RotaryDim() > c.HeadDim():
		return bad("partial_rotary_factor", *c.PartialRotaryFactor, fmt.Sprintf("the rotary size %d must be even, positive and at most head_dim %d", c.RotaryDim(), c.HeadDim()))
	case c.NumExperts <= 0:
		return bad("num_experts", c.NumExperts, "it must be positive")
	case c.NumExpertsPerTok <= 0 || c.NumExpertsPerTok > c.NumExperts:
		return bad("num_experts_per_tok", c.NumExpertsPerTok, fmt.Sprintf("it must be in [1, num_experts %d]", c.NumExperts))
	case c.ExpertWidth() <= 0:
		return bad(map[Variant]string{LLaDAMoE: "expert_intermediate_size", RND1: "moe_intermediate_size"}[c.Variant], c.ExpertWidth(), "it must be positive")
	case c.Variant == LLaDAMoE && len(c.MoELayerFreq) != c.NumHiddenLayers:
		return bad("moe_layer_freq", c.MoELayerFreq, fmt.Sprintf("it has %d entries for %d layers", len(c.MoELayerFreq), c.NumHiddenLayers))
	case c.ScoreFunction != "" && c.ScoreFunction != "softmax":
		return bad("moe_router_score_function", strconv.Quote(c.ScoreFunction), `only "softmax" is implemented`)
	case c.Renormalize() && c.ExpertBias:
		return bad("moe_router_enable_expert_bias", true, "with renormalised weights it is not implemented")
	case len(c.RopeScaling) > 0 && string(c.RopeScaling) != "null":
		return bad("rope_scaling", string(c.RopeScaling), "only null is implemented")
	case c.RopeTheta <= 0:
		return bad("rope_theta", c.RopeTheta, "it must be positive")
	case c.RMSNormEps <= 0:
		return bad("rms_norm_eps", c.RMSNormEps, "it must be positive")
	case c.ClipQKV != nil:
		return bad("clip_qkv", *c.ClipQKV, "only null is implemented")
	case c.HiddenAct != "silu":
		return bad("hidden_act", strconv.Quote(c.HiddenAct), `only "silu" is implemented`)
	}
	for i := range c.NumHiddenLayers {
		if !c.IsMoE(i) && c.DenseWidth() <= 0 {
			key := map[Variant]string{LLaDAMoE: "dense_intermediate_size", RND1: "intermediate_size"}[c.Variant]
			return bad(key, c.DenseWidth(), fmt.Sprintf("layer %d is dense and needs a positive width", i))
		}
	}
	for _, id := range []*int{c.PadTokenID, c.MaskTokenID, c.EOSTokenID} {
		if id != nil && (*id < 0 || *id >= c.VocabSize) {
			return fmt.Errorf("%s: special token id %d outside vocab_size %d", c.Variant, *id, c.VocabSize)
		}
	}
	return nil
}

// ParseConfig reads a config.json of either variant (by its model_type)
// and validates it.
func ParseConfig(js []byte) (Config, error) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(js, &raw); err != nil {
		return Config{}, err
	}
	var mt string
	if v, ok := raw["model_type"]; ok {
		_ = json.Unmarshal(v, &mt)
	}
	var c Config
	switch mt {
	case "lladamoe":
		c.Variant = LLaDAMoE
	case "rnd1":
		c.Variant = RND1
	default:
		return Config{}, fmt.Errorf("lladamoe: model_type %q is neither lladamoe nor rnd1", mt)
	}
	c.HiddenAct = "silu"
	if err := json.Unmarshal(js, &c); err != nil {
		return Config{}, fmt.Errorf("%s: %v", c.Variant, err)
	}
	if err := c.checkSizes(); err != nil {
		return Config{}, err
	}
	if c.Variant == LLaDAMoE && c.MoELayerFreq == nil && c.NumHiddenLayers > 0 {
		return Config{}, fmt.Errorf("%s: moe_layer_freq is missing", c.Variant)
	}
	for _, k := range knownKeys() {
		delete(raw, k)
	}
	delete(raw, "model_type")
	for k, v := range raw {
		var buf bytes.Buffer
		if err := json.Compact(&buf, v); err != nil {
			return Config{}, fmt.Errorf("%s: %s: %v", c.Variant, k, err)
		}
		raw[k] = buf.Bytes()
	}
	c.Extra = raw
	if err := c.Validate(); err != nil {
		return Config{}, err
	}
	return c, nil
}

// knownKeys are the JSON names of Config's fields.
func knownKeys() []string {
	js, _ := json.Marshal(Config{HeadDimKey: new(int), SharedExpertIntermediateSize: new(int),
		PartialRotaryFactor: new(float64), ClipQKV: new(float64), MaskTokenID: new(int),
		DenseIntermediateSize: 1, ExpertIntermediateSize: 1, IntermediateSize: 1, MoEIntermediateSize: 1,
		MoELayerFreq: []int{1}, MLPOnlyLayers: []int{1}, DecoderSparseStep: 1, ExpertBias: true,
		ScoreFunction: "x", QKLayernorm: true, RopeScaling: json.RawMessage("1"), InitializerRange: 1})
	var m map[string]any
	_ = json.Unmarshal(js, &m)
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	return keys
}

// LoadConfig reads and validates a config.json; errors name the file.
func LoadConfig(path string) (Config, error) {
	js, err := os.ReadFile(path)
	if err != nil {
		return Config{}, err
	}
	c, err := ParseConfig(js)
	if err != nil {
		return Config{}, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

// MarshalJSON writes the known keys, Extra's and the model_type.
func (c Config) MarshalJSON() ([]byte, error) {
	type plain Config
	js, err := json.Marshal(plain(c))
	if err != nil {
		return nil, err
	}
	out := map[string]json.RawMessage{}
	for k, v := range c.Extra {
		out[k] = v
	}
	var known map[string]json.RawMessage
	if err := json.Unmarshal(js, &known); err != nil {
		return nil, err
	}
	for k, v := range known {
		out[k] = v
	}
	if c.Variant == RND1 { // LLaDA-MoE's keys, false, that an RND1 config.json need not spell
		for _, k := range []string{"qk_layernorm", "moe_router_enable_expert_bias"} {
			if _, kept := c.Extra[k]; !kept && string(out[k]) == "false" {
				delete(out, k)
			}
		}
	}
	out["model_type"], _ = json.Marshal(c.Variant.String())
	if _, ok := out["architectures"]; !ok {
		arch := map[Variant]string{LLaDAMoE: "LLaDAMoEModelLM", RND1: "RND1LM"}[c.Variant]
		out["architectures"], _ = json.Marshal([]string{arch})
	}
	return json.MarshalIndent(out, "", "  ")
}

// SaveConfig writes c as config.json at path, atomically.
func SaveConfig(path string, c Config) error {
	js, err := json.Marshal(c)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	if err := json.Indent(&buf, js, "", "  "); err != nil {
		return err
	}
	buf.WriteByte('\n')
	return atomicfile.WriteBytes(path, buf.Bytes(), 0o644)
}

// ParamSpec names one parameter tensor as the checkpoints store it.
type ParamSpec struct {
	Name  string
	Shape []int
}

// ParamShapes lists every parameter in the model's order: embed_tokens,
// each layer (input_layernorm, q/k/v_proj, q/k_norm, o_proj,
// post_attention_layernorm, then the dense MLP's gate/up/down_proj or the
// router, the expert bias, the experts and the shared expert), norm and
// lm_head unless tied.
func (c Config) ParamShapes() []ParamSpec {
	h, d, v := c.HiddenSize, c.HeadDim(), c.VocabSize
	specs := []ParamSpec{{"model.embed_tokens.weight", []int{v, h}}}
	linear := func(name string, out, in int, bias bool) {
		specs = append(specs, ParamSpec{name + ".weight", []int{out, in}})
		if bias {
			specs = append(specs, ParamSpec{name + ".bias", []int{out}})
		}
	}
	mlp := func(pre string, width int) {
		linear(pre+"gate_proj", width, h, false)
		linear(pre+"up_proj", width, h, false)
		linear(pre+"down_proj", h, width, false)
	}
	for i := range c.NumHiddenLayers {
		pre := "model.layers." + strconv.Itoa(i) + "."
		specs = append(specs, ParamSpec{pre + "input_layernorm.weight", []int{h}})
		linear(pre+"self_attn.q_proj", c.NumAttentionHeads*d, h, c.AttentionBias)
		linear(pre+"self_attn.k_proj", c.KVHeads()*d, h, c.AttentionBias)
		linear(pre+"self_attn.v_proj", c.KVHeads()*d, h, c.AttentionBias)
		if c.QKNorm() {
			specs = append(specs, ParamSpec{pre + "self_attn.q_norm.weight", []int{d}}, ParamSpec{pre + "self_attn.k_norm.weight", []int{d}})
		}
		linear(pre+"self_attn.o_proj", h, c.NumAttentionHeads*d, c.AttentionBias)
		specs = append(specs, ParamSpec{pre + "post_attention_layernorm.weight", []int{h}})
		if !c.IsMoE(i) {
			mlp(pre+"mlp.", c.DenseWidth())
			continue
		}
		linear(pre+"mlp.gate", c.NumExperts, h, false)
		if c.ExpertBias {
			specs = append(specs, ParamSpec{pre + expertBiasName, []int{c.NumExperts}})
		}
		for e := range c.NumExperts {
			mlp(pre+"mlp.experts."+strconv.Itoa(e)+".", c.ExpertWidth())
		}
		if c.SharedWidth() > 0 {
			mlp(pre+"shared_expert.", c.SharedWidth()) // under the layer, not its mlp
		}
	}
	specs = append(specs, ParamSpec{"model.norm.weight", []int{h}})
	if !c.TieWordEmbeddings {
		linear("lm_head", v, h, false)
	}
	return specs
}

// expertBiasName is the expert bias's name under a layer. The released
// LLaDA-MoE checkpoints run without one; the name is this package's.
const expertBiasName = "mlp.expert_bias"

// ParamCount is the number of parameters.
func (c Config) ParamCount() int64 {
	var n int64
	for _, p := range c.ParamShapes() {
		k := int64(1)
		for _, s := range p.Shape {
			k *= int64(s)
		}
		n += k
	}
	return n
}

// ActiveParamCount is the parameters one token goes through: the experts
// it is routed to instead of all of them.
func (c Config) ActiveParamCount() int64 {
	n := c.ParamCount()
	for i := range c.NumHiddenLayers {
		if c.IsMoE(i) {
			n -= int64(c.NumExperts-c.NumExpertsPerTok) * 3 * int64(c.HiddenSize) * int64(c.ExpertWidth())
		}
	}
	return n
}

func ptr[T any](v T) *T { return &v }

// presets are the sizes New accepts, per variant.
var presets = map[Variant]map[string]func() Config{
	LLaDAMoE: {
		// tiny: width 64, 3 layers (dense, MoE, MoE), 4 heads on 2, 8 experts of 32, top 2, shared 64.
		"tiny": func() Config { return lladaMoEShape(64, 4, 2, []int{0, 1, 1}, 128, 8, 2, 32, 64, 512) },
		// small: width 256, 6 layers, 8 heads on 4, 16 experts of 128, top 4, shared 256.
		"small": func() Config { return lladaMoEShape(256, 8, 4, []int{0, 1, 1, 1, 1, 1}, 704, 16, 4, 128, 256, 1024) },
	},
	RND1: {
		// tiny: width 64, 2 layers, 4 heads of 16 on 2, 8 experts of 32, top 2.
		"tiny": func() Config { return rnd1Shape(64, 4, 2, 16, 2, 8, 2, 32, 512) },
		// small: width 256, 6 layers, 8 heads of 32 on 4, 16 experts of 128, top 4.
		"small": func() Config { return rnd1Shape(256, 8, 4, 32, 6, 16, 4, 128, 1024) },
	},
}

// PresetNames are the presets, smallest first.
var PresetNames = []string{"tiny", "small"}

func lladaMoEShape(h, heads, kv int, freq []int, dense, experts, topk, width, shared, positions int) Config {
	return Config{
		Variant: LLaDAMoE, HiddenSize: h, NumHiddenLayers: len(freq), NumAttentionHeads: heads, NumKeyValueHeads: kv,
		DenseIntermediateSize: dense, ExpertIntermediateSize: width, SharedExpertIntermediateSize: ptr(shared),
		NumExperts: experts, NumExpertsPerTok: topk, MoELayerFreq: freq, ScoreFunction: "softmax",
		QKLayernorm: true, RopeTheta: 50000, PartialRotaryFactor: ptr(1.0), RMSNormEps: 1e-5, HiddenAct: "silu",
		VocabSize: 256, MaxPositionEmbeddings: positions, PadTokenID: ptr(254), MaskTokenID: ptr(255), EOSTokenID: ptr(254),
		InitializerRange: 0.02,
	}
}

func rnd1Shape(h, heads, kv, d, layers, experts, topk, width, positions int) Config {
	return Config{
		Variant: RND1, HiddenSize: h, NumHiddenLayers: layers, NumAttentionHeads: heads, NumKeyValueHeads: kv, HeadDimKey: ptr(d),
		IntermediateSize: 4 * h, MoEIntermediateSize: width, NumExperts: experts, NumExpertsPerTok: topk,
		DecoderSparseStep: 1, MLPOnlyLayers: []int{}, NormTopKProb: true,
		RopeTheta: 1e6, RMSNormEps: 1e-6, HiddenAct: "silu",
		VocabSize: 256, MaxPositionEmbeddings: positions, PadTokenID: ptr(254), MaskTokenID: ptr(255), EOSTokenID: ptr(254),
		InitializerRange: 0.02,
	}
}

// Preset returns a named configuration of a variant.
func Preset(v Variant, name string) (Config, error) {
	p, ok := presets[v][name]
	if !ok {
		return Config{}, fmt.Errorf("%s: unknown preset %q (known: %s)", v, name, strings.Join(PresetNames, ", "))
	}
	return p(), nil
}
