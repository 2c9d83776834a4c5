package llada

import (
	"fmt"
	"path/filepath"

	"github.com/dllmgo/dllm/lm"
	"github.com/dllmgo/dllm/tensor"
	"github.com/dllmgo/dllm/tensor/safetensors"
)

// ConfigFile is the model configuration inside a model folder.
const ConfigFile = "config.json"

// TensorSource is what LoadWeights reads: one safetensors file or a
// sharded set seen as one.
type TensorSource = lm.TensorSource

// Load reads a LLaDA folder (config.json, and model.safetensors or the
// shards model.safetensors.index.json lists) onto backend b. Weights may be
// F32, F16 or BF16 on disk (the released 8B checkpoints are BF16); they are
// converted to float32.
func Load(dir string, b tensor.Backend) (*Model, error) {
	cfg, err := LoadConfig(filepath.Join(dir, ConfigFile))
	if err != nil {
		return nil, err
	}
	src, err := safetensors.OpenModel(dir)
	if err != nil {
		return nil, err
	}
	m := New(cfg, b)
	if err := m.LoadWeights(src); err != nil {
		return nil, fmt.Errorf("%s: %w", dir, err)
	}
	return m, nil
}

// LoadBF16 is Load for inference with the embedding, the head and the
// projections kept in BF16 as the released checkpoints store them, never
// widened to float32: the files are memory-mapped and each BF16 tensor that
// is a weight of its own (wte, attn_out, the blocks' ff_out, the head) is
// used in place; q/k/v_proj and ff_proj/up_proj, which the block stacks into
// one tensor each, are read into it. Norms stay float32. The model is for
// inference: weights used in place are read-only. On the CUDA backend, run
// it under nn.PrecisionBF16 (its GEMMs take BF16 pairs).
func LoadBF16(dir string, b tensor.Backend) (*Model, error) {
	cfg, err := LoadConfig(filepath.Join(dir, ConfigFile))
	if err != nil {
		return nil, err
	}
	src, err := safetensors.MapModel(dir)
	if err != nil {
		return nil, err
	}
	m := newModel(cfg, b, tensor.BF16)
	if err := m.LoadWeights(src); err != nil {
		return nil, fmt.Errorf("%s: %w", dir, err)
	}
	return m, nil
}

// LoadWeights copies every parameter from src under its checkpoint name.
// A tensor the config does not imply is an error too: it would mean a
// config that does not describe the weights (ff_out with weight_tying,
// biases without include_bias).
func (m *Model) LoadWeights(src TensorSource) error {
	return lm.LoadParams(m.Params(), src, nil)
}

// Save writes config.json and model.safetensors (the checkpoints' names)
// into dir, each file atomically: F32, or BF16 when SaveBF16 is set (half
// the size, as the released checkpoints are stored).
func (m *Model) Save(dir string) error {
	if err := lm.SaveParams(dir, m.Params(), m.SaveBF16); err != nil {
		return err
	}
	return SaveConfig(filepath.Join(dir, ConfigFile), m.Config)
}
