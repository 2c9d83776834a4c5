package llada

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/dllmgo/dllm/tensor"
	"github.com/dllmgo/dllm/tensor/safetensors"
)

// ConfigFile is the model configuration inside a model folder.
const ConfigFile = "config.json"

// TensorSource is what LoadWeights reads: one safetensors file or a
// sharded set seen as one.
type TensorSource interface {
	Names() []string
	F32(name string) ([]float32, []int, error)
}

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

// LoadWeights copies every parameter from src under its checkpoint name.
// A tensor the config does not imply is an error too: it would mean a
// config that does not describe the weights (ff_out with weight_tying,
// biases without include_bias).
func (m *Model) LoadWeights(src TensorSource) error {
	want := map[string]bool{}
	for _, p := range m.Params() {
		want[p.Name] = true
	}
	for _, n := range src.Names() {
		if !want[n] {
			return fmt.Errorf("tensor %s is not a parameter of this config", n)
		}
	}
	have := map[string]bool{}
	for _, n := range src.Names() {
		have[n] = true
	}
	for _, p := range m.Params() {
		if !have[p.Name] {
			return fmt.Errorf("missing tensor %s", p.Name)
		}
		v, shape, err := src.F32(p.Name)
		if err != nil {
			return err
		}
		if !tensor.SameShape(shape, p.Value.Shape()) {
			return fmt.Errorf("tensor %s has shape %v, config wants %v", p.Name, shape, p.Value.Shape())
		}
		m.b.Copy(p.Value, m.b.FromHost(tensor.FromF32(v, shape...)))
	}
	return nil
}

// Save writes config.json and model.safetensors (the checkpoints' names)
// into dir, each file atomically: F32, or BF16 when SaveBF16 is set (half
// the size, as the released checkpoints are stored).
func (m *Model) Save(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	dt := safetensors.F32
	if m.SaveBF16 {
		dt = safetensors.BF16
	}
	var ts []safetensors.Tensor
	for _, p := range m.Params() {
		t, err := safetensors.FloatTensor(p.Name, dt, p.Value.Shape(), p.Value.ToCPU().F32())
		if err != nil {
			return err
		}
		ts = append(ts, t)
	}
	if err := safetensors.Write(filepath.Join(dir, safetensors.SingleFileName), ts, map[string]string{"format": "pt"}); err != nil {
		return err
	}
	return SaveConfig(filepath.Join(dir, ConfigFile), m.Config)
}
