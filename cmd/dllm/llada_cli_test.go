package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dllmgo/dllm/tensor/safetensors"
)

const lladaFixture = "../../llada/testdata/tiny_a"

// TestLLaDAThroughTheCLI: a fresh LLaDA trains (sft --family llada --preset
// tiny) into a folder that generate (with and without --cache), eval and
// chat use; forward reproduces the reference fixture's logits and loss
// from LLaDA's own folder, and inspect describes it.
func TestLLaDAThroughTheCLI(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "chat.jsonl")
	writeChat(t, data, 40)
	model := filepath.Join(dir, "model")
	code, stdout, stderr := runCLI("sft", "--family", "llada", "--preset", "tiny", "--data", data, "--out", model,
		"--steps", "3", "--batch-size", "4", "--vocab-size", "300", "--samples", "0")
	require.Equal(t, 0, code, stderr)
	require.Contains(t, stdout, "saved the model")
	var cfg map[string]any
	js, err := os.ReadFile(filepath.Join(model, "config.json"))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(js, &cfg))
	require.Equal(t, "llada", cfg["model_type"])
	require.Equal(t, "llama", cfg["block_type"])

	gen := []string{"generate", "--model", model, "--prompt", "Repeat: fox tree", "--max-new-tokens", "16", "--block-size", "8"}
	code, plain, stderr := runCLI(append(gen, "--steps", "2")...)
	require.Equal(t, 0, code, stderr)
	code, cached, stderr := runCLI(append(gen, "--steps", "2", "--cache")...)
	require.Equal(t, 0, code, stderr)
	assert.Equal(t, plain, cached, "one step per block: the cache's first steps are exact")
	code, _, stderr = runCLI(append(gen, "--steps", "16", "--cache")...)
	require.Equal(t, 0, code, stderr)
	assert.Contains(t, stderr, "16 forward passes (14 from the block cache)")

	code, stdout, stderr = runCLI("eval", "--model", model, "--data", data, "--limit", "4", "--max-new-tokens", "8", "--steps", "4")
	require.Equal(t, 0, code, stderr)
	var res evalResult
	require.NoError(t, json.Unmarshal([]byte(stdout), &res), stdout)
	require.Equal(t, 4, res.N)

	var chatOut strings.Builder
	require.NoError(t, runChat([]string{"--model", model, "--max-new-tokens", "8", "--steps", "4", "--block-size", "8", "--visualize=false"},
		strings.NewReader("Repeat: lamp\n/exit\n"), &chatOut, &chatOut))
	require.Equal(t, 1, strings.Count(chatOut.String(), "bot> "), chatOut.String())

	// forward on the reference folder: the fixture's batch, its numbers.
	golden, err := safetensors.Open(filepath.Join(lladaFixture, "golden.safetensors"))
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
	code, _, stderr = runCLI("forward", "--model", lladaFixture, "--batch", batch, "--out", out, "--grads")
	require.Equal(t, 0, code, stderr)
	got, err := safetensors.Open(out)
	require.NoError(t, err)
	require.Less(t, maxRelErr(t, got, golden, "logits", mask, 128), 1e-4)
	require.Less(t, maxRelErr(t, got, golden, "last_hidden_state", mask, 64), 1e-4)
	loss, _, _ := got.F32("loss")
	want, _, _ := golden.F32("loss")
	require.InDelta(t, want[0], loss[0], 1e-5)
	require.Less(t, maxRelErr(t, got, golden, "grad.model.transformer.blocks.1.k_proj.weight", nil, 1), 1e-3)

	code, stdout, stderr = runCLI("inspect", lladaFixture)
	require.Equal(t, 0, code, stderr)
	require.Contains(t, stdout, "LLaDA: vocab 128")
	require.Contains(t, stdout, "model.transformer.blocks.2.up_proj.weight")
}
