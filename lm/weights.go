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

// BF16Source is a TensorSource that hands BF16 tensors over as they are
// stored (safetensors.Model; MapModel's in place).
type BF16Source interface {
	TensorSource
	// ReadBF16 fills dst with the tensor's values as bfloat16 bits
	// (rounded to nearest even from another dtype) and returns its shape.
	ReadBF16(name string, dst []uint16) ([]int, error)
	// BF16Bits returns a BF16 tensor's bits in place (aliasing a mapped
	// file), or false where it would have to be copied.
	BF16Bits(name string) ([]uint16, []int, bool)
}

// LoadParams copies every parameter from src under its checkpoint name,
// widened to float32, onto the parameter's backend. A BF16 parameter (a
// model made for inference with its weights kept in BF16) gets the
// checkpoint's BF16 values as they are, never widened: on the CPU a tensor
// of its own uses a mapped file's bytes in place (no copy, and the pages
// are the page cache's), a view into a larger tensor (q_proj, k_proj and
// v_proj stacked) is read straight into its rows; other dtypes on disk are
// rounded to BF16 tensor by tensor. Weights used in place are read-only
// (the mapping is): such a model is for inference, not for Init or an
// optimizer. A tensor of src that is
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
		if p.Value.DType() == tensor.BF16 {
			if err := loadBF16(p, src); err != nil {
				return err
			}
			continue
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
		v := p.Value.ToCPU()
		if v.DType() == tensor.BF16 { // weights kept in BF16: widen, exactly
			w := tensor.CPU().New(tensor.F32, v.Shape()...)
			tensor.CPU().Cast(w, v)
			v = w
		}
		t, err := safetensors.FloatTensor(p.Name, dt, p.Value.Shape(), v.F32())
		if err != nil {
			return err
		}
		ts = append(ts, t)
	}
	return safetensors.Write(filepath.Join(dir, safetensors.SingleFileName), ts, map[string]string{"format": "pt"})
}

// loadBF16 loads the BF16 parameter p from src (see LoadParams).
func loadBF16(p *nn.Param, src TensorSource) error {
	be, want := p.Value.Backend(), p.Value.Shape()
	bs, ok := src.(BF16Source)
	if !ok { // a source that only widens: round its values back
		v, shape, err := src.F32(p.Name)
		if err != nil {
			return err
		}
		if !tensor.SameShape(shape, want) {
			return fmt.Errorf("tensor %s has shape %v, config wants %v", p.Name, shape, want)
		}
		bits := make([]uint16, len(v))
		for i, x := range v {
			bits[i] = tensor.BF16FromF32(x)
		}
		be.Copy(p.Value, be.FromHost(tensor.FromBF16Bits(bits, shape...)))
		return nil
	}
	onCPU := be == tensor.CPU()
	if onCPU && !p.Value.IsView() {
		if bits, shape, ok := bs.BF16Bits(p.Name); ok {
			if !tensor.SameShape(shape, want) {
				return fmt.Errorf("tensor %s has shape %v, config wants %v", p.Name, shape, want)
			}
			old := p.Var.Value
			p.Var.Value = tensor.FromBF16Bits(bits, shape...)
			old.Free() // never written: its pages were never resident
			return nil
		}
	}
	var dst []uint16
	if onCPU {
		dst = p.Value.BF16Bits()
	} else {
		dst = make([]uint16, p.Value.Numel())
	}
	shape, err := readBF16Checked(bs, p.Name, dst, want)
	if err != nil {
		return err
	}
	if !onCPU {
		be.Copy(p.Value, be.FromHost(tensor.FromBF16Bits(dst, shape...)))
	}
	return nil
}

// readBF16Checked reads name into dst after checking its shape is want.
func readBF16Checked(bs BF16Source, name string, dst []uint16, want []int) ([]int, error) {
	if info, ok := bs.(interface {
		Info(string) (safetensors.TensorInfo, bool)
	}); ok {
		if t, ok := info.Info(name); ok && !tensor.SameShape(t.Shape, want) {
			return nil, fmt.Errorf("tensor %s has shape %v, config wants %v", name, t.Shape, want)
		}
	}
	shape, err := bs.ReadBF16(name, dst)
	if err != nil {
		return nil, err
	}
	if !tensor.SameShape(shape, want) {
		return nil, fmt.Errorf("tensor %s has shape %v, config wants %v", name, shape, want)
	}
	return shape, nil
}
