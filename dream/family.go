package dream

import (
	"github.com/dllmgo/dllm/internal/decoder"
	"github.com/dllmgo/dllm/lm"
	"github.com/dllmgo/dllm/tensor"
)

// Family registers Dream with modeldir: folders whose config.json says
// model_type "Dream" (or architectures DreamModel), fresh models from the
// presets, and the Instruct checkpoints' chat template.
var Family = lm.Family{
	Name:          FamilyName,
	ModelTypes:    []string{ModelType},
	Architectures: []string{"DreamModel"},
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
	New:     newFresh,
	Describe: func(js []byte) (lm.ConfigInfo, error) {
		c, err := ParseConfig(js)
		if err != nil {
			return lm.ConfigInfo{}, err
		}
		return Info(c), nil
	},
}

// newFresh builds a preset sized to a tokenizer: its vocabulary, at least
// f.MaxPositions positions, and its mask, pad, BOS and EOS ids (EOS as pad
// and pad as BOS where it has none, as Dream's get_tokenizer does).
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
		pad := sp.Pad
		if pad == lm.NoToken {
			pad = sp.EOS
		}
		bos := sp.BOS
		if bos == lm.NoToken {
			bos = pad
		}
		opt := func(id int32) *int {
			if id == lm.NoToken {
				return nil
			}
			return ptr(int(id))
		}
		c.MaskTokenID, c.PadTokenID, c.BOSTokenID = opt(sp.Mask), opt(pad), opt(bos)
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
