package lm

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/dllmgo/dllm/nn"
	"github.com/dllmgo/dllm/tensor"
	"github.com/dllmgo/dllm/tensor/safetensors"
)

// TensorSource is what a family's weights load from: one safetensors file,
// or a sharded set seen as one (safetensors.OpenModel).
type TensorSource interface {
	Names() []string
	F32(name string) ([]float32, []int, error)
}

// LoadParams copies every parameter from src under its checkpoint name,
// widened to float32, onto the parameter's backend. A tensor of src that is
// not a parameter is an error (the config would not describe the weights)
// unless extra accepts its name (nil accepts none: a tied model's copy of
// its head, say); a missing tensor or a shape that differs is an error too.
func LoadParams(params []*nn.Param, src TensorSource, extra func(name string) bool) error {
	want := map[string]bool{}
	for _, p := range params {
		want[p.Name] = true
	}
	have := map[string]bool{}
	for _, n := range src.Names() {
		have[n] = true
		if !want[n] && (extra == nil || !extra(n)) {
			return fmt.Errorf("tensor %s is not a parameter of this config", n)
		}
	}
	for _, p := range params {
		if !have[p.Name] {
			return fmt.Errorf("missing tensor %s", p.Name)
		}
		v, shape, err := src.F32(p.Name)
		if err != nil {
			return err
		}
		if !tensor.SameShape(shape, p.Value.Shape()) {
			return fmt.Errorf("%stensor %s has shape %v, config.json wants %v", fileOf(src, p.Name), p.Name, shape, p.Value.Shape())
		}
		be := p.Value.Backend()
		be.Copy(p.Value, be.FromHost(tensor.FromF32(v, shape...)))
	}
	return nil
}

// fileOf is "model.safetensors: ", the file of src that stores name, when
// src can say (a safetensors.Model or File).
func fileOf(src TensorSource, name string) string {
	switch s := src.(type) {
	case *safetensors.Model:
		if f, ok := s.File(name); ok {
			return filepath.Base(f.Path()) + ": "
		}
	case *safetensors.File:
		return filepath.Base(s.Path()) + ": "
	}
	return ""
}

// SaveParams writes params under their names into dir's model.safetensors,
// atomically, as F32 or (bf16) BF16: half the size, as released checkpoints
// are stored.
func SaveParams(dir string, params []*nn.Param, bf16 bool) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	dt := safetensors.F32
	if bf16 {
		dt = safetensors.BF16
	}
	ts := make([]safetensors.Tensor, 0, len(params))
	for _, p := range params {
		t, err := safetensors.FloatTensor(p.Name, dt, p.Value.Shape(), p.Value.ToCPU().F32())
		if err != nil {
			return err
		}
		ts = append(ts, t)
	}
	return safetensors.Write(filepath.Join(dir, safetensors.SingleFileName), ts, map[string]string{"format": "pt"})
}
