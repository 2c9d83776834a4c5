package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dllmgo/dllm/tensor/safetensors"
)

const lladaMoEFixture = "../../lladamoe/testdata/tiny_a"

// TestMoEFamiliesThroughTheCLI: a fresh LLaDA-MoE and a fresh RND1 train
// (sft --family lladamoe|rnd1 --preset tiny) into folders that generate
// and eval use; forward reproduces the LLaDA-MoE reference fixture from its
// folder, and inspect describes it.
func TestMoEFamiliesThroughTheCLI(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "chat.jsonl")
	writeChat(t, data, 40)
	for _, family := range []string{"lladamoe", "rnd1"} {
		model := filepath.Join(dir, family)
		code, stdout, stderr := runCLI("sft", "--family", family, "--preset", "tiny", "--data", data, "--out", model,
			"--steps", "3", "--batch-size", "4", "--vocab-size", "300", "--samples", "0")
		require.Equal(t, 0, code, stderr)
		require.Contains(t, stdout, "saved the model")
		var cfg map[string]any
		js, err := os.ReadFile(filepath.Join(model, "config.json"))
		require.NoError(t, err)
		require.NoError(t, json.Unmarshal(js, &cfg))
		require.Equal(t, family, cfg["model_type"])

		gen := []string{"generate", "--model", model, "--prompt", "Repeat: fox tree", "--max-new-tokens", "16", "--block-size", "8", "--steps", "2"}
		code, plain, stderr := runCLI(gen...)
		require.Equal(t, 0, code, stderr)
		if family == "lladamoe" { // RND1's shifted logits run without the cache
			code, cached, stderr := runCLI(append(gen, "--cache")...)
			require.Equal(t, 0, code, stderr)
			require.Equal(t, plain, cached, "one step per block: the cache's first steps are exact")
		}
		code, stdout, stderr = runCLI("eval", "--model", model, "--data", data, "--limit", "2", "--max-new-tokens", "8", "--steps", "2")
		require.Equal(t, 0, code, stderr)
		var res evalResult
		require.NoError(t, json.Unmarshal([]byte(stdout), &res), stdout)
		require.Equal(t, 2, res.N)
	}

	golden, err := safetensors.Open(filepath.Join(lladaMoEFixture, "golden.safetensors"))
	require.NoError(t, err)
	mask, _, err := golden.I64("attention_mask")
	require.NoError(t, err)
	batch := filepath.Join(dir, "batch.safetensors")
	var in []safetensors.Tensor
	for _, name := range []string{"input_ids", "attention_mask", "labels"} {
		v, shape, err := golden.I64(name)
		require.NoError(t, err)
		in = append(in, safetensors.I64Tensor(name, shape, v))
	}
	require.NoError(t, safetensors.Write(batch, in, nil))
	out := filepath.Join(dir, "out.safetensors")
	code, _, stderr := runCLI("forward", "--model", lladaMoEFixture, "--batch", batch, "--out", out, "--grads")
	require.Equal(t, 0, code, stderr)
	got, err := safetensors.Open(out)
	require.NoError(t, err)
	require.Less(t, maxRelErr(t, got, golden, "logits", mask, 128), 1e-4)
	require.Less(t, maxRelErr(t, got, golden, "last_hidden_state", mask, 64), 1e-4)
	loss, _, _ := got.F32("loss")
	want, _, _ := golden.F32("loss")
	require.InDelta(t, want[0], loss[0], 1e-5)
	require.Less(t, maxRelErr(t, got, golden, "grad.model.layers.0.mlp.gate.weight", nil, 1), 1e-3)

	code, stdout, stderr := runCLI("inspect", lladaMoEFixture)
	require.Equal(t, 0, code, stderr)
	require.Contains(t, stdout, "lladamoe: vocab 128")
	require.Contains(t, stdout, "model.layers.2.shared_expert.up_proj.weight")
}
