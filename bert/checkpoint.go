package bert

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/dllmgo/dllm/tensor"
	"github.com/dllmgo/dllm/tensor/safetensors"
)

// ConfigFile is the model configuration inside a model directory.
const ConfigFile = "config.json"

// TensorSource is what Load reads weights from: one safetensors file, or a
// sharded set seen as one.
type TensorSource interface {
	Names() []string
	F32(name string) ([]float32, []int, error)
}

// Load reads a Hugging Face ModernBERT directory (config.json plus
// model.safetensors, or shards listed in model.safetensors.index.json) onto
// backend b. Weights may be stored as F32, F16 or BF16; the tied
// decoder.weight may be absent; a "model." prefix may be missing.
func Load(dir string, b tensor.Backend) (*Model, error) {
	cfg, err := LoadConfig(filepath.Join(dir, ConfigFile))
	if err != nil {
		return nil, err
	}
	src, err := OpenWeights(dir)
	if err != nil {
		return nil, err
	}
	m := New(cfg, b)
	if err := m.LoadWeights(src); err != nil {
		return nil, fmt.Errorf("%s: %w", dir, err)
	}
	return m, nil
}

// OpenWeights opens the weights of a model directory, sharded or not.
func OpenWeights(dir string) (TensorSource, error) { return safetensors.OpenModel(dir) }

// LoadWeights copies every parameter from src, converting to float32.
func (m *Model) LoadWeights(src TensorSource) error {
	names := map[string]bool{}
	for _, n := range src.Names() {
		names[n] = true
	}
	for _, p := range m.Params() {
		name, ok := resolveName(p.Name, names)
		if !ok {
			return fmt.Errorf("missing tensor %s", p.Name)
		}
		v, shape, err := src.F32(name)
		if err != nil {
			return err
		}
		if !tensor.SameShape(shape, p.Value.Shape()) {
			return fmt.Errorf("tensor %s has shape %v, config wants %v", name, shape, p.Value.Shape())
		}
		m.b.Copy(p.Value, m.b.FromHost(tensor.FromF32(v, shape...)))
	}
	return nil
}

// resolveName finds a parameter under the names checkpoints use for it: the
// Hugging Face name, or the name without the "model." prefix that
// encoder-only exports drop.
func resolveName(name string, have map[string]bool) (string, bool) {
	if have[name] {
		return name, true
	}
	if s, ok := strings.CutPrefix(name, "model."); ok && have[s] {
		return s, true
	}
	return "", false
}

// Save writes config.json and model.safetensors (F32, Hugging Face names) to
// dir, creating it. Each file is written atomically. transformers loads the
// result as ModernBertForMaskedLM; the tied decoder weight is not stored, as
// transformers itself does.
func (m *Model) Save(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	var ts []safetensors.Tensor
	for _, p := range m.Params() {
		v := p.Value.ToCPU().F32()
		ts = append(ts, safetensors.F32Tensor(p.Name, p.Value.Shape(), v))
	}
	if err := safetensors.Write(filepath.Join(dir, safetensors.SingleFileName), ts, map[string]string{"format": "pt"}); err != nil {
		return err
	}
	return SaveConfig(filepath.Join(dir, ConfigFile), m.Config)
}
