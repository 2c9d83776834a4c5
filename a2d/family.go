package a2d

import (
	"github.com/dllmgo/dllm/internal/decoder"
	"github.com/dllmgo/dllm/lm"
	"github.com/dllmgo/dllm/tensor"
)

// Family registers A2D with modeldir: folders whose config.json says
// model_type a2d-llama, a2d-qwen2 or a2d-qwen3, fresh models from the
// presets.
var Family = lm.Family{
	Name:          FamilyName,
	ModelTypes:    ModelTypes,
	Architectures: []string{"A2DLlamaLMHeadModel", "A2DQwen2LMHeadModel", "A2DQwen3LMHeadModel"},
	Load: func(dir string, be tensor.Backend) (lm.Model, error) {
		m, err := Load(dir, be)
		if err != nil {
			return nil, err
		}
		return m, nil
	},
	LoadBF16: func(dir string, be tensor.Backend) (lm.Model, error) {
		m, err := LoadBF16(dir, be)
		if err != nil {
			return nil, err
		}
		return m, nil
	},
	Presets: PresetNames,
	// The reference's get_tokenizer renders Qwen2/Qwen3 templates with
	// enable_thinking=False (Qwen3's then writes an empty think block);
	// Llama's template does not read it.
	TemplateVars: map[string]any{"enable_thinking": false},
	New:          newFresh,
	Describe: func(js []byte) (lm.ConfigInfo, error) {
		c, err := ParseConfig(js)
		if err != nil {
			return lm.ConfigInfo{}, err
		}
		return Info(c), nil
	},
}

// newFresh builds a preset sized to a tokenizer: its vocabulary, at least
// f.MaxPositions positions, and its mask, BOS and EOS ids.
func newFresh(preset string, f lm.Fresh, be tensor.Backend) (lm.Model, error) {
	c, err := Preset(preset)
	if err != nil {
		return nil, err
	}
	if f.VocabSize > 0 {
		c.VocabSize = f.VocabSize
	}
	c.MaxPositionEmbeddings = max(c.MaxPositionEmbeddings, f.MaxPositions)
	if sp := f.Specials; sp != nil {
		opt := func(id int32) *int {
			if id == lm.NoToken {
				return nil
			}
			return ptr(int(id))
		}
		c.MaskTokenID, c.BOSTokenID = opt(sp.Mask), opt(sp.BOS)
		c.EOSTokenID = nil
		if sp.EOS != lm.NoToken {
			c.EOSTokenID = decoder.TokenIDs{int(sp.EOS)}
		}
	}
	if err := Validate(c); err != nil {
		return nil, err
	}
	return New(c, be), nil
}
