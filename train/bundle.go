package train

import (
	"cmp"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/dllmgo/dllm/bert"
	"github.com/dllmgo/dllm/data"
	"github.com/dllmgo/dllm/data/tokenizer"
	"github.com/dllmgo/dllm/internal/atomicfile"
	"github.com/dllmgo/dllm/mdlm"
	"github.com/dllmgo/dllm/tensor"
)

// Files of a model directory besides the weights and config.
const (
	TokenizerFile        = "tokenizer.json"
	TokenizerConfigFile  = "tokenizer_config.json"
	GenerationConfigFile = "generation_config.json"
)

// Bundle is everything needed to use a chat model: the network, its
// tokenizer, its chat template and the special tokens the diffusion process
// relies on. It is what a model directory holds.
type Bundle struct {
	Model     *bert.Model
	Tokenizer *tokenizer.Tokenizer
	Template  data.Template
	// MaskID is the absorbing state of the diffusion; PadID fills the canvas
	// and ends an answer.
	MaskID, PadID int32
	// Stops are the token sequences of the end-of-turn marker.
	Stops [][]int32
	// Generation holds the model's default canvas sizes
	// (generation_config.json); zero fields take the chat defaults.
	Generation Generation
}

// Generation is the sampling default a model carries. A model trained on
// short answers has never seen a long run of [PAD] after an answer, so a
// canvas far longer than its answers degrades what it writes; sft records
// a size that fits the training answers.
type Generation struct {
	MaxNewTokens int `json:"max_new_tokens,omitempty"`
	Steps        int `json:"steps,omitempty"`
	BlockSize    int `json:"block_size,omitempty"`
}

// GenerationFor returns sampling defaults for answers of at most longest
// tokens: the canvas rounded up to a multiple of 8 with a little room,
// capped at the chat default of 128, one step per token.
func GenerationFor(longest int) Generation {
	n := min((longest+4+7)/8*8, mdlm.DefaultMaxNewTokens)
	return Generation{MaxNewTokens: n, Steps: n, BlockSize: min(n, mdlm.DefaultBlockSize)}
}

// tokenizerConfig is the subset of Hugging Face's tokenizer_config.json
// this project writes and reads.
type tokenizerConfig struct {
	TokenizerClass            string `json:"tokenizer_class"`
	ChatTemplate              string `json:"chat_template,omitempty"`
	MaskToken                 string `json:"mask_token"`
	PadToken                  string `json:"pad_token"`
	ClsToken                  string `json:"cls_token,omitempty"`
	SepToken                  string `json:"sep_token,omitempty"`
	UnkToken                  string `json:"unk_token,omitempty"`
	BosToken                  string `json:"bos_token,omitempty"`
	EosToken                  string `json:"eos_token,omitempty"`
	ModelMaxLength            int    `json:"model_max_length,omitempty"`
	CleanUpTokenizationSpaces bool   `json:"clean_up_tokenization_spaces"`
}

// NewBundle ties a model to a tokenizer, finding the special tokens.
func NewBundle(m *bert.Model, tok *tokenizer.Tokenizer) (*Bundle, error) {
	b := &Bundle{Model: m, Tokenizer: tok, Template: data.BertChatTemplate{}}
	mask, ok := tok.TokenToID("[MASK]")
	if !ok {
		return nil, fmt.Errorf("tokenizer has no [MASK] token")
	}
	pad, ok := tok.TokenToID("[PAD]")
	if !ok {
		return nil, fmt.Errorf("tokenizer has no [PAD] token")
	}
	if mask >= m.Config.VocabSize || pad >= m.Config.VocabSize || tok.VocabSize() > m.Config.VocabSize {
		return nil, fmt.Errorf("tokenizer has %d tokens, model only %d", tok.VocabSize(), m.Config.VocabSize)
	}
	b.MaskID, b.PadID = int32(mask), int32(pad)
	b.Stops = [][]int32{toInt32(tok.Encode(b.Template.EndOfTurn(), false))}
	return b, nil
}

// LoadBundle reads a model directory: config.json, the weights,
// tokenizer.json and (optionally) tokenizer_config.json with its chat
// template.
func LoadBundle(dir string, be tensor.Backend) (*Bundle, error) {
	m, err := bert.Load(dir, be)
	if err != nil {
		return nil, err
	}
	tokPath := filepath.Join(dir, TokenizerFile)
	tok, err := tokenizer.Load(tokPath)
	if err != nil {
		return nil, err
	}
	b, err := NewBundle(m, tok)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", dir, err)
	}
	cfgPath := filepath.Join(dir, TokenizerConfigFile)
	if js, err := os.ReadFile(cfgPath); err == nil {
		var tc tokenizerConfig
		if err := json.Unmarshal(js, &tc); err != nil {
			return nil, fmt.Errorf("%s: %v", cfgPath, err)
		}
		if tc.ChatTemplate != "" {
			if b.Template, err = data.TemplateByJinja(tc.ChatTemplate); err != nil {
				return nil, fmt.Errorf("%s: %w", cfgPath, err)
			}
		}
	}
	genPath := filepath.Join(dir, GenerationConfigFile)
	if js, err := os.ReadFile(genPath); err == nil {
		if err := json.Unmarshal(js, &b.Generation); err != nil {
			return nil, fmt.Errorf("%s: %v", genPath, err)
		}
		if g := b.Generation; g.MaxNewTokens < 0 || g.Steps < 0 || g.BlockSize < 0 {
			return nil, fmt.Errorf("%s: negative sizes", genPath)
		}
	}
	return b, nil
}

// Save writes the whole model directory; each file atomically.
func (b *Bundle) Save(dir string) error {
	if err := b.Model.Save(dir); err != nil {
		return err
	}
	if err := b.Tokenizer.Save(filepath.Join(dir, TokenizerFile)); err != nil {
		return err
	}
	tc := tokenizerConfig{
		TokenizerClass: "PreTrainedTokenizerFast",
		ChatTemplate:   b.Template.Jinja(),
		MaskToken:      "[MASK]", PadToken: "[PAD]",
		ModelMaxLength: b.Model.Config.MaxPositions,
	}
	for _, s := range []struct {
		name string
		dst  *string
	}{{"[CLS]", &tc.ClsToken}, {"[SEP]", &tc.SepToken}, {"[UNK]", &tc.UnkToken}} {
		if _, ok := b.Tokenizer.TokenToID(s.name); ok {
			*s.dst = s.name
		}
	}
	if err := writeJSON(filepath.Join(dir, TokenizerConfigFile), tc); err != nil {
		return err
	}
	if b.Generation != (Generation{}) {
		return writeJSON(filepath.Join(dir, GenerationConfigFile), b.Generation)
	}
	return nil
}

func writeJSON(path string, v any) error {
	js, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.WriteBytes(path, append(js, '\n'), 0o644)
}

// Prompt renders a conversation that ends with a user turn, plus the
// generation prompt, as token ids.
func (b *Bundle) Prompt(messages []data.Message) ([]int32, error) {
	text, err := b.Template.Render(messages, true)
	if err != nil {
		return nil, err
	}
	return toInt32(b.Tokenizer.Encode(text, false)), nil
}

// SamplerConfig returns the chat defaults with this model's special tokens.
func (b *Bundle) SamplerConfig() mdlm.SamplerConfig {
	c := mdlm.DefaultSamplerConfig(b.MaskID, b.PadID)
	if g := b.Generation; g.MaxNewTokens > 0 {
		c.MaxNewTokens = g.MaxNewTokens
		c.Steps = cmp.Or(g.Steps, g.MaxNewTokens)
		c.BlockSize = min(cmp.Or(g.BlockSize, mdlm.DefaultBlockSize), g.MaxNewTokens)
	}
	c.StopSequences = b.Stops
	c.SuppressTokens = b.specialsToSuppress()
	return c
}

// specialsToSuppress lists special tokens an answer never contains ([CLS],
// [SEP], [UNK]); [PAD] stays allowed, it ends the answer.
func (b *Bundle) specialsToSuppress() []int32 {
	var out []int32
	for _, name := range []string{"[CLS]", "[SEP]", "[UNK]"} {
		if id, ok := b.Tokenizer.TokenToID(name); ok {
			out = append(out, int32(id))
		}
	}
	return out
}

// Decode turns answer ids into text.
func (b *Bundle) Decode(ids []int32) string {
	out := make([]int, len(ids))
	for i, id := range ids {
		out[i] = int(id)
	}
	return b.Tokenizer.Decode(out, true)
}

func toInt32(ids []int) []int32 {
	out := make([]int32, len(ids))
	for i, id := range ids {
		out[i] = int32(id)
	}
	return out
}
