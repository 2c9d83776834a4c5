package llada

import (
	"fmt"

	"github.com/dllmgo/dllm/lm"
	"github.com/dllmgo/dllm/tensor"
)

// FamilyName is LLaDA's name in the registry and on the command line;
// ModelType is its config.json model_type.
const (
	FamilyName = "llada"
	ModelType  = "llada"
)

// Family registers LLaDA with modeldir: folders whose config.json says
// model_type "llada" (or architectures LLaDAModelLM), fresh models from
// the presets, and the Instruct checkpoints' chat template.
var Family = lm.Family{
	Name:          FamilyName,
	ModelTypes:    []string{ModelType},
	Architectures: []string{"LLaDAModelLM"},
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
		return c.Info(), nil
	},
}

// newFresh builds a preset sized to a tokenizer: vocab_size its
// vocabulary, embedding_size that rounded up to a multiple of 8 (the extra
// logits are never targets), at least f.MaxPositions positions, and the
// tokenizer's mask, EOS and pad ids (its EOS doubling as pad where it has
// none, as LLaDA's do).
func newFresh(preset string, f lm.Fresh, be tensor.Backend) (lm.Model, error) {
	cfg, err := Preset(preset)
	if err != nil {
		return nil, err
	}
	if f.VocabSize > 0 {
		cfg.VocabSize, cfg.EmbeddingSize = f.VocabSize, ptr((f.VocabSize+7)/8*8)
	}
	cfg.MaxSequenceLength = max(cfg.MaxSequenceLength, f.MaxPositions)
	if sp := f.Specials; sp != nil {
		cfg.MaskTokenID, cfg.EOSTokenID, cfg.PadTokenID = int(sp.Mask), int(sp.EOS), int(sp.Pad)
		if sp.Pad == lm.NoToken {
			cfg.PadTokenID = int(sp.EOS)
		}
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return New(cfg, be), nil
}

// Info is what `dllm inspect` prints of a configuration.
func (c Config) Info() lm.ConfigInfo {
	head := "ff_out"
	if c.WeightTying {
		head = "tied to wte"
	}
	info := lm.ConfigInfo{
		Lines: []string{
			fmt.Sprintf("LLaDA: vocab %d (embeddings %d), d_model %d, %d layers, %d heads of %d on %d key/value heads, SwiGLU %d",
				c.VocabSize, c.Embeddings(), c.DModel, c.NLayers, c.NHeads, c.HeadDim(), c.KVHeads(), c.MLPHidden()),
			fmt.Sprintf("RMSNorm eps %g, RoPE theta %g, head %s, %d positions trained", c.RMSNormEps, c.RopeTheta, head, c.MaxSequenceLength),
			fmt.Sprintf("mask token %d, EOS %d, pad %d", c.MaskTokenID, c.EOSTokenID, c.PadTokenID),
		},
		ParamCount: c.ParamCount(),
	}
	for _, p := range c.ParamShapes() {
		info.ParamNames = append(info.ParamNames, p.Name)
	}
	return info
}
