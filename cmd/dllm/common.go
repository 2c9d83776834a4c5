package main

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/dllmgo/dllm/lm"
	"github.com/dllmgo/dllm/modeldir"
	"github.com/dllmgo/dllm/nn"
	"github.com/dllmgo/dllm/tensor"
)

// openDevice resolves --device. A device that cannot be opened here (no GPU,
// no driver) is the user's choice failing, so it is a usage error.
func openDevice(name string) (tensor.Backend, error) {
	b, err := tensor.Open(name)
	if err != nil {
		return nil, badInput("--device %s: %v", name, err)
	}
	return b, nil
}

// loadModel reads a model directory through the registry of families;
// anything wrong with it (an unknown model_type included) is reported as
// bad input naming the directory or file.
func loadModel(dir string, b tensor.Backend, opt modeldir.Options) (lm.Model, error) {
	if err := checkModelDir(dir); err != nil {
		return nil, err
	}
	m, err := modeldir.LoadModelWith(dir, b, opt)
	if err != nil {
		return nil, badInput("%v", err)
	}
	return m, nil
}

// loadBundle reads a model folder with its tokenizer and chat template;
// problems are usage errors naming the folder or file.
func loadBundle(dir string, be tensor.Backend, opt modeldir.Options) (*modeldir.Bundle, error) {
	if err := checkModelDir(dir); err != nil {
		return nil, err
	}
	b, err := modeldir.OpenWith(dir, be, opt)
	if err != nil {
		return nil, badInput("%v", err)
	}
	return b, nil
}

func checkModelDir(dir string) error {
	st, err := os.Stat(dir)
	if err != nil {
		return badInput("%s: %v", dir, errorsCause(err))
	}
	if !st.IsDir() {
		return badInput("%s: not a model directory", dir)
	}
	if _, err := os.Stat(filepath.Join(dir, modeldir.ConfigFile)); err != nil {
		return badInput("%s: no %s: not a model directory", dir, modeldir.ConfigFile)
	}
	return nil
}

// fitsModel reports whether n positions fit the model's maximum length.
func fitsModel(m lm.Model, n int) bool {
	limit := m.Spec().MaxPositions
	return limit <= 0 || n <= limit
}

// describeModel says what the model is, for status lines.
func describeModel(m lm.Model) string {
	if d, ok := m.(lm.Describer); ok {
		return d.Describe()
	}
	return m.Spec().Family
}

// errorsCause strips the path from a *fs.PathError, whose path the caller
// already names.
func errorsCause(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// inferenceOptions are how the inference commands read weights under
// --precision: bf16 keeps the large weights in BF16 as stored (on the CPU
// memory-mapped; never widened: half the memory of f32, the same logits as
// f32 weights under bf16 arithmetic, on the GPU BF16 pairs for cuBLASLt).
func inferenceOptions(prec nn.Precision, _ tensor.Backend) modeldir.Options {
	return modeldir.Options{BF16Weights: prec == nn.PrecisionBF16}
}
