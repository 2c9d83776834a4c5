package main

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/dllmgo/dllm/bert"
	"github.com/dllmgo/dllm/tensor"
	"github.com/dllmgo/dllm/train"
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

// loadModel reads a model directory; anything wrong with it is reported as
// bad input naming the directory or file.
func loadModel(dir string, b tensor.Backend) (*bert.Model, error) {
	if err := checkModelDir(dir); err != nil {
		return nil, err
	}
	m, err := bert.Load(dir, b)
	if err != nil {
		return nil, badInput("%v", err)
	}
	return m, nil
}

// loadBundle reads a model folder with its tokenizer and chat template;
// problems are usage errors naming the folder or file.
func loadBundle(dir string, be tensor.Backend) (*train.Bundle, error) {
	if err := checkModelDir(dir); err != nil {
		return nil, err
	}
	if _, err := os.Stat(filepath.Join(dir, train.TokenizerFile)); err != nil {
		return nil, badInput("%s: no %s: a chat model folder needs its tokenizer", dir, train.TokenizerFile)
	}
	b, err := train.LoadBundle(dir, be)
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
	if _, err := os.Stat(filepath.Join(dir, bert.ConfigFile)); err != nil {
		return badInput("%s: no %s: not a model directory", dir, bert.ConfigFile)
	}
	return nil
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
