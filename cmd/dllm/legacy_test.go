package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dllmgo/dllm/tensor/safetensors"
)

// legacy is a model folder written by `dllm sft` at a608523, the last main
// before modeldir, with what `dllm forward` and `dllm generate` printed for
// it then (its expected.json).
const legacy = "../../modeldir/testdata/legacy-a608523"

// Today's CLI gives the old folder's logits and answers.
func TestLegacyFolderThroughTheCLI(t *testing.T) {
	model := filepath.Join(legacy, "model")
	out := filepath.Join(t.TempDir(), "logits.safetensors")
	code, _, stderr := runCLI("forward", "--model", model, "--batch", filepath.Join(legacy, "batch.safetensors"), "--out", out)
	require.Equal(t, 0, code, stderr)
	got, err := safetensors.Open(out)
	require.NoError(t, err)
	want, err := safetensors.Open(filepath.Join(legacy, "logits.safetensors"))
	require.NoError(t, err)
	g, gs, err := got.F32("logits")
	require.NoError(t, err)
	w, ws, err := want.F32("logits")
	require.NoError(t, err)
	require.Equal(t, ws, gs)
	for i := range w {
		require.InDelta(t, w[i], g[i], 1e-5, "logit %d", i)
	}

	js, err := os.ReadFile(filepath.Join(legacy, "expected.json"))
	require.NoError(t, err)
	var exp struct {
		Generate []struct {
			Prompt      string  `json:"prompt"`
			Seed        uint64  `json:"seed"`
			Temperature float64 `json:"temperature"`
			Answer      string  `json:"answer"`
		} `json:"generate"`
	}
	require.NoError(t, json.Unmarshal(js, &exp))
	require.NotEmpty(t, exp.Generate)
	for _, e := range exp.Generate {
		args := []string{"generate", "--model", model, "--prompt", e.Prompt, "--seed", fmt.Sprint(e.Seed)}
		if e.Temperature != 0 {
			args = append(args, "--temperature", fmt.Sprint(e.Temperature))
		}
		code, stdout, stderr := runCLI(args...)
		require.Equal(t, 0, code, stderr)
		require.Equal(t, e.Answer, strings.TrimSuffix(stdout, "\n"), "prompt %q", e.Prompt)
	}
}
