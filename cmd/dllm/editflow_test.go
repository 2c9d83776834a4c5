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

	"github.com/dllmgo/dllm/editflow"
	"github.com/dllmgo/dllm/modeldir"
	"github.com/dllmgo/dllm/tensor"
)

// Edit Flows through the CLI: sft --objective editflow writes a marked
// folder with its heads, which generate, eval and chat sample by
// tau-leaping, and which resumes as an Edit Flows run.
func TestEditFlowsSFTGenerateEvalChat(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "chat.jsonl")
	writeChat(t, data, 60)
	out := filepath.Join(dir, "model")
	code, stdout, stderr := runCLI("sft", "--data", data, "--out", out, "--objective", "editflow", "--edit-masks", "6",
		"--steps", "4", "--batch-size", "8", "--vocab-size", "300", "--eval-every", "2", "--samples", "1", "--held-out", "0.1")
	require.Equal(t, 0, code, stderr)
	require.Contains(t, stdout, "saved the model")
	require.Contains(t, stderr, "held-out loss")
	js, err := os.ReadFile(filepath.Join(out, "config.json"))
	require.NoError(t, err)
	require.True(t, editflow.Marked(js), string(js))
	b, err := modeldir.Open(out, tensor.CPU())
	require.NoError(t, err)
	require.IsType(t, &editflow.Model{}, b.Model)
	// serve refuses it rather than sample it as a masked diffusion model.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err = runServe(ctx, []string{"--model", out, "--port", "0"}, io.Discard, io.Discard, nil)
	require.ErrorContains(t, err, "an Edit Flows model cannot be served yet")

	code, _, stderr = runCLI("generate", "--model", out, "--prompt", "Repeat: fox tree", "--max-new-tokens", "6", "--steps", "10",
		"--visualize", "--temperature", "1")
	require.Equal(t, 0, code, stderr)
	require.Contains(t, stderr, "result: ", "the live view's plain replay")

	code, stdout, stderr = runCLI("eval", "--model", out, "--data", data, "--limit", "6", "--max-new-tokens", "6", "--steps", "10")
	require.Equal(t, 0, code, stderr)
	var res evalResult
	require.NoError(t, json.Unmarshal([]byte(stdout), &res), stdout)
	require.Equal(t, 6, res.N)
	require.Greater(t, res.Loss, 0.0)

	var chatOut strings.Builder
	err = runChat([]string{"--model", out, "--max-new-tokens", "6", "--steps", "10", "--visualize=false"},
		strings.NewReader("Repeat: fox tree\n/exit\n"), &chatOut, &chatOut)
	require.NoError(t, err)
	require.Equal(t, 1, strings.Count(chatOut.String(), "bot> "), chatOut.String())

	code, _, stderr = runCLI("sft", "--data", data, "--out", out, "--steps", "6", "--batch-size", "8", "--resume", out, "--held-out", "0.1")
	require.Equal(t, 0, code, stderr)
	require.Contains(t, stderr, "resumed from")
	b, err = modeldir.Open(out, tensor.CPU())
	require.NoError(t, err)
	require.IsType(t, &editflow.Model{}, b.Model)
}

func TestEditFlowsPretrain(t *testing.T) {
	dir := t.TempDir()
	text := filepath.Join(dir, "text.jsonl")
	var sb strings.Builder
	for i := range 40 {
		line, _ := json.Marshal(map[string]string{"text": strings.Repeat("the fox runs by the river. ", 1+i%3)})
		sb.Write(line)
		sb.WriteByte('\n')
	}
	require.NoError(t, os.WriteFile(text, []byte(sb.String()), 0o644))
	out := filepath.Join(dir, "model")
	code, _, stderr := runCLI("pretrain", "--data", text, "--out", out, "--objective", "editflow", "--edit-masks", "-1",
		"--kappa", "cubic", "--steps", "3", "--batch-size", "4", "--vocab-size", "300", "--max-length", "32")
	require.Equal(t, 0, code, stderr)
	b, err := modeldir.Open(out, tensor.CPU())
	require.NoError(t, err)
	require.IsType(t, &editflow.Model{}, b.Model)
	code, _, stderr = runCLI("pretrain", "--data", text, "--out", filepath.Join(dir, "x"), "--objective", "editflow", "--kappa", "square")
	require.NotEqual(t, 0, code)
	require.Contains(t, stderr, "--kappa")
}
