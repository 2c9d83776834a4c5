package main

import (
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dllmgo/dllm/bd3lm"
	"github.com/dllmgo/dllm/modeldir"
	"github.com/dllmgo/dllm/tensor"
)

// TestSFTBD3LM: sft --objective bd3lm trains and records the sampler in the
// folder; generate then samples block by block without flags, the same for
// a seed with and without the cache; --resume continues the run.
func TestSFTBD3LM(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "chat.jsonl")
	writeChat(t, data, 60)
	out := filepath.Join(dir, "model")
	code, stdout, stderr := runCLI("sft", "--data", data, "--out", out, "--steps", "3", "--batch-size", "4",
		"--vocab-size", "300", "--samples", "1", "--eval-every", "3", "--objective", "bd3lm", "--block-size", "4")
	require.Equal(t, 0, code, stderr)
	require.Contains(t, stdout, "saved the model")

	var gen modeldir.Generation
	js, err := os.ReadFile(filepath.Join(out, "generation_config.json"))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(js, &gen))
	require.Equal(t, "bd3lm", gen.Sampler)
	require.Equal(t, 4, gen.BlockSize)

	answer := func(extra ...string) string {
		args := append([]string{"generate", "--model", out, "--prompt", "Repeat: fox tree", "--max-new-tokens", "12",
			"--steps", "12", "--temperature", "1", "--seed", "5"}, extra...)
		code, stdout, stderr := runCLI(args...)
		require.Equal(t, 0, code, stderr)
		return stdout
	}
	first := answer()
	require.Equal(t, first, answer())
	require.Equal(t, first, answer("--cache"))
	require.Equal(t, first, answer("--sampler", "bd3lm"))
	guided := answer("--cfg", "1.5")
	require.Equal(t, guided, answer("--cfg", "1.5", "--cache"), "guidance keeps cached equal to uncached")
	require.Equal(t, answer("--threshold", "0.3"), answer("--threshold", "0.3", "--cache"))

	// eval scores the folder by the objective it was trained with (BD3LM at
	// its block size, sft's padding), not by MDLM.
	bun, err := modeldir.Open(out, tensor.CPU())
	require.NoError(t, err)
	obj, ok := evalObjective(bun).(*bd3lm.Objective)
	require.True(t, ok, "eval's objective for a BD3LM folder")
	require.Equal(t, 4, obj.BlockSize())
	require.True(t, obj.Options.PadToBlocks)

	code, _, stderr = runCLI("sft", "--data", data, "--out", out, "--steps", "5", "--batch-size", "4",
		"--resume", out, "--objective", "bd3lm", "--block-size", "4", "--samples", "0")
	require.Equal(t, 0, code, stderr)
	require.Contains(t, stderr, "resumed from")

	code, _, stderr = runCLI("sft", "--data", data, "--out", filepath.Join(dir, "bad"), "--objective", "bd3lm", "--block-size", "0")
	require.NotEqual(t, 0, code)
	require.True(t, strings.Contains(stderr, "--block-size"), stderr)
}

// pretrain --objective bd3lm trains on packed text and the folder samples
// block by block.
func TestPretrainBD3LM(t *testing.T) {
	dir := t.TempDir()
	corpus := filepath.Join(dir, "a.txt")
	text := strings.Repeat("The river runs past the stone mill and the green hill. ", 150)
	require.NoError(t, os.WriteFile(corpus, []byte(text), 0o644))
	out := filepath.Join(dir, "model")
	code, stdout, stderr := runCLI("pretrain", "--data", corpus, "--out", out, "--steps", "2", "--batch-size", "2",
		"--max-length", "32", "--vocab-size", "320", "--objective", "bd3lm", "--block-size", "8", "--time-per-block")
	require.Equal(t, 0, code, stderr)
	require.Contains(t, stdout, "saved the model")
	code, _, stderr = runCLI("generate", "--model", out, "--raw", "--prompt", "The river", "--max-new-tokens", "16", "--steps", "8")
	require.Equal(t, 0, code, stderr)
	// serve refuses it rather than sample it with the block sampler.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := runServe(ctx, []string{"--model", out, "--port", "0"}, io.Discard, io.Discard, nil)
	require.ErrorContains(t, err, "a BD3LM model cannot be served yet")
}
