package main

import (
	"bufio"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dllmgo/dllm/modeldir"
	"github.com/dllmgo/dllm/tensor"
)

// TestDemoSmoke runs dllm demo with a budget of two seconds and checks what
// it says and leaves: the four stages, a score on the held-out questions,
// the answers shown, and a model folder that opens, with its data, metrics
// and loss plot.
func TestDemoSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("a training run (a few seconds): runs without -short (make test)")
	}
	out := filepath.Join(t.TempDir(), "demo")
	code, stdout, stderr := runCLI("demo", "--out", out, "--time-budget", "2s", "--examples", "100", "--held-out", "5", "--show", "2")
	require.Equal(t, 0, code, "stdout:\n%s\nstderr:\n%s", stdout, stderr)
	for i, stage := range []string{"generating instruction data", "training a tokenizer", "answering the held-out questions", "watching answers being denoised"} {
		assert.Regexp(t, regexp.MustCompile(`== `+string(rune('1'+i))+`/4  `+regexp.QuoteMeta(stage)), stdout)
	}
	assert.Contains(t, stdout, "100 training and 5 held-out conversations")
	assert.Regexp(t, `exact match on 5 unseen questions: \d+\.\d%`, stdout)
	assert.Equal(t, 2, strings.Count(stdout, "\nQ: "), stdout)
	assert.Regexp(t, `A: .*\((correct|wrong, expected .+); \d+ steps\)`, stdout)
	modelDir := filepath.Join(out, "model")
	assert.Contains(t, stdout, "dllm chat --model "+modelDir)

	lines := func(path string) int {
		f, err := os.Open(path)
		require.NoError(t, err)
		defer f.Close()
		n := 0
		for s := bufio.NewScanner(f); s.Scan(); n++ {
		}
		return n
	}
	assert.Equal(t, 100, lines(filepath.Join(out, "train.jsonl")))
	assert.Equal(t, 5, lines(filepath.Join(out, "heldout.jsonl")))
	for _, f := range []string{modeldir.ConfigFile, "model.safetensors", modeldir.TokenizerFile, modeldir.TokenizerConfigFile,
		modeldir.GenerationConfigFile, "metrics.jsonl", "loss.png"} {
		st, err := os.Stat(filepath.Join(modelDir, f))
		if assert.NoError(t, err, f) {
			assert.Positive(t, st.Size(), f)
		}
	}
	assert.Positive(t, lines(filepath.Join(modelDir, "metrics.jsonl")))
	b, err := modeldir.Open(modelDir, tensor.CPU())
	require.NoError(t, err)
	assert.Equal(t, "modernbert", b.Model.Spec().Family)
}
