package editflow

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/dllmgo/dllm/internal/atomicfile"
	"github.com/dllmgo/dllm/lm"
	"github.com/dllmgo/dllm/tensor/safetensors"
)

// An Edit Flows model folder is its backbone's folder (config.json,
// model.safetensors, read by the backbone's family as usual) with the heads
// in HeadsFile and a ConfigKey in config.json that marks it:
//
//	"edit_flows": {"heads": "editflow.safetensors"}
const (
	HeadsFile = "editflow.safetensors"
	ConfigKey = "edit_flows"
)

// marker is the value of ConfigKey.
type marker struct {
	Heads string `json:"heads"`
}

// Marked reports whether a config.json marks an Edit Flows folder, and
// names its heads file.
func Marked(configJSON []byte) (heads string, ok bool) {
	var c map[string]json.RawMessage
	if json.Unmarshal(configJSON, &c) != nil || c[ConfigKey] == nil {
		return "", false
	}
	var mk marker
	if json.Unmarshal(c[ConfigKey], &mk) != nil || mk.Heads == "" {
		return HeadsFile, true
	}
	return mk.Heads, true
}

// Save writes the backbone's folder, the heads, and the mark in
// config.json.
func (m *Model) Save(dir string) error {
	if err := m.Backbone.Save(dir); err != nil {
		return err
	}
	var ts []safetensors.Tensor
	for _, p := range m.Heads.Params() {
		ts = append(ts, safetensors.F32Tensor(p.Name, p.Value.Shape(), p.Value.ToCPU().F32()))
	}
	if err := safetensors.Write(filepath.Join(dir, HeadsFile), ts, map[string]string{"format": "pt"}); err != nil {
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
	c[ConfigKey], _ = json.Marshal(marker{Heads: HeadsFile})
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
	heads, ok := Marked(js)
	if !ok {
		return bb, nil
	}
	b, ok := bb.(Backbone)
	if !ok {
		return nil, fmt.Errorf("%s: an Edit Flows folder whose backbone (%s) has no output head to carry the heads", dir, bb.Spec().Family)
	}
	return Load(filepath.Join(dir, heads), b)
}

// Load puts the heads saved in the safetensors file path on bb.
func Load(path string, bb Backbone) (*Model, error) {
	f, err := safetensors.Open(path)
	if err != nil {
		return nil, err
	}
	w, _ := bb.OutputHead()
	_, hasBias := f.Info("sub_logits.bias")
	hd := NewHeads(bb.Backend(), w.Value.Dim(1), w.Value.Dim(0), hasBias)
	for _, p := range hd.Params() {
		v, shape, err := f.F32(p.Name)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		if fmt.Sprint(shape) != fmt.Sprint(p.Value.Shape()) {
			return nil, fmt.Errorf("%s: %s has shape %v, the backbone wants %v", path, p.Name, shape, p.Value.Shape())
		}
		copyInto(p, v)
	}
	return &Model{Backbone: bb, Heads: hd}, nil
}
