package dream

import (
	"path/filepath"

	"github.com/dllmgo/dllm/internal/decoder"
	"github.com/dllmgo/dllm/lm"
	"github.com/dllmgo/dllm/tensor"
)

// Model is DreamModel: package decoder's bidirectional Qwen2 network with
// Dream's config.
type Model struct {
	*decoder.Model
	Config Config
	// SaveBF16 makes Save store the weights as BF16, as the released
	// checkpoints are; the default is F32.
	SaveBF16 bool
}

// New builds a model of a valid config with zero weights on b; call Init
// or load weights.
func New(c Config, b tensor.Backend) *Model {
	return &Model{Model: decoder.New(Arch(c), b), Config: c}
}

// Load reads a Dream folder: config.json, and model.safetensors or the
// shards model.safetensors.index.json lists (F32, F16 or BF16).
func Load(dir string, b tensor.Backend) (*Model, error) { return load(dir, b, false) }

// LoadBF16 is Load for inference with the embedding, the head and the
// projections kept in BF16 (memory-mapped from BF16 files where they can
// be, see lm.LoadParams), never widened to float32. Norms and biases stay
// float32. On the CUDA backend, run it under nn.PrecisionBF16.
func LoadBF16(dir string, b tensor.Backend) (*Model, error) { return load(dir, b, true) }

func load(dir string, b tensor.Backend, bf16 bool) (*Model, error) {
	c, err := LoadConfig(dir)
	if err != nil {
		return nil, err
	}
	dm, err := decoder.Open(dir, Arch(c), b, bf16)
	if err != nil {
		return nil, err
	}
	return &Model{Model: dm, Config: c}, nil
}

// Save writes config.json and model.safetensors into dir, each atomically.
func (m *Model) Save(dir string) error {
	if err := m.SaveWeights(dir, m.SaveBF16); err != nil {
		return err
	}
	return m.Config.Save(filepath.Join(dir, "config.json"))
}

var _ lm.MaskAttender = (*Model)(nil)
