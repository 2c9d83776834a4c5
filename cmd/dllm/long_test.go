package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dllmgo/dllm/data/synth"
)

// TestLongSFTLearnsUnseenTask is the quality bar of the main job: dllm sft
// with its defaults (preset tiny), on 4,000 conversations of a task other
// than the demo's, must reach high exact match on held-out prompts within
// minutes on a CPU. It trains for about three minutes, so it only runs with
// DLLM_LONG_TESTS=1 (see the README).
func TestLongSFTLearnsUnseenTask(t *testing.T) {
	if os.Getenv("DLLM_LONG_TESTS") != "1" {
		t.Skip("trains for minutes: set DLLM_LONG_TESTS=1")
	}
	dir := t.TempDir()
	trainEx, err := synth.GenerateLevel(4000, 11, []string{"copy"}, synth.Easy)
	require.NoError(t, err)
	pool, err := synth.GenerateLevel(600, 12, []string{"copy"}, synth.Easy)
	require.NoError(t, err)
	held := synth.Exclude(pool, trainEx)[:200]
	trainPath, heldPath := filepath.Join(dir, "train.jsonl"), filepath.Join(dir, "held.jsonl")
	require.NoError(t, synth.WriteFile(trainPath, trainEx))
	require.NoError(t, synth.WriteFile(heldPath, held))

	out := filepath.Join(dir, "model")
	code, _, stderr := runCLI("sft", "--data", trainPath, "--out", out) // the defaults: preset tiny, 10 epochs
	require.Equal(t, 0, code, stderr)
	code, stdout, stderr := runCLI("eval", "--model", out, "--data", heldPath)
	require.Equal(t, 0, code, stderr)
	var res evalResult
	require.NoError(t, json.Unmarshal([]byte(stdout), &res))
	t.Logf("held-out exact match %.3f on %d prompts, loss %.3f", res.ExactMatch, res.N, res.Loss)
	require.GreaterOrEqual(t, res.ExactMatch, 0.8)
}
