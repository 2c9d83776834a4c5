package lm

import (
	"github.com/dllmgo/dllm/tensor"
)

// Family is what one model family registers (modeldir's registry): how to
// recognise its config.json, and how to make a model from a folder or from a
// named preset.
type Family struct {
	// Name is the family's name on the command line ("modernbert").
	Name string
	// ModelTypes are the config.json model_type values it reads; a config
	// without model_type is matched by Architectures.
	ModelTypes    []string
	Architectures []string
	// Load reads config.json and the weights of a model folder.
	Load func(dir string, be tensor.Backend) (Model, error)
	// LoadBF16 is Load for inference with the large weights (embedding,
	// head, projections) kept in BF16 as checkpoints store them, never
	// widened (--precision bf16); nil where the family has no such load.
	LoadBF16 func(dir string, be tensor.Backend) (Model, error)
	// Presets names the sizes New accepts, smallest first.
	Presets []string
	// New builds a model of a preset with zero weights, sized by f (the
	// tokenizer it will be trained with); call Init.
	New func(preset string, f Fresh, be tensor.Backend) (Model, error)
	// Describe reads a config.json without the weights, for `dllm inspect`.
	Describe func(configJSON []byte) (ConfigInfo, error)
	// TemplateVars are variables the reference passes every rendering of a
	// folder's chat template for this family (A2D's tokenizer renders
	// Qwen's with enable_thinking=False); the chat, generate, serve and sft
	// prompts get them, `dllm template` (plain apply_chat_template) not.
	TemplateVars map[string]any
}

// Fresh is what a model made from a preset takes from its tokenizer and
// its data: zero fields keep the preset's values.
type Fresh struct {
	// VocabSize is the tokenizer's vocabulary; the family may round it up.
	VocabSize int
	// MaxPositions is the longest sequence the model must take.
	MaxPositions int
	// Specials are the tokenizer's special-token ids (NoToken where it has
	// none); nil keeps the preset's.
	Specials *Specials
}

// Specials are the special-token ids a tokenizer defines. A family maps
// them onto its own config (ModernBERT's BOS is its CLS, its EOS its SEP).
type Specials struct {
	Pad, Unk, CLS, SEP, Mask, BOS, EOS int32
}

// ConfigInfo is what `dllm inspect` shows of a config.json.
type ConfigInfo struct {
	// Lines are human-readable lines, the first naming the family and its
	// main sizes.
	Lines []string
	// ParamNames lists the parameters the config implies, in the model's
	// order (embeddings, layers, head): inspect sorts tensors by it.
	ParamNames []string
	// ParamCount is the number of parameters the config implies.
	ParamCount int64
}
