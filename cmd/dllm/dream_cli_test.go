package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dllmgo/dllm/tensor/safetensors"
)

const dreamFixture = "../../dream/testdata/tiny_a"

// TestDreamThroughTheCLI: a fresh Dream trains (sft --family dream --preset
// tiny, CART weighting by default) into a folder that generate, eval and chat use;
// forward reproduces the reference fixture's logits, shifted loss and
// gradients from Dream's own folder, and inspect describes it.
func TestDreamThroughTheCLI(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "chat.jsonl")
	writeChat(t, data, 40)
	model := filepath.Join(dir, "model")
	sft := []string{"sft", "--family", "dream", "--preset", "tiny", "--data", data, "--batch-size", "4", "--vocab-size", "300", "--samples", "0"}
	code, stdout, stderr := runCLI(append(sft, "--out", model, "--steps", "3")...)
	require.Equal(t, 0, code, stderr)
	require.Contains(t, stdout, "saved the model")
	// Dream trains with CART unless --loss-weight says otherwise.
	firstLoss := func(args ...string) float64 {
		out := filepath.Join(dir, "run"+strings.Join(args, ""))
		code, _, stderr := runCLI(append(append(sft, "--out", out, "--steps", "1"), args...)...)
		require.Equal(t, 0, code, stderr)
		js, err := os.ReadFile(filepath.Join(out, "metrics.jsonl"))
		require.NoError(t, err)
		var rec struct{ Loss float64 }
		require.NoError(t, json.Unmarshal([]byte(strings.SplitN(string(js), "\n", 2)[0]), &rec))
		require.Positive(t, rec.Loss)
		return rec.Loss
	}
	byDefault := firstLoss()
	require.Equal(t, byDefault, firstLoss("--loss-weight", "cart"))
	require.NotEqual(t, byDefault, firstLoss("--loss-weight", "schedule"))
	var cfg map[string]any
	js, err := os.ReadFile(filepath.Join(model, "config.json"))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(js, &cfg))
	require.Equal(t, "Dream", cfg["model_type"])

	// Dream's example settings: entropy ranking, temperature 0.2, top-p 0.95; the same seed gives the same answer.
	gen := []string{"generate", "--model", model, "--prompt", "Repeat: fox tree", "--max-new-tokens", "16", "--block-size", "16", "--steps", "8",
		"--remasking", "entropy", "--temperature", "0.2", "--top-p", "0.95", "--seed", "3"}
	code, first, stderr := runCLI(gen...)
	require.Equal(t, 0, code, stderr)
	code, again, stderr := runCLI(gen...)
	require.Equal(t, 0, code, stderr)
	require.Equal(t, first, again)
	code, _, stderr = runCLI(append(gen, "--cache")...)
	require.NotEqual(t, 0, code, "a shifted model has no block cache")

	// Dream's generation_config.json knobs are the defaults: the same answer
	// as the flags spelled out, a note on stderr, and an explicit flag wins.
	genCfg := filepath.Join(model, "generation_config.json")
	js, err = os.ReadFile(genCfg)
	require.NoError(t, err)
	var gc map[string]any
	require.NoError(t, json.Unmarshal(js, &gc))
	gc["alg"], gc["temperature"], gc["top_p"], gc["alg_temp"] = "entropy", 0.2, 0.95, 0.5
	js, err = json.Marshal(gc)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(genCfg, js, 0o644))
	sizes := []string{"generate", "--model", model, "--prompt", "Repeat: fox tree", "--max-new-tokens", "16", "--block-size", "16", "--steps", "8", "--seed", "3"}
	code, fromFolder, stderr := runCLI(sizes...)
	require.Equal(t, 0, code, stderr)
	require.Contains(t, stderr, "generation_config.json: the model's defaults: --alg-temp 0.5, --remasking entropy, --temperature 0.2, --top-p 0.95")
	code, spelled, stderr := runCLI(append(sizes, "--remasking", "entropy", "--temperature", "0.2", "--top-p", "0.95", "--alg-temp", "0.5")...)
	require.Equal(t, 0, code, stderr)
	require.Equal(t, spelled, fromFolder)
	require.NotContains(t, stderr, "generation_config.json", "every knob given explicitly")
	code, greedy, stderr := runCLI(append(sizes, "--temperature", "0", "--alg-temp", "0")...)
	require.Equal(t, 0, code, stderr)
	code, greedySpelled, stderr := runCLI(append(sizes, "--temperature", "0", "--alg-temp", "0", "--remasking", "entropy", "--top-p", "0.95")...)
	require.Equal(t, 0, code, stderr)
	require.Equal(t, greedySpelled, greedy, "flags given win, the folder fills the rest")
	gc["top_p"] = 1.5
	js, err = json.Marshal(gc)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(genCfg, js, 0o644))
	code, _, stderr = runCLI(sizes...)
	require.Equal(t, 2, code)
	require.Contains(t, stderr, "generation_config.json: top_p is 1.5")
	delete(gc, "top_p")
	delete(gc, "alg")
	delete(gc, "temperature")
	delete(gc, "alg_temp")
	js, err = json.Marshal(gc)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(genCfg, js, 0o644))

	code, stdout, stderr = runCLI("eval", "--model", model, "--data", data, "--limit", "4", "--max-new-tokens", "8", "--steps", "4")
	require.Equal(t, 0, code, stderr)
	var res evalResult
	require.NoError(t, json.Unmarshal([]byte(stdout), &res), stdout)
	require.Equal(t, 4, res.N)

	var chatOut strings.Builder
	require.NoError(t, runChat([]string{"--model", model, "--max-new-tokens", "8", "--steps", "4", "--block-size", "8", "--visualize=false"},
		strings.NewReader("Repeat: lamp\n/exit\n"), &chatOut, &chatOut))
	require.Equal(t, 1, strings.Count(chatOut.String(), "bot> "), chatOut.String())

	golden, err := safetensors.Open(filepath.Join(dreamFixture, "golden.safetensors"))
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
	code, _, stderr = runCLI("forward", "--model", dreamFixture, "--batch", batch, "--out", out, "--grads")
	require.Equal(t, 0, code, stderr)
	got, err := safetensors.Open(out)
	require.NoError(t, err)
	require.Less(t, maxRelErr(t, got, golden, "logits", mask, 128), 1e-4)
	loss, _, _ := got.F32("loss")
	want, _, _ := golden.F32("loss")
	require.InDelta(t, want[0], loss[0], 1e-5, "the shifted loss")
	for _, name := range []string{"grad.model.layers.1.self_attn.k_proj.bias", "grad.model.embed_tokens.weight", "grad.lm_head.weight"} {
		require.Less(t, maxRelErr(t, got, golden, name, nil, 1), 1e-3, name)
	}

	code, stdout, stderr = runCLI("inspect", dreamFixture)
	require.Equal(t, 0, code, stderr)
	require.Contains(t, stdout, "Dream: vocab 128")
	require.Contains(t, stdout, "model.layers.2.self_attn.q_proj.bias")
}
