package a2d

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/dllmgo/dllm/internal/decoder"
	"github.com/dllmgo/dllm/lm"
)

// FamilyName is A2D's name on the command line; the model types are its
// config.json model_type values, one per source architecture.
const (
	FamilyName = "a2d"
	Llama      = "a2d-llama"
	Qwen2      = "a2d-qwen2"
	Qwen3      = "a2d-qwen3"
)

// ModelTypes are the model types A2D reads.
var ModelTypes = []string{Llama, Qwen2, Qwen3}

// Config is an A2D config.json: the source model's, with model_type
// a2d-llama, a2d-qwen2 or a2d-qwen3.
type Config = decoder.Config

func ptr[T any](v T) *T { return &v }

// defaults are transformers' LlamaConfig, Qwen2Config and Qwen3Config
// defaults: what a key left out means.
func defaults(modelType string) Config {
	c := Config{
		ModelType: modelType, VocabSize: 151936, HiddenSize: 4096, IntermediateSize: 22016,
		NumHiddenLayers: 32, NumAttentionHeads: 32, HiddenAct: "silu",
		MaxPositionEmbeddings: 32768, RMSNormEps: 1e-6, RopeTheta: 10000, InitializerRange: 0.02,
	}
	switch modelType {
	case Llama:
		c.VocabSize, c.IntermediateSize, c.MaxPositionEmbeddings = 32000, 11008, 2048
		c.AttentionBias, c.MLPBias = ptr(false), ptr(false)
		c.BOSTokenID, c.EOSTokenID = ptr(1), decoder.TokenIDs{2}
	case Qwen3:
		c.HeadDim, c.AttentionBias = ptr(128), ptr(false)
	}
	return c
}

// ParseConfig reads an A2D config.json and validates it.
func ParseConfig(js []byte) (Config, error) {
	var head struct {
		ModelType string `json:"model_type"`
	}
	if err := json.Unmarshal(js, &head); err != nil {
		return Config{}, fmt.Errorf("a2d: %w", err)
	}
	c, err := decoder.ParseConfig(js, defaults(head.ModelType))
	if err != nil {
		return Config{}, fmt.Errorf("a2d: %w", err)
	}
	if err := Validate(c); err != nil {
		return Config{}, err
	}
	return c, nil
}

// LoadConfig reads and validates dir's config.json; errors name the file.
func LoadConfig(dir string) (Config, error) {
	path := filepath.Join(dir, "config.json")
	js, err := readFile(path)
	if err != nil {
		return Config{}, err
	}
	c, err := ParseConfig(js)
	if err != nil {
		return Config{}, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

// headDim is the head size: head_dim where the source reads it, else
// hidden/heads.
func headDim(c Config) int {
	if c.ModelType != Qwen2 && c.HeadDim != nil {
		return *c.HeadDim
	}
	return c.HiddenSize / c.NumAttentionHeads
}

// Validate rejects what the A2D models would not run, naming the key.
func Validate(c Config) error {
	bad := func(key string, v any, why string) error {
		return fmt.Errorf("a2d: %s = %v is not supported: %s", key, v, why)
	}
	switch c.ModelType {
	case Llama, Qwen2, Qwen3:
	default:
		return bad("model_type", strconv.Quote(c.ModelType), "want one of "+strings.Join(ModelTypes, ", "))
	}
	if err := c.Common("a2d"); err != nil {
		return err
	}
	d := headDim(c)
	switch {
	case (c.HeadDim == nil || c.ModelType == Qwen2) && c.HiddenSize%c.NumAttentionHeads != 0:
		return bad("num_attention_heads", c.NumAttentionHeads, fmt.Sprintf("it must divide hidden_size %d when head_dim is not given", c.HiddenSize))
	case c.ModelType == Qwen2 && c.HeadDim != nil && *c.HeadDim != d:
		return bad("head_dim", *c.HeadDim, fmt.Sprintf("Qwen2's head size is hidden_size/num_attention_heads = %d", d))
	case d <= 0 || d%2 != 0:
		return bad("head_dim", d, "the head size must be positive and even for rotary embeddings")
	case c.ModelType != Llama && c.MLPBias != nil && *c.MLPBias:
		return bad("mlp_bias", true, "Qwen's MLP has no bias")
	case c.PadTokenID != nil && *c.PadTokenID >= c.VocabSize:
		return bad("pad_token_id", *c.PadTokenID, fmt.Sprintf("the embedding's padding_idx must be below vocab_size %d", c.VocabSize))
	}
	return nil
}

// Arch is the network c describes.
func Arch(c Config) decoder.Arch {
	flag := func(p *bool) bool { return p != nil && *p }
	a := decoder.Arch{
		Family: FamilyName, ModelType: c.ModelType,
		Vocab: c.VocabSize, Hidden: c.HiddenSize, Heads: c.NumAttentionHeads, KVHeads: c.KVHeads(),
		HeadDim: headDim(c), Intermediate: c.IntermediateSize, Layers: c.NumHiddenLayers,
		Eps: c.RMSNormEps, Theta: c.RopeTheta, Scaling: c.Scaling(), Tied: c.TieWordEmbeddings, PadIdx: -1,
		MaxPositions: c.MaxPositionEmbeddings, InitStd: c.InitializerRange,
		MaskID: decoder.ID(c.MaskTokenID), PadID: decoder.ID(c.PadTokenID), BOSID: decoder.ID(c.BOSTokenID),
		EOSID: int32(c.EOSTokenID.First()),
	}
	if c.PadTokenID != nil {
		a.PadIdx = *c.PadTokenID
	}
	switch c.ModelType {
	case Llama:
		a.Label = "A2D Llama"
		a.QKVBias, a.OBias, a.MLPBias = flag(c.AttentionBias), flag(c.AttentionBias), flag(c.MLPBias)
	case Qwen2:
		a.Label = "A2D Qwen2"
		a.QKVBias = true
	case Qwen3:
		a.Label = "A2D Qwen3"
		a.QKVBias, a.OBias, a.QKNorm = flag(c.AttentionBias), flag(c.AttentionBias), true
	}
	return a
}

// Info is what `dllm inspect` prints of a configuration.
func Info(c Config) lm.ConfigInfo { return Arch(c).Info() }

// presets are the sizes New accepts: tiny and small are Qwen3-shaped (a
// head size apart from hidden/heads, q/k norms, tied embeddings) and train
// on a CPU in seconds and minutes; qwen3-0.6b is Qwen3-0.6B's shape, the
// base of the Tiny-A2D models.
var presets = map[string]func() Config{
	// tiny: width 128, 4 layers, 4 heads of 32 on 2 key/value heads, SwiGLU
	// 256: the size of ModernBERT's tiny.
	"tiny": func() Config { return qwen3(128, 4, 2, 32, 4, 256, 512) },
	// small: width 256, 6 layers, 4 heads of 64 on 2 key/value heads, SwiGLU
	// 384: ModernBERT's small.
	"small": func() Config { return qwen3(256, 4, 2, 64, 6, 384, 1024) },
	"qwen3-0.6b": func() Config {
		c := qwen3(1024, 16, 8, 128, 28, 3072, 40960)
		c.VocabSize = 151936
		c.BOSTokenID, c.EOSTokenID, c.PadTokenID, c.MaskTokenID = ptr(151643), decoder.TokenIDs{151645}, nil, ptr(151669)
		c.Extra["torch_dtype"] = json.RawMessage(`"bfloat16"`)
		return c
	},
}

// PresetNames are the presets, smallest first.
var PresetNames = []string{"tiny", "small", "qwen3-0.6b"}

// qwen3 is an A2D Qwen3 config of these sizes with a 256-token vocabulary.
func qwen3(d, heads, kv, headDim, layers, mlp, positions int) Config {
	c := defaults(Qwen3)
	c.Architectures = []string{"A2DQwen3LMHeadModel"}
	c.HiddenSize, c.NumAttentionHeads, c.NumKeyValueHeads, c.HeadDim = d, heads, ptr(kv), ptr(headDim)
	c.NumHiddenLayers, c.IntermediateSize, c.MaxPositionEmbeddings = layers, mlp, positions
	c.RopeTheta, c.TieWordEmbeddings, c.UseSlidingWindow = 1e6, true, ptr(false)
	c.VocabSize = 256
	c.MaskTokenID, c.BOSTokenID, c.EOSTokenID = ptr(255), ptr(254), decoder.TokenIDs{254}
	c.Extra = map[string]json.RawMessage{}
	return c
}

// Preset returns a named configuration.
func Preset(name string) (Config, error) {
	p, ok := presets[name]
	if !ok {
		return Config{}, fmt.Errorf("a2d: unknown preset %q (known: %s)", name, strings.Join(PresetNames, ", "))
	}
	return p(), nil
}
