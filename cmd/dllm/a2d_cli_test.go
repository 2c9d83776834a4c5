package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dllmgo/dllm/a2d"
	"github.com/dllmgo/dllm/lm"
	"github.com/dllmgo/dllm/nn"
	"github.com/dllmgo/dllm/tensor"
	"github.com/dllmgo/dllm/tensor/safetensors"
)

// TestA2DThroughTheCLI: a fresh A2D Qwen3 trains (sft --family a2d --preset
// tiny) into a folder that generate, eval and chat use; forward on it with
// left padding and position_ids gives the logits and loss the model gives
// in the library, and inspect describes it.
func TestA2DThroughTheCLI(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "chat.jsonl")
	writeChat(t, data, 40)
	model := filepath.Join(dir, "model")
	code, stdout, stderr := runCLI("sft", "--family", "a2d", "--preset", "tiny", "--data", data, "--out", model,
		"--steps", "3", "--batch-size", "4", "--vocab-size", "300", "--samples", "0")
	require.Equal(t, 0, code, stderr)
	require.Contains(t, stdout, "saved the model")
	var cfg map[string]any
	js, err := os.ReadFile(filepath.Join(model, "config.json"))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(js, &cfg))
	require.Equal(t, "a2d-qwen3", cfg["model_type"])
	require.EqualValues(t, 32, cfg["head_dim"])

	// Block diffusion trains an A2D model too (its Forward takes the BD3LM mask).
	code, stdout, stderr = runCLI("sft", "--family", "a2d", "--preset", "tiny", "--data", data, "--out", filepath.Join(dir, "bd3lm"),
		"--steps", "2", "--batch-size", "4", "--vocab-size", "300", "--samples", "0", "--objective", "bd3lm", "--block-size", "8")
	require.Equal(t, 0, code, stderr)
	require.Contains(t, stdout, "saved the model")

	gen := []string{"generate", "--model", model, "--prompt", "Repeat: fox tree", "--max-new-tokens", "16", "--block-size", "8"}
	code, plain, stderr := runCLI(append(gen, "--steps", "2")...)
	require.Equal(t, 0, code, stderr)
	code, cached, stderr := runCLI(append(gen, "--steps", "2", "--cache")...)
	require.Equal(t, 0, code, stderr)
	require.Equal(t, plain, cached, "one step per block: the cache's first steps are exact")
	code, _, stderr = runCLI(append(gen, "--steps", "16", "--cache")...)
	require.Equal(t, 0, code, stderr)
	require.Contains(t, stderr, "16 forward passes (14 from the block cache)")
	code, stdout, stderr = runCLI("eval", "--model", model, "--data", data, "--limit", "4", "--max-new-tokens", "8", "--steps", "4")
	require.Equal(t, 0, code, stderr)
	var res evalResult
	require.NoError(t, json.Unmarshal([]byte(stdout), &res), stdout)
	require.Equal(t, 4, res.N)
	var chatOut strings.Builder
	require.NoError(t, runChat([]string{"--model", model, "--max-new-tokens", "8", "--steps", "4", "--block-size", "8", "--visualize=false"},
		strings.NewReader("Repeat: lamp\n/exit\n"), &chatOut, &chatOut))
	require.Equal(t, 1, strings.Count(chatOut.String(), "bot> "), chatOut.String())

	// forward: row 1 left-padded by 2, its positions from 0.
	ids := []int64{2, 10, 299, 40, 299, 3, 0, 0, 2, 11, 299, 41}
	mask := []int64{1, 1, 1, 1, 1, 1, 0, 0, 1, 1, 1, 1}
	pos := []int64{0, 1, 2, 3, 4, 5, 1, 1, 0, 1, 2, 3}
	labels := []int64{-100, -100, 12, -100, 50, -100, -100, -100, -100, -100, 13, -100}
	batch := filepath.Join(dir, "batch.safetensors")
	require.NoError(t, safetensors.Write(batch, []safetensors.Tensor{
		safetensors.I64Tensor("input_ids", []int{2, 6}, ids), safetensors.I64Tensor("attention_mask", []int{2, 6}, mask),
		safetensors.I64Tensor("position_ids", []int{2, 6}, pos), safetensors.I64Tensor("labels", []int{2, 6}, labels),
	}, nil))
	out := filepath.Join(dir, "out.safetensors")
	code, _, stderr = runCLI("forward", "--model", model, "--batch", batch, "--out", out, "--grads")
	require.Equal(t, 0, code, stderr)
	got, err := safetensors.Open(out)
	require.NoError(t, err)

	m, err := a2d.Load(model, tensor.CPU())
	require.NoError(t, err)
	i32 := func(v []int64) []int32 {
		out := make([]int32, len(v))
		for i, x := range v {
			out[i] = int32(x)
		}
		return out
	}
	tp := nn.NewTape(tensor.CPU())
	o := m.Forward(tp, lm.Input{IDs: tensor.FromI32(i32(ids), 2, 6), KeyMask: tensor.FromI32(i32(mask), 2, 6), Positions: tensor.FromI32(i32(pos), 12)})
	w := make([]float32, 12)
	for i := range w {
		w[i] = 1.0 / 3 // three labels
	}
	loss := tp.CrossEntropy(o.Logits, tensor.FromI32(i32(labels), 12), tensor.FromF32(w, 12), -100)
	logits, _, err := got.F32("logits")
	require.NoError(t, err)
	require.Equal(t, o.Logits.Value.F32(), logits, "unshifted logits, the positions read")
	gl, _, err := got.F32("loss")
	require.NoError(t, err)
	require.InDelta(t, loss.Value.F32()[0], gl[0], 1e-6, "the unshifted loss")
	g, _, err := got.F32("grad.model.layers.1.self_attn.q_norm.weight")
	require.NoError(t, err)
	require.NotEqual(t, make([]float32, 32), g)

	code, stdout, stderr = runCLI("inspect", model)
	require.Equal(t, 0, code, stderr)
	require.Contains(t, stdout, "A2D Qwen3: vocab 300")
	require.Contains(t, stdout, "model.layers.1.self_attn.k_norm.weight")
}
