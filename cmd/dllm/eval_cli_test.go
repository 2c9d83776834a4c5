package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dllmgo/dllm/evaltask"
	"github.com/dllmgo/dllm/mdlm"
)

// evalResult is the part of eval's JSON the chat tests read.
type evalResult struct {
	ExactMatch float64            `json:"exact_match"`
	N          int                `json:"n"`
	Loss       float64            `json:"loss"`
	PerTask    map[string]taskAcc `json:"per_task,omitempty"`
	Skipped    int                `json:"skipped,omitempty"`
}

type taskAcc struct {
	ExactMatch float64 `json:"exact_match"`
	N          int     `json:"n"`
}

func taskData(name string) string { return filepath.Join("..", "..", "evaltask", "testdata", name) }

// Every task runs through the CLI on a tiny model and reports its scores
// with standard errors and counts; --out writes the JSON file and prints
// the one-line summary.
func TestEvalTasks(t *testing.T) {
	chat, model := briefTraining(t, 24, 2)
	small := []string{"--max-new-tokens", "4", "--steps", "4"}
	for _, c := range []struct {
		task, data string
		n          int
		metrics    []string
		extra      []string
	}{
		{"chat", chat, 5, []string{"exact_match"}, append([]string{"--limit", "5"}, small...)},
		{"lambada", taskData("lambada.jsonl"), 3, []string{"accuracy"}, small},
		{"gsm8k", taskData("gsm8k.jsonl"), 2, []string{"exact_match"}, append([]string{"--limit", "2"}, small...)},
		{"choice", taskData("choice.jsonl"), 3, []string{"accuracy", "accuracy_norm"}, []string{"--mc-samples", "4", "--batch-size", "2"}},
	} {
		t.Run(c.task, func(t *testing.T) {
			code, stdout, stderr := runCLI(append([]string{"eval", "--task", c.task, "--model", model, "--data", c.data}, c.extra...)...)
			require.Equal(t, 0, code, stderr)
			var res map[string]any
			require.NoError(t, json.Unmarshal([]byte(stdout), &res), stdout)
			require.Equal(t, c.task, res["task"])
			require.EqualValues(t, c.n, res["n"])
			for _, m := range c.metrics {
				v, ok := res[m].(float64)
				require.True(t, ok, "%s in %s", m, stdout)
				require.True(t, v >= 0 && v <= 1, m)
				se, ok := res[m+"_stderr"].(float64)
				require.True(t, ok, "%s_stderr in %s", m, stdout)
				require.GreaterOrEqual(t, se, 0.0)
			}
			require.Contains(t, stderr, c.task+": "+c.metrics[0]+" ")

			out := filepath.Join(t.TempDir(), "res.json")
			code, stdout, stderr = runCLI(append([]string{"eval", "--task", c.task, "--model", model, "--data", c.data, "--out", out}, c.extra...)...)
			require.Equal(t, 0, code, stderr)
			require.Equal(t, 1, strings.Count(stdout, "\n"), stdout)
			require.Contains(t, stdout, "(n=")
			js, err := os.ReadFile(out)
			require.NoError(t, err)
			var again map[string]any
			require.NoError(t, json.Unmarshal(js, &again))
			require.Equal(t, res[c.metrics[0]], again[c.metrics[0]], "the same run twice gives the same score")
		})
	}
}

// GSM8K samples with the reference's settings unless flags say otherwise;
// LAMBADA with a short canvas.
func TestEvalTaskCanvas(t *testing.T) {
	c := mdlm.DefaultSamplerConfig(0, 1)
	sf := samplerFlags{set: map[string]bool{}}
	g := sizeCanvas(&sf, c, evaltask.GSM8KMaxNewTokens, evaltask.GSM8KSteps, evaltask.GSM8KBlockSize)
	require.Equal(t, [3]int{256, 256, 32}, [3]int{g.MaxNewTokens, g.Steps, g.BlockSize})
	sf.set["steps"] = true
	c.Steps = 64
	g = sizeCanvas(&sf, c, evaltask.GSM8KMaxNewTokens, evaltask.GSM8KSteps, evaltask.GSM8KBlockSize)
	require.Equal(t, [3]int{256, 64, 32}, [3]int{g.MaxNewTokens, g.Steps, g.BlockSize})
}

func TestEvalBadInput(t *testing.T) {
	chat, model := briefTraining(t, 8, 1)
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.jsonl")
	require.NoError(t, os.WriteFile(bad, []byte(`{"question": "q", "answer": "7"}`+"\n"), 0o644))
	out := filepath.Join(dir, "res.json")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--task", "mmlu", "--data", chat}, `--task: unknown task "mmlu" (known: chat, lambada, gsm8k, choice)`},
		{[]string{"--task", "gsm8k", "--data", bad}, `bad.jsonl:1: "answer" has no "#### N" final answer`},
		{[]string{"--task", "choice", "--data", chat}, "chat.jsonl:1: want {\"context\""},
		{[]string{"--task", "choice", "--data", taskData("choice.jsonl"), "--mc-samples", "0"}, "--mc-samples must be at least 1"},
		{[]string{"--task", "gsm8k", "--data", taskData("gsm8k.jsonl"), "--prompt-format", "raw"}, "--prompt-format applies to lambada and choice"},
		{[]string{"--task", "lambada", "--data", filepath.Join(dir, "none.jsonl")}, "none.jsonl"},
	} {
		code, _, stderr := runCLI(append([]string{"eval", "--model", model, "--out", out}, c.args...)...)
		require.Equal(t, 2, code, stderr)
		require.Contains(t, stderr, c.want)
		require.Equal(t, 1, strings.Count(strings.TrimSpace(stderr), "\n")+1, "one line: %q", stderr)
		require.NoFileExists(t, out)
	}
}
