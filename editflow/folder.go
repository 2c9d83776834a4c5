package editflow

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"

	"github.com/dllmgo/dllm/internal/atomicfile"
	"github.com/dllmgo/dllm/lm"
	"github.com/dllmgo/dllm/tensor/safetensors"
)

// An Edit Flows model folder is its backbone's folder (config.json and
// model.safetensors, read by the backbone's family as usual) whose weights
// file also holds the heads (sub_logits, ins_logits, rate_heads: the
// reference's names), and whose config.json carries ConfigKey:
//
//	"edit_flows": {"heads": ["sub_logits", "ins_logits", "rate_heads"]}
//
// The trainer's checkpoints are such folders too, so a run resumes with its
// heads.
const ConfigKey = "edit_flows"

// marker is the value of ConfigKey.
type marker struct {
	Heads []string `json:"heads"`
}

// Marked reports whether a config.json marks an Edit Flows folder.
func Marked(configJSON []byte) bool {
	var c map[string]json.RawMessage
	return json.Unmarshal(configJSON, &c) == nil && c[ConfigKey] != nil
}

// Save writes the backbone's folder, adds the heads to its weights file,
// and marks config.json.
func (m *Model) Save(dir string) error {
	if err := m.Backbone.Save(dir); err != nil {
		return err
	}
	src, err := safetensors.OpenModel(dir)
	if err != nil {
		return err
	}
	if len(src.Files()) != 1 {
		return fmt.Errorf("editflow: %s: the backbone saved %d weight files; the heads go into a single one", dir, len(src.Files()))
	}
	var ts []safetensors.Tensor
	for _, name := range src.Names() {
		info, _ := src.Info(name)
		raw, _ := src.Raw(name)
		ts = append(ts, safetensors.Tensor{Name: name, DType: info.DType, Shape: info.Shape, Data: slices.Clone(raw)})
	}
	for _, p := range m.Heads.Params() {
		ts = append(ts, safetensors.F32Tensor(p.Name, p.Value.Shape(), p.Value.ToCPU().F32()))
	}
	if err := safetensors.Write(filepath.Join(dir, safetensors.SingleFileName), ts, map[string]string{"format": "pt"}); err != nil {
		return err
	}
	path := filepath.Join(dir, "config.json")
	js, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var c map[string]json.RawMessage
	if err := json.Unmarshal(js, &c); err != nil {
		return fmt.Errorf("%s: %v", path, err)
	}
	c[ConfigKey], _ = json.Marshal(marker{Heads: []string{"sub_logits", "ins_logits", "rate_heads"}})
	out, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.WriteBytes(path, append(out, '\n'), 0o644)
}

// Wrap returns the model of dir: bb with its heads when dir's config.json
// marks an Edit Flows folder, else bb itself. Model folders are opened
// through it, so every command sees an Edit Flows model as one.
func Wrap(dir string, bb lm.Model) (lm.Model, error) {
	js, err := os.ReadFile(filepath.Join(dir, "config.json"))
	if errors.Is(err, fs.ErrNotExist) {
		return bb, nil
	} else if err != nil {
		return nil, err
	}
	if !Marked(js) {
		return bb, nil
	}
	b, ok := bb.(Backbone)
	if !ok {
		return nil, fmt.Errorf("%s: an Edit Flows folder whose backbone (%s) has no output head to carry the heads", dir, bb.Spec().Family)
	}
	return Load(dir, b)
}

// Load puts the heads saved in dir's weights on bb.
func Load(dir string, bb Backbone) (*Model, error) {
	src, err := safetensors.OpenModel(dir)
	if err != nil {
		return nil, err
	}
	w, _ := bb.OutputHead()
	_, hasBias := src.Info("sub_logits.bias")
	hd := NewHeads(bb.Backend(), w.Value.Dim(1), w.Value.Dim(0), hasBias)
	for _, p := range hd.Params() {
		v, shape, err := src.F32(p.Name)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", dir, err)
		}
		if !slices.Equal(shape, p.Value.Shape()) {
			return nil, fmt.Errorf("%s: %s has shape %v, the backbone wants %v", dir, p.Name, shape, p.Value.Shape())
		}
		copyInto(p, v)
	}
	return &Model{Backbone: bb, Heads: hd}, nil
}
