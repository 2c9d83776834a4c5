package decoder

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"strconv"

	"github.com/dllmgo/dllm/internal/atomicfile"
	"github.com/dllmgo/dllm/lm"
	"github.com/dllmgo/dllm/tensor"
)

// Config is a config.json of the Llama/Qwen2/Qwen3/Dream decoders in Hugging
// Face's spelling. Pointer fields are keys that may be null or absent. Keys
// with no effect on the arithmetic are kept verbatim in Extra, so that a
// folder's config.json survives a load and a save.
type Config struct {
	ModelType             string      `json:"model_type"`
	Architectures         []string    `json:"architectures,omitempty"`
	VocabSize             int         `json:"vocab_size"`
	HiddenSize            int         `json:"hidden_size"`
	IntermediateSize      int         `json:"intermediate_size"`
	NumHiddenLayers       int         `json:"num_hidden_layers"`
	NumAttentionHeads     int         `json:"num_attention_heads"`
	NumKeyValueHeads      *int        `json:"num_key_value_heads"`
	HeadDim               *int        `json:"head_dim,omitempty"`
	HiddenAct             string      `json:"hidden_act"`
	MaxPositionEmbeddings int         `json:"max_position_embeddings"`
	RMSNormEps            float64     `json:"rms_norm_eps"`
	RopeTheta             float64     `json:"rope_theta"`
	RopeScaling           *RopeConfig `json:"rope_scaling"`
	TieWordEmbeddings     bool        `json:"tie_word_embeddings"`
	AttentionBias         *bool       `json:"attention_bias,omitempty"`
	MLPBias               *bool       `json:"mlp_bias,omitempty"`
	UseSlidingWindow      *bool       `json:"use_sliding_window,omitempty"`
	AttentionDropout      float64     `json:"attention_dropout"`
	InitializerRange      float64     `json:"initializer_range"`
	MaskTokenID           *int        `json:"mask_token_id,omitempty"`
	PadTokenID            *int        `json:"pad_token_id"`
	BOSTokenID            *int        `json:"bos_token_id"`
	EOSTokenID            TokenIDs    `json:"eos_token_id"`

	Extra map[string]json.RawMessage `json:"-"`
}

// knownKeys are the keys Config reads: every other one goes to Extra.
var knownKeys = []string{"model_type", "architectures", "vocab_size", "hidden_size", "intermediate_size",
	"num_hidden_layers", "num_attention_heads", "num_key_value_heads", "head_dim", "hidden_act",
	"max_position_embeddings", "rms_norm_eps", "rope_theta", "rope_scaling", "tie_word_embeddings",
	"attention_bias", "mlp_bias", "use_sliding_window", "attention_dropout", "initializer_range",
	"mask_token_id", "pad_token_id", "bos_token_id", "eos_token_id"}

// RopeConfig is rope_scaling: only "default" and "llama3" run.
type RopeConfig struct {
	RopeType                      string  `json:"rope_type,omitempty"`
	Type                          string  `json:"type,omitempty"` // the older spelling of rope_type
	Factor                        float64 `json:"factor,omitempty"`
	LowFreqFactor                 float64 `json:"low_freq_factor,omitempty"`
	HighFreqFactor                float64 `json:"high_freq_factor,omitempty"`
	OriginalMaxPositionEmbeddings int     `json:"original_max_position_embeddings,omitempty"`
}

// Kind is rope_type, or type, or "default".
func (r *RopeConfig) Kind() string {
	switch {
	case r == nil:
		return "default"
	case r.RopeType != "":
		return r.RopeType
	case r.Type != "":
		return r.Type
	}
	return "default"
}

// TokenIDs is a token id key that may be one id, a list (Llama 3's
// eos_token_id) or null.
type TokenIDs []int

// UnmarshalJSON reads an id, a list of ids or null.
func (t *TokenIDs) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if bytes.Equal(b, []byte("null")) {
		*t = nil
		return nil
	}
	if len(b) > 0 && b[0] == '[' {
		var ids []int
		if err := json.Unmarshal(b, &ids); err != nil {
			return err
		}
		*t = ids
		return nil
	}
	var id int
	if err := json.Unmarshal(b, &id); err != nil {
		return err
	}
	*t = TokenIDs{id}
	return nil
}

// MarshalJSON writes one id as a number, several as a list, none as null.
func (t TokenIDs) MarshalJSON() ([]byte, error) {
	switch len(t) {
	case 0:
		return []byte("null"), nil
	case 1:
		return json.Marshal(t[0])
	}
	return json.Marshal([]int(t))
}

// First is the first id, or -1.
func (t TokenIDs) First() int {
	if len(t) == 0 {
		return -1
	}
	return t[0]
}

// ParseConfig reads config.json over the defaults in c: keys left out keep
// c's values. It does not validate.
// RequiredKeys are the keys a config.json must give: they set the weights'
// shapes, so transformers' defaults (a 4096-wide model) would only turn a
// config that lost one into a confusing shape error.
var RequiredKeys = []string{"vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads"}

func ParseConfig(js []byte, c Config) (Config, error) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(js, &raw); err != nil {
		return Config{}, err
	}
	for _, k := range RequiredKeys {
		if _, ok := raw[k]; !ok {
			return Config{}, fmt.Errorf("%s is missing (it sets the weights' shapes; a config naming a known family must give it)", k)
		}
	}
	for _, k := range knownKeys {
		v, ok := raw[k]
		if !ok {
			continue
		}
		one, _ := json.Marshal(map[string]json.RawMessage{k: v})
		if err := json.Unmarshal(one, &c); err != nil {
			return Config{}, fmt.Errorf("%s: %v", k, err)
		}
		delete(raw, k)
	}
	c.Extra = map[string]json.RawMessage{}
	for k, v := range raw {
		var buf bytes.Buffer
		if err := json.Compact(&buf, v); err != nil {
			return Config{}, fmt.Errorf("%s: %v", k, err)
		}
		c.Extra[k] = buf.Bytes()
	}
	return c, nil
}

// MarshalJSON writes the known keys and Extra's.
func (c Config) MarshalJSON() ([]byte, error) {
	type plain Config
	js, err := json.Marshal(plain(c))
	if err != nil {
		return nil, err
	}
	out := map[string]json.RawMessage{}
	if err := json.Unmarshal(js, &out); err != nil {
		return nil, err
	}
	for k, v := range c.Extra {
		if _, ok := out[k]; !ok {
			out[k] = v
		}
	}
	return json.Marshal(out)
}

// Save writes c as config.json at path, indented, atomically.
func (c Config) Save(path string) error {
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

// LoadConfigFile reads path with ParseConfig.
func LoadConfigFile(path string, defaults Config) (Config, error) {
	js, err := os.ReadFile(path)
	if err != nil {
		return Config{}, err
	}
	c, err := ParseConfig(js, defaults)
	if err != nil {
		return Config{}, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

// KVHeads is num_key_value_heads, or num_attention_heads when null.
func (c Config) KVHeads() int {
	if c.NumKeyValueHeads != nil {
		return *c.NumKeyValueHeads
	}
	return c.NumAttentionHeads
}

// Common checks what every architecture refuses, naming the key; family
// is the prefix of the message ("dream").
func (c Config) Common(family string) error {
	bad := func(key string, v any, why string) error {
		return fmt.Errorf("%s: %s = %v is not supported: %s", family, key, v, why)
	}
	hd := 0
	if c.HeadDim != nil {
		hd = *c.HeadDim
	}
	if err := lm.CheckSizes(
		lm.Size{Key: "num_hidden_layers", Value: c.NumHiddenLayers, Max: lm.MaxLayers},
		lm.Size{Key: "hidden_size", Value: c.HiddenSize, Max: lm.MaxWidth},
		lm.Size{Key: "intermediate_size", Value: c.IntermediateSize, Max: lm.MaxWidth},
		lm.Size{Key: "head_dim", Value: hd, Max: lm.MaxWidth},
		lm.Size{Key: "num_attention_heads", Value: c.NumAttentionHeads, Max: lm.MaxHeads},
		lm.Size{Key: "num_key_value_heads", Value: c.KVHeads(), Max: lm.MaxHeads},
		lm.Size{Key: "vocab_size", Value: c.VocabSize, Max: lm.MaxVocab},
		lm.Size{Key: "max_position_embeddings", Value: c.MaxPositionEmbeddings, Max: lm.MaxPositions},
	); err != nil {
		return fmt.Errorf("%s: %w", family, err)
	}
	switch {
	case c.VocabSize <= 0:
		return bad("vocab_size", c.VocabSize, "it must be positive")
	case c.HiddenSize <= 0:
		return bad("hidden_size", c.HiddenSize, "it must be positive")
	case c.IntermediateSize <= 0:
		return bad("intermediate_size", c.IntermediateSize, "it must be positive")
	case c.NumHiddenLayers <= 0:
		return bad("num_hidden_layers", c.NumHiddenLayers, "it must be positive")
	case c.NumAttentionHeads <= 0:
		return bad("num_attention_heads", c.NumAttentionHeads, "it must be positive")
	case c.KVHeads() <= 0 || c.NumAttentionHeads%c.KVHeads() != 0:
		return bad("num_key_value_heads", c.KVHeads(), fmt.Sprintf("it must divide num_attention_heads %d", c.NumAttentionHeads))
	case c.HiddenAct != "silu":
		return bad("hidden_act", strconv.Quote(c.HiddenAct), `only "silu" is implemented`)
	case c.RMSNormEps <= 0:
		return bad("rms_norm_eps", c.RMSNormEps, "it must be positive")
	case c.RopeTheta <= 0:
		return bad("rope_theta", c.RopeTheta, "it must be positive")
	case c.AttentionDropout != 0:
		return bad("attention_dropout", c.AttentionDropout, "dropout is not implemented")
	}
	for _, id := range []struct {
		key string
		v   *int
	}{{"mask_token_id", c.MaskTokenID}, {"pad_token_id", c.PadTokenID}, {"bos_token_id", c.BOSTokenID}} {
		if id.v != nil && (*id.v < 0) {
			return bad(id.key, *id.v, "token ids are not negative")
		}
	}
	switch k := c.RopeScaling.Kind(); k {
	case "default":
	case "llama3":
		r := c.RopeScaling
		if r.Factor <= 0 || r.LowFreqFactor <= 0 || r.HighFreqFactor <= r.LowFreqFactor || r.OriginalMaxPositionEmbeddings <= 0 {
			return bad("rope_scaling", fmt.Sprintf("%+v", *r), "llama3 scaling needs factor > 0, 0 < low_freq_factor < high_freq_factor and original_max_position_embeddings > 0")
		}
	default:
		return bad("rope_scaling", strconv.Quote(k), `only "default" and "llama3" rotary embeddings are implemented`)
	}
	return nil
}

// Scaling is rope_scaling as the block's Llama 3 scaling (zero: none).
func (c Config) Scaling() tensor.RoPELlama3 {
	if c.RopeScaling.Kind() != "llama3" {
		return tensor.RoPELlama3{}
	}
	r := c.RopeScaling
	return tensor.RoPELlama3{Factor: r.Factor, LowFreqFactor: r.LowFreqFactor, HighFreqFactor: r.HighFreqFactor, OriginalMaxPositions: r.OriginalMaxPositionEmbeddings}
}

// ID is an optional id as an int32, -1 when absent.
func ID(p *int) int32 {
	if p == nil {
		return -1
	}
	return int32(*p)
}
