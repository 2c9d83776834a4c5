package lm

import "github.com/dllmgo/dllm/tensor"

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
	// Presets names the sizes New accepts, smallest first.
	Presets []string
	// New builds a model of a preset with zero weights; call Init.
	New func(preset string, be tensor.Backend) (Model, error)
}
