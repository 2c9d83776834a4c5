package lladamoe

import (
	"fmt"

	"github.com/dllmgo/dllm/lm"
	"github.com/dllmgo/dllm/tensor"
)

// FamilyName and RND1Name are the families' names in the registry and on
// the command line; they are also their config.json model_types.
const (
	FamilyName = "lladamoe"
	RND1Name   = "rnd1"
)

// Family registers LLaDA-MoE with modeldir.
var Family = family(LLaDAMoE, FamilyName, "LLaDAMoEModelLM")

// RND1Family registers RND1 with modeldir.
var RND1Family = family(RND1, RND1Name, "RND1LM")

func family(v Variant, name, arch string) lm.Family {
	return lm.Family{
		Name:          name,
		ModelTypes:    []string{v.String()},
		Architectures: []string{arch},
		Load: func(dir string, be tensor.Backend) (lm.Model, error) {
			m, err := Load(dir, be)
			if err != nil {
				return nil, err
			}
			if m.Config.Variant != v {
				return nil, fmt.Errorf("%s: config.json is a %s", name, m.Config.Variant)
			}
			return m, nil
		},
		Presets: PresetNames,
		New: func(preset string, f lm.Fresh, be tensor.Backend) (lm.Model, error) {
			return newFresh(v, preset, f, be)
		},
		Describe: func(js []byte) (lm.ConfigInfo, error) {
			c, err := ParseConfig(js)
			if err != nil {
				return lm.ConfigInfo{}, err
			}
			return c.Info(), nil
		},
	}
}

// newFresh builds a preset sized to a tokenizer: its vocabulary, at least
// f.MaxPositions positions, its mask, EOS and pad ids (EOS doubling as pad
// where it has none).
func newFresh(v Variant, preset string, f lm.Fresh, be tensor.Backend) (lm.Model, error) {
	cfg, err := Preset(v, preset)
	if err != nil {
		return nil, err
	}
	if f.VocabSize > 0 {
		cfg.VocabSize = f.VocabSize
	}
	cfg.MaxPositionEmbeddings = max(cfg.MaxPositionEmbeddings, f.MaxPositions)
	if sp := f.Specials; sp != nil {
		cfg.MaskTokenID, cfg.EOSTokenID, cfg.PadTokenID = ptr(int(sp.Mask)), ptr(int(sp.EOS)), ptr(int(sp.Pad))
		if sp.Pad == lm.NoToken {
			cfg.PadTokenID = ptr(int(sp.EOS))
		}
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return New(cfg, be), nil
}

// Info is what `dllm inspect` prints of a configuration.
func (c Config) Info() lm.ConfigInfo {
	moe := 0
	for i := range c.NumHiddenLayers {
		if c.IsMoE(i) {
			moe++
		}
	}
	weights := "top-k probabilities as they are"
	if c.Renormalize() {
		weights = "top-k probabilities renormalised"
	}
	info := lm.ConfigInfo{
		Lines: []string{
			fmt.Sprintf("%s: vocab %d, hidden %d, %d layers (%d mixtures), %d heads of %d on %d key/value heads",
				c.Variant, c.VocabSize, c.HiddenSize, c.NumHiddenLayers, moe, c.NumAttentionHeads, c.HeadDim(), c.KVHeads()),
			fmt.Sprintf("%d experts of %d, top %d, %s, shared expert %d, dense MLP %d", c.NumExperts, c.ExpertWidth(), c.NumExpertsPerTok, weights, c.SharedWidth(), c.DenseWidth()),
			fmt.Sprintf("%d parameters, %d active per token; logits shifted: %v", c.ParamCount(), c.ActiveParamCount(), c.Variant == RND1),
		},
		ParamCount: c.ParamCount(),
	}
	for _, p := range c.ParamShapes() {
		info.ParamNames = append(info.ParamNames, p.Name)
	}
	return info
}
