package dream

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/dllmgo/dllm/internal/decoder"
	"github.com/dllmgo/dllm/lm"
)

// FamilyName is Dream's name on the command line; ModelType its
// config.json model_type.
const (
	FamilyName = "dream"
	ModelType  = "Dream"
)

// Config is Dream's config.json (DreamConfig's keys).
type Config = decoder.Config

func ptr[T any](v T) *T { return &v }

// defaultConfig is DreamConfig's defaults: what a key left out means.
func defaultConfig() Config {
	return Config{
		ModelType: ModelType, VocabSize: 151936, HiddenSize: 4096, IntermediateSize: 22016,
		NumHiddenLayers: 32, NumAttentionHeads: 32, HiddenAct: "silu",
		MaxPositionEmbeddings: 32768, RMSNormEps: 1e-6, RopeTheta: 10000, InitializerRange: 0.02,
		UseSlidingWindow: ptr(false), MaskTokenID: ptr(151666), PadTokenID: ptr(151643),
	}
}

// ParseConfig reads a Dream config.json and validates it.
func ParseConfig(js []byte) (Config, error) {
	c, err := decoder.ParseConfig(js, defaultConfig())
	if err != nil {
		return Config{}, fmt.Errorf("dream: %w", err)
	}
	if err := Validate(c); err != nil {
		return Config{}, err
	}
	return c, nil
}

// LoadConfig reads and validates dir's config.json; errors name the file.
func LoadConfig(dir string) (Config, error) {
	path := filepath.Join(dir, "config.json")
	c, err := decoder.LoadConfigFile(path, defaultConfig())
	if err == nil {
		err = Validate(c)
	}
	if err != nil {
		return Config{}, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

// Validate rejects what Dream's code would not run or this package does
// not implement, naming the key.
func Validate(c Config) error {
	if err := c.Common("dream"); err != nil {
		return err
	}
	bad := func(key string, v any, why string) error {
		return fmt.Errorf("dream: %s = %v is not supported: %s", key, v, why)
	}
	switch {
	case c.ModelType != ModelType:
		return bad("model_type", strconv.Quote(c.ModelType), `Dream's is "Dream"`)
	case c.HiddenSize%c.NumAttentionHeads != 0:
		return bad("num_attention_heads", c.NumAttentionHeads, fmt.Sprintf("it must divide hidden_size %d", c.HiddenSize))
	case (c.HiddenSize/c.NumAttentionHeads)%2 != 0:
		return bad("num_attention_heads", c.NumAttentionHeads, "the head size hidden_size/num_attention_heads must be even for rotary embeddings")
	case c.HeadDim != nil && *c.HeadDim != c.HiddenSize/c.NumAttentionHeads:
		return bad("head_dim", *c.HeadDim, fmt.Sprintf("Dream's head size is hidden_size/num_attention_heads = %d", c.HiddenSize/c.NumAttentionHeads))
	case c.UseSlidingWindow != nil && *c.UseSlidingWindow:
		return bad("use_sliding_window", true, "sliding-window attention is not implemented")
	case c.RopeScaling.Kind() != "default":
		return bad("rope_scaling", strconv.Quote(c.RopeScaling.Kind()), "Dream runs the default rotary embeddings only")
	case c.PadTokenID != nil && *c.PadTokenID >= c.VocabSize:
		return bad("pad_token_id", *c.PadTokenID, fmt.Sprintf("the embedding's padding_idx must be below vocab_size %d", c.VocabSize))
	}
	return nil
}

// Arch is the network c describes: the Qwen2 block (q/k/v bias, no o_proj
// or MLP bias), the pad row frozen, logits shifted.
func Arch(c Config) decoder.Arch {
	pad := -1
	if c.PadTokenID != nil {
		pad = *c.PadTokenID
	}
	return decoder.Arch{
		Family: FamilyName, ModelType: ModelType, Label: "Dream",
		Vocab: c.VocabSize, Hidden: c.HiddenSize, Heads: c.NumAttentionHeads, KVHeads: c.KVHeads(),
		HeadDim: c.HiddenSize / c.NumAttentionHeads, Intermediate: c.IntermediateSize, Layers: c.NumHiddenLayers,
		Eps: c.RMSNormEps, Theta: c.RopeTheta, QKVBias: true, Tied: c.TieWordEmbeddings, PadIdx: pad,
		MaxPositions: c.MaxPositionEmbeddings, Shift: true, MaskPositions: true, InitStd: c.InitializerRange,
		LossWeighting: "cart",
		MaskID:        decoder.ID(c.MaskTokenID), PadID: decoder.ID(c.PadTokenID), BOSID: decoder.ID(c.BOSTokenID),
		EOSID: int32(c.EOSTokenID.First()),
	}
}

// Info is what `dllm inspect` prints of a configuration.
func Info(c Config) lm.ConfigInfo { return Arch(c).Info() }

// presets are the sizes New accepts. tiny trains on a CPU in seconds;
// dream-7b is Dream-v0-7B's shape (Qwen2.5-7B's) and special tokens.
var presets = map[string]func() Config{
	// tiny: width 128, 4 layers, 4 heads of 32 on 2 key/value heads, SwiGLU
	// 256: the size of ModernBERT's tiny.
	"tiny": func() Config { return sized(128, 4, 2, 4, 256, 512) },
	// small: width 256, 6 layers, 4 heads of 64 on 2 key/value heads, SwiGLU
	// 384: ModernBERT's small.
	"small": func() Config { return sized(256, 4, 2, 6, 384, 1024) },
	"dream-7b": func() Config {
		c := sized(3584, 28, 4, 28, 18944, 131072)
		c.VocabSize = 152064
		c.MaskTokenID, c.PadTokenID, c.BOSTokenID, c.EOSTokenID = ptr(151666), ptr(151643), ptr(151643), decoder.TokenIDs{151643}
		c.Extra["torch_dtype"] = []byte(`"bfloat16"`)
		return c
	},
}

// PresetNames are the presets, smallest first.
var PresetNames = []string{"tiny", "small", "dream-7b"}

// sized is the released config at another size, with a 256-token
// vocabulary.
func sized(d, heads, kv, layers, mlp, positions int) Config {
	c := defaultConfig()
	c.Architectures = []string{"DreamModel"}
	c.HiddenSize, c.NumAttentionHeads, c.NumKeyValueHeads, c.NumHiddenLayers, c.IntermediateSize = d, heads, ptr(kv), layers, mlp
	c.MaxPositionEmbeddings, c.RopeTheta = positions, 1e6
	c.VocabSize = 256
	c.MaskTokenID, c.PadTokenID, c.BOSTokenID, c.EOSTokenID = ptr(255), ptr(254), ptr(254), decoder.TokenIDs{254}
	c.Extra = map[string]json.RawMessage{}
	return c
}

// Preset returns a named configuration.
func Preset(name string) (Config, error) {
	p, ok := presets[name]
	if !ok {
		return Config{}, fmt.Errorf("dream: unknown preset %q (known: %s)", name, strings.Join(PresetNames, ", "))
	}
	return p(), nil
}
