package llada

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"

	"github.com/dllmgo/dllm/internal/atomicfile"
	"github.com/dllmgo/dllm/lm"
)

// Config is a LLaDA configuration in the spelling of the released
// checkpoints' config.json (the OLMo-derived LLaDAConfig). Every key the
// arithmetic depends on is a field; a key config.json leaves out takes the
// default of LLaDAConfig's ModelConfig, which describes OLMo rather than
// LLaDA (the released checkpoints spell every key). Keys with no effect on
// the model (init_device, precision, auto_map, ...) are kept in Extra, so a
// folder's config.json survives a load and a save.
type Config struct {
	DModel        int  // d_model: the width of the residual stream
	NHeads        int  // n_heads: query heads of d_model/n_heads
	NKVHeads      *int // n_kv_heads: key/value heads (GQA); nil means n_heads
	MultiQuery    bool // multi_query_attention: one key/value head
	NLayers       int  // n_layers
	MLPHiddenSize *int // mlp_hidden_size; nil means mlp_ratio·d_model
	MLPRatio      int  // mlp_ratio

	ActivationType      string // activation_type: only "silu" (with block_type llama)
	BlockType           string // block_type: only "llama" (separate q/k/v, up_proj)
	BlockGroupSize      int    // block_group_size: sharding only
	LayerNormType       string // layer_norm_type: only "rms"
	LayerNormWithAffine bool   // layer_norm_with_affine: must be true
	BiasForLayerNorm    *bool  // bias_for_layer_norm; nil inherits include_bias
	RMSNormEps          float64

	Rope              bool    // rope: must be true
	RopeTheta         float64 // rope_theta
	RopeFullPrecision bool    // rope_full_precision: rotary in f32 (always so here)
	Alibi             bool    // alibi: must be false
	AttentionLN       bool    // attention_layer_norm: must be false

	IncludeBias    bool // include_bias: a bias on every Linear
	IncludeQKVBias bool // include_qkv_bias: a bias on q/k/v_proj
	InputEmbNorm   bool // input_emb_norm: embeddings times √d_model
	ScaleLogits    bool // scale_logits: logits divided by √d_model

	VocabSize     int  // vocab_size: the tokenizer's
	EmbeddingSize *int // embedding_size: rows of wte and width of the logits; nil means vocab_size
	WeightTying   bool // weight_tying: the head is wte (no ff_out)

	MaxSequenceLength int // max_sequence_length: the longest sequence trained on

	AttentionDropout, ResidualDropout, EmbeddingDropout float64 // must be 0

	MaskTokenID, EOSTokenID, PadTokenID int

	InitStd float64 // init_std: the σ of Init

	// Extra holds the other keys of config.json verbatim.
	Extra map[string]json.RawMessage
}

// defaultConfig is LLaDAConfig's ModelConfig: what a key left out means.
func defaultConfig() Config {
	return Config{
		DModel: 768, NHeads: 12, NLayers: 12, MLPRatio: 4,
		ActivationType: "swiglu", BlockType: "sequential", BlockGroupSize: 1,
		LayerNormType: "default", LayerNormWithAffine: true, RMSNormEps: 1e-5,
		RopeTheta: 10000, RopeFullPrecision: true,
		VocabSize: 50257, EmbeddingSize: ptr(50304), WeightTying: true,
		MaxSequenceLength: 1024,
		AttentionDropout:  0.1, ResidualDropout: 0.1, EmbeddingDropout: 0.1,
		MaskTokenID: 50256, EOSTokenID: 50256, PadTokenID: 50256,
		InitStd: 0.02,
	}
}

func ptr[T any](v T) *T { return &v }

// HeadDim is d = d_model/n_heads.
func (c Config) HeadDim() int { return c.DModel / c.NHeads }

// KVHeads is the effective number of key/value heads.
func (c Config) KVHeads() int {
	switch {
	case c.MultiQuery:
		return 1
	case c.NKVHeads != nil:
		return *c.NKVHeads
	}
	return c.NHeads
}

// MLPHidden is the MLP's inner width F.
func (c Config) MLPHidden() int {
	if c.MLPHiddenSize != nil {
		return *c.MLPHiddenSize
	}
	return c.MLPRatio * c.DModel
}

// Embeddings is E, the rows of wte and the width of the logits.
func (c Config) Embeddings() int {
	if c.EmbeddingSize != nil {
		return *c.EmbeddingSize
	}
	return c.VocabSize
}

// normBias says whether the norms carry a bias.
func (c Config) normBias() bool {
	if c.BiasForLayerNorm != nil {
		return *c.BiasForLayerNorm
	}
	return c.IncludeBias
}

// Validate rejects what this implementation does not run, naming the key.
func (c Config) Validate() error {
	bad := func(key string, v any, why string) error {
		return fmt.Errorf("llada: %s = %v is not supported: %s", key, v, why)
	}
	kv := 0
	if c.NKVHeads != nil {
		kv = *c.NKVHeads
	}
	if err := lm.CheckSizes(
		lm.Size{Key: "n_layers", Value: c.NLayers, Max: lm.MaxLayers},
		lm.Size{Key: "d_model", Value: c.DModel, Max: lm.MaxWidth},
		lm.Size{Key: "n_heads", Value: c.NHeads, Max: lm.MaxHeads},
		lm.Size{Key: "n_kv_heads", Value: kv, Max: lm.MaxHeads},
		lm.Size{Key: "mlp_hidden_size", Value: c.MLPHidden(), Max: lm.MaxWidth},
		lm.Size{Key: "vocab_size", Value: c.VocabSize, Max: lm.MaxVocab},
		lm.Size{Key: "embedding_size", Value: c.Embeddings(), Max: lm.MaxVocab},
		lm.Size{Key: "max_sequence_length", Value: c.MaxSequenceLength, Max: lm.MaxPositions},
	); err != nil {
		return fmt.Errorf("llada: %w", err)
	}
	switch {
	case c.DModel <= 0 || c.NHeads <= 0 || c.NLayers <= 0 || c.VocabSize <= 0:
		return fmt.Errorf("llada: d_model %d, n_heads %d, n_layers %d and vocab_size %d must be positive", c.DModel, c.NHeads, c.NLayers, c.VocabSize)
	case c.DModel%c.NHeads != 0:
		return bad("n_heads", c.NHeads, fmt.Sprintf("it must divide d_model %d", c.DModel))
	case c.HeadDim()%2 != 0:
		return bad("n_heads", c.NHeads, fmt.Sprintf("the head size %d is odd; rotary embeddings rotate pairs", c.HeadDim()))
	case c.MultiQuery && c.NKVHeads != nil && *c.NKVHeads != 1:
		return bad("multi_query_attention", true, fmt.Sprintf("it conflicts with n_kv_heads %d", *c.NKVHeads))
	case c.KVHeads() <= 0 || c.NHeads%c.KVHeads() != 0:
		return bad("n_kv_heads", c.KVHeads(), fmt.Sprintf("it must divide n_heads %d", c.NHeads))
	case c.MLPHidden() <= 0:
		return bad("mlp_hidden_size", c.MLPHidden(), "the MLP width must be positive")
	case c.BlockType != "llama":
		return bad("block_type", strconv.Quote(c.BlockType), `only "llama" (separate q/k/v and up_proj) is implemented`)
	case c.ActivationType != "silu":
		return bad("activation_type", strconv.Quote(c.ActivationType), `only "silu" (the llama block's SwiGLU) is implemented`)
	case c.LayerNormType != "rms":
		return bad("layer_norm_type", strconv.Quote(c.LayerNormType), `only "rms" is implemented`)
	case !c.LayerNormWithAffine:
		return bad("layer_norm_with_affine", false, "the norms must have a weight")
	case c.normBias():
		return bad("bias_for_layer_norm", "true (or null with include_bias)", "RMSNorm has no bias here")
	case c.RMSNormEps <= 0:
		return bad("rms_norm_eps", c.RMSNormEps, "it must be positive")
	case !c.Rope:
		return bad("rope", false, "LLaDA's forward requires rotary embeddings")
	case c.RopeTheta <= 0:
		return bad("rope_theta", c.RopeTheta, "it must be positive")
	case c.Alibi:
		return bad("alibi", true, "LLaDA's forward rejects ALiBi")
	case c.AttentionLN:
		return bad("attention_layer_norm", true, "q/k layer norms over whole vectors are not implemented")
	case c.Embeddings() < c.VocabSize:
		return bad("embedding_size", c.Embeddings(), fmt.Sprintf("it must be at least vocab_size %d", c.VocabSize))
	case c.AttentionDropout != 0:
		return bad("attention_dropout", c.AttentionDropout, "dropout is not implemented")
	case c.ResidualDropout != 0:
		return bad("residual_dropout", c.ResidualDropout, "dropout is not implemented")
	case c.EmbeddingDropout != 0:
		return bad("embedding_dropout", c.EmbeddingDropout, "dropout is not implemented")
	case c.BlockGroupSize <= 0 || c.NLayers%c.BlockGroupSize != 0:
		return bad("block_group_size", c.BlockGroupSize, fmt.Sprintf("it must divide n_layers %d", c.NLayers))
	}
	return nil
}

// field is one config.json key and where it goes: a pointer to a field of
// Config. Its order is the order MarshalJSON writes known keys in (it
// sorts them with Extra's).
type field struct {
	key string
	dst any
}

func (c *Config) fields() []field {
	return []field{
		{"d_model", &c.DModel}, {"n_heads", &c.NHeads}, {"n_kv_heads", &c.NKVHeads},
		{"multi_query_attention", &c.MultiQuery}, {"n_layers", &c.NLayers},
		{"mlp_hidden_size", &c.MLPHiddenSize}, {"mlp_ratio", &c.MLPRatio},
		{"activation_type", &c.ActivationType}, {"block_type", &c.BlockType},
		{"block_group_size", &c.BlockGroupSize}, {"layer_norm_type", &c.LayerNormType},
		{"layer_norm_with_affine", &c.LayerNormWithAffine}, {"bias_for_layer_norm", &c.BiasForLayerNorm},
		{"rms_norm_eps", &c.RMSNormEps}, {"rope", &c.Rope}, {"rope_theta", &c.RopeTheta},
		{"rope_full_precision", &c.RopeFullPrecision}, {"alibi", &c.Alibi},
		{"attention_layer_norm", &c.AttentionLN}, {"include_bias", &c.IncludeBias},
		{"include_qkv_bias", &c.IncludeQKVBias}, {"input_emb_norm", &c.InputEmbNorm},
		{"scale_logits", &c.ScaleLogits}, {"vocab_size", &c.VocabSize},
		{"embedding_size", &c.EmbeddingSize}, {"weight_tying", &c.WeightTying},
		{"max_sequence_length", &c.MaxSequenceLength},
		{"attention_dropout", &c.AttentionDropout}, {"residual_dropout", &c.ResidualDropout},
		{"embedding_dropout", &c.EmbeddingDropout},
		{"mask_token_id", &c.MaskTokenID}, {"eos_token_id", &c.EOSTokenID}, {"pad_token_id", &c.PadTokenID},
		{"init_std", &c.InitStd},
	}
}

// ParseConfig reads a config.json and validates it.
// requiredKeys are the keys a config.json must give: they set the weights'
// shapes.
var requiredKeys = []string{"vocab_size", "d_model", "n_heads", "n_layers"}

func ParseConfig(js []byte) (Config, error) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(js, &raw); err != nil {
		return Config{}, err
	}
	for _, k := range requiredKeys {
		if _, ok := raw[k]; !ok {
			return Config{}, fmt.Errorf("llada: %s is missing (it sets the weights' shapes; a config naming a known family must give it)", k)
		}
	}
	c := defaultConfig()
	for _, f := range c.fields() {
		v, ok := raw[f.key]
		if !ok {
			continue
		}
		delete(raw, f.key)
		if bytes.Equal(bytes.TrimSpace(v), []byte("null")) {
			switch p := f.dst.(type) {
			case **int:
				*p = nil
			case **bool:
				*p = nil
			case *bool: // multi_query_attention: null is false
				*p = false
			default:
				return Config{}, fmt.Errorf("llada: %s is null", f.key)
			}
			continue
		}
		if err := json.Unmarshal(v, f.dst); err != nil {
			return Config{}, fmt.Errorf("llada: %s: %v", f.key, err)
		}
	}
	for k, v := range raw { // compact, so that equal configs compare equal
		var buf bytes.Buffer
		if err := json.Compact(&buf, v); err != nil {
			return Config{}, fmt.Errorf("llada: %s: %v", k, err)
		}
		raw[k] = buf.Bytes()
	}
	c.Extra = raw
	if err := c.Validate(); err != nil {
		return Config{}, err
	}
	return c, nil
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

// MarshalJSON writes every key in the released checkpoints' spelling, with
// Extra's keys and the model_type, architectures and auto_map that let
// transformers (with trust_remote_code) find LLaDA's code.
func (c Config) MarshalJSON() ([]byte, error) {
	out := map[string]any{}
	for k, v := range c.Extra {
		out[k] = v
	}
	for _, f := range c.fields() {
		switch p := f.dst.(type) {
		case *float64:
			out[f.key] = json.RawMessage(pyFloat(*p))
		default:
			out[f.key] = p
		}
	}
	if c.MultiQuery {
		out["multi_query_attention"] = true
	} else {
		out["multi_query_attention"] = nil
	}
	out["model_type"] = ModelType
	if _, ok := out["architectures"]; !ok {
		out["architectures"] = []string{"LLaDAModelLM"}
	}
	if _, ok := out["auto_map"]; !ok {
		out["auto_map"] = map[string]string{
			"AutoConfig":           "configuration_llada.LLaDAConfig",
			"AutoModel":            "modeling_llada.LLaDAModelLM",
			"AutoModelForCausalLM": "modeling_llada.LLaDAModelLM",
		}
	}
	return json.MarshalIndent(out, "", "  ")
}

// pyFloat spells a float as Python's json does: always with a point or an
// exponent, so that a float stays a float when read back.
func pyFloat(x float64) string {
	s := strconv.FormatFloat(x, 'g', -1, 64)
	if !strings.ContainsAny(s, ".eEn") && !math.IsInf(x, 0) {
		s += ".0"
	}
	return s
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

// ParamShapes lists every parameter in the model's order: wte, each block
// (attn_norm, q/k/v_proj, attn_out, ff_norm, ff_proj, up_proj, ff_out, each
// Linear followed by its bias where the config asks for one), ln_f, and the
// head ff_out unless the weights are tied.
func (c Config) ParamShapes() []ParamSpec {
	d, e, f := c.DModel, c.Embeddings(), c.MLPHidden()
	kv := c.KVHeads() * c.HeadDim()
	specs := []ParamSpec{{"model.transformer.wte.weight", []int{e, d}}}
	linear := func(name string, out, in int, bias bool) {
		specs = append(specs, ParamSpec{name + ".weight", []int{out, in}})
		if bias {
			specs = append(specs, ParamSpec{name + ".bias", []int{out}})
		}
	}
	qkvBias := c.IncludeBias || c.IncludeQKVBias
	for i := range c.NLayers {
		pre := "model.transformer.blocks." + strconv.Itoa(i) + "."
		specs = append(specs, ParamSpec{pre + "attn_norm.weight", []int{d}})
		linear(pre+"q_proj", d, d, qkvBias)
		linear(pre+"k_proj", kv, d, qkvBias)
		linear(pre+"v_proj", kv, d, qkvBias)
		linear(pre+"attn_out", d, d, c.IncludeBias)
		specs = append(specs, ParamSpec{pre + "ff_norm.weight", []int{d}})
		linear(pre+"ff_proj", f, d, c.IncludeBias)
		linear(pre+"up_proj", f, d, c.IncludeBias)
		linear(pre+"ff_out", d, f, c.IncludeBias)
	}
	specs = append(specs, ParamSpec{"model.transformer.ln_f.weight", []int{d}})
	if !c.WeightTying {
		linear("model.transformer.ff_out", e, d, c.IncludeBias)
	}
	return specs
}

// ParamCount is the number of parameters (8,015,581,184 for LLaDA-8B).
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

// presets are the sizes New accepts. tiny trains on a CPU in seconds; the
// 8B is the released LLaDA-8B-Base/Instruct shape.
var presets = map[string]func() Config{
	// tiny: width 128, 4 layers, 4 heads of 32 on 2 key/value heads, SwiGLU
	// 256: the size of ModernBERT's tiny (the same MLP parameters; grouped
	// keys and values make it a little smaller).
	"tiny": func() Config { return released(128, 4, 2, 4, 256, 512) },
	// small: width 256, 6 layers, 4 heads of 64 on 2 key/value heads, SwiGLU
	// 384: ModernBERT's small.
	"small": func() Config { return released(256, 4, 2, 6, 384, 1024) },
	// llada-8b: LLaDA-8B's shape and special tokens.
	"llada-8b": func() Config {
		c := released(4096, 32, 32, 32, 12288, 4096)
		c.VocabSize, c.EmbeddingSize = 126464, ptr(126464)
		c.MaskTokenID, c.EOSTokenID, c.PadTokenID = 126336, 126081, 126081
		return c
	},
}

// PresetNames are the presets, smallest first.
var PresetNames = []string{"tiny", "small", "llada-8b"}

// released is the released checkpoints' config at another size.
func released(d, heads, kvHeads, layers, mlp, positions int) Config {
	c := defaultConfig()
	c.DModel, c.NHeads, c.NKVHeads, c.NLayers, c.MLPHiddenSize = d, heads, ptr(kvHeads), layers, ptr(mlp)
	c.ActivationType, c.BlockType, c.LayerNormType, c.BiasForLayerNorm = "silu", "llama", "rms", ptr(false)
	c.Rope, c.RopeTheta, c.WeightTying = true, 500000, false
	c.AttentionDropout, c.ResidualDropout, c.EmbeddingDropout = 0, 0, 0
	c.MaxSequenceLength = positions
	c.VocabSize, c.EmbeddingSize = 256, ptr(256)
	c.MaskTokenID, c.EOSTokenID, c.PadTokenID = 255, 254, 254
	return c
}

// Preset returns a named configuration.
func Preset(name string) (Config, error) {
	p, ok := presets[name]
	if !ok {
		return Config{}, fmt.Errorf("llada: unknown preset %q (known: %s)", name, strings.Join(PresetNames, ", "))
	}
	return p(), nil
}
