package bert

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/dllmgo/dllm/lm"
	"github.com/dllmgo/dllm/nn"
	"github.com/dllmgo/dllm/tensor"
)

// FamilyName is ModernBERT's name in the registry and on the command line.
const FamilyName = "modernbert"

// Family registers ModernBERT with modeldir: it reads folders whose
// config.json says model_type "modernbert" (or architectures
// ModernBertForMaskedLM), and builds fresh models from the presets.
var Family = lm.Family{
	Name:          FamilyName,
	ModelTypes:    []string{"modernbert"},
	Architectures: []string{"ModernBertForMaskedLM", "ModernBertModel"},
	Load: func(dir string, be tensor.Backend) (lm.Model, error) {
		m, err := Load(dir, be)
		if err != nil {
			return nil, err
		}
		return m, nil
	},
	Presets: []string{"tiny", "small", "modernbert-base", "modernbert-large"},
	New:     newFresh,
	Describe: func(js []byte) (lm.ConfigInfo, error) {
		c, err := ParseConfig(js)
		if err != nil {
			return lm.ConfigInfo{}, err
		}
		return c.Info(), nil
	},
}

// newFresh builds a preset sized to a tokenizer: the vocabulary rounded up
// to a multiple of 8, at least f.MaxPositions positions, and the special
// ids of the tokenizer (ModernBERT's bos/eos ids are its [CLS]/[SEP]).
func newFresh(preset string, f lm.Fresh, be tensor.Backend) (lm.Model, error) {
	cfg, err := Preset(preset)
	if err != nil {
		return nil, err
	}
	if f.VocabSize > 0 {
		cfg.VocabSize = (f.VocabSize + 7) / 8 * 8
	}
	cfg.MaxPositions = max(cfg.MaxPositions, f.MaxPositions)
	if sp := f.Specials; sp != nil {
		cfg.PadTokenID = int(sp.Pad)
		cfg.CLSTokenID, cfg.BOSTokenID = int(sp.CLS), int(sp.CLS)
		cfg.SEPTokenID, cfg.EOSTokenID = int(sp.SEP), int(sp.SEP)
		cfg.MaskTokenID = int(sp.Mask)
	}
	return New(cfg, be), nil
}

// Spec describes the model to the family-agnostic code. Config ids outside
// the vocabulary (transformers writes the released tokenizer's defaults
// whatever the vocabulary) count as absent. ModernBERT's bos/eos ids are its
// [CLS]/[SEP], which a chat answer never holds (its answers end in [PAD], and
// the samplers suppress both), so Spec reports no BOS or EOS.
func (m *Model) Spec() lm.Spec {
	c := m.Config
	id := func(v int) int32 {
		if v < 0 || v >= c.VocabSize {
			return lm.NoToken
		}
		return int32(v)
	}
	return lm.Spec{
		Family: FamilyName, ModelType: "modernbert",
		MaxPositions: c.MaxPositions,
		MaskID:       id(c.MaskTokenID), PadID: id(c.PadTokenID),
		BOSID: lm.NoToken, EOSID: lm.NoToken,
	}
}

// Describe says what the model is in one line.
func (m *Model) Describe() string {
	c := m.Config
	return fmt.Sprintf("ModernBERT hidden %d, %d layers, %d heads, vocabulary %d", c.HiddenSize, c.NumLayers, c.NumHeads, c.VocabSize)
}

// SetPrecision sets the arithmetic of Logits (lm.PrecisionSetter).
func (m *Model) SetPrecision(p nn.Precision) { m.Precision = p }

// Info is what `dllm inspect` prints of a configuration.
func (c Config) Info() lm.ConfigInfo {
	var globals []string
	for i := range c.NumLayers {
		if c.IsGlobal(i) {
			globals = append(globals, strconv.Itoa(i))
		}
	}
	info := lm.ConfigInfo{
		Lines: []string{
			fmt.Sprintf("ModernBERT: vocab %d, hidden %d, %d layers, %d heads of %d, GeGLU %d, %d positions",
				c.VocabSize, c.HiddenSize, c.NumLayers, c.NumHeads, c.HeadDim(), c.IntermediateSize, c.MaxPositions),
			fmt.Sprintf("global layers %s (RoPE theta %g); the others see ±%d tokens (RoPE theta %g)",
				strings.Join(globals, " "), c.GlobalRopeTheta, c.SlidingWindow(), c.LocalRopeTheta),
			fmt.Sprintf("norm eps %g, pad token %s", c.NormEps, tokenName(c.PadTokenID)),
		},
		ParamCount: int64(c.ParamCount()),
	}
	for _, p := range c.ParamShapes() {
		info.ParamNames = append(info.ParamNames, p.Name)
	}
	return info
}

func tokenName(id int) string {
	if id == NoToken {
		return "none"
	}
	return strconv.Itoa(id)
}

var _ lm.Model = (*Model)(nil)
