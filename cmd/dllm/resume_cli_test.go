package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dllmgo/dllm/bd3lm"
	"github.com/dllmgo/dllm/tensor"
	"github.com/dllmgo/dllm/train"
)

// metricLine is a line of metrics.jsonl.
type metricLine struct {
	Step     int      `json:"step"`
	Loss     *float64 `json:"loss"`
	LR       *float64 `json:"lr"`
	EvalLoss *float64 `json:"eval_loss"`
}

func readMetricLines(t *testing.T, out string) []metricLine {
	t.Helper()
	js, err := os.ReadFile(filepath.Join(out, "metrics.jsonl"))
	require.NoError(t, err)
	var lines []metricLine
	sc := bufio.NewScanner(bytes.NewReader(js))
	for sc.Scan() {
		var l metricLine
		require.NoError(t, json.Unmarshal(sc.Bytes(), &l), sc.Text())
		lines = append(lines, l)
	}
	return lines
}

// stepLines are the training lines of metrics.jsonl: step, loss, lr.
func stepLines(t *testing.T, out string) [][3]float64 {
	var s [][3]float64
	for _, l := range readMetricLines(t, out) {
		if l.Loss != nil {
			s = append(s, [3]float64{float64(l.Step), *l.Loss, *l.LR})
		}
	}
	return s
}

// A fine-tune (--init: learning rate 1e-4 by default) that crashed after
// its step-4 checkpoint is resumed with `dllm sft --resume CHECKPOINT` and
// nothing else: the options come from the checkpoint, so the resumed run
// trains at the fine-tuning rate (not the 1e-3 of a run from scratch) and
// its learning rates, losses and final weights equal those of a run never
// interrupted.
func TestResumeInitRunFromCheckpointAlone(t *testing.T) {
	data, base := briefTraining(t, 60, 2)
	dir := t.TempDir()
	args := func(out string) []string {
		return []string{"sft", "--init", base, "--data", data, "--out", out, "--steps", "8", "--batch-size", "4",
			"--save-every", "2", "--keep-last", "0", "--samples", "0", "--held-out", "0.1"}
	}
	whole, crashed := filepath.Join(dir, "whole"), filepath.Join(dir, "crashed")
	code, _, stderr := runCLI(args(whole)...)
	require.Equal(t, 0, code, stderr)
	code, _, stderr = runCLI(args(crashed)...)
	require.Equal(t, 0, code, stderr)
	// The crash: the checkpoints after step 4 and the final model never
	// got written; metrics.jsonl holds steps up to 8.
	for _, name := range []string{"checkpoints/step-000006", "checkpoints/step-000008", "model.safetensors"} {
		require.NoError(t, os.RemoveAll(filepath.Join(crashed, name)))
	}

	code, stdout, stderr := runCLI("sft", "--resume", filepath.Join(crashed, "checkpoints", "step-000004"))
	require.Equal(t, 0, code, stderr)
	require.Contains(t, stderr, "at step 4 of 8")
	require.Contains(t, stdout, "saved the model to "+crashed)

	want, got := stepLines(t, whole), stepLines(t, crashed)
	require.Len(t, want, 8)
	require.Equal(t, want, got, "step, loss and learning rate of every step")
	peak := 0.0
	for _, l := range want {
		peak = max(peak, l[2])
	}
	require.InDelta(t, 1e-4, peak, 1e-5, "the fine-tuning rate, not the 1e-3 of a run from scratch")
	a, err := os.ReadFile(filepath.Join(whole, "model.safetensors"))
	require.NoError(t, err)
	b, err := os.ReadFile(filepath.Join(crashed, "model.safetensors"))
	require.NoError(t, err)
	require.True(t, bytes.Equal(a, b), "final weights byte for byte")

	// The checkpoint describes the run.
	ck, err := train.FindCheckpoint(crashed)
	require.NoError(t, err)
	spec, step, err := train.ReadRunSpec(ck)
	require.NoError(t, err)
	require.Equal(t, 8, step)
	require.Equal(t, "sft", spec.Command)
	require.Equal(t, "0.0001", spec.Flags["lr"])
	require.Equal(t, "4", spec.Flags["batch-size"])
	require.Equal(t, "mdlm", spec.Flags["objective"])
	require.Equal(t, "schedule", spec.Flags["loss-weight"])
	require.Equal(t, fmt.Sprint(bd3lm.DefaultBlockSize), spec.Flags["block-size"])
	require.Len(t, spec.Data, 1)
	info, err := os.Stat(data)
	require.NoError(t, err)
	require.Equal(t, info.Size(), spec.Data[0].Size)
	require.Len(t, spec.Data[0].SHA256, 64)
	require.Len(t, spec.TokenizerSHA256, 64)
	require.Len(t, spec.ModelConfigSHA256, 64)
	require.Equal(t, "cpu", spec.Device)
	require.NotEmpty(t, spec.Version)
}

// A flag given again on --resume must agree with the run's record, except
// those that may change; data that changed since the checkpoint is refused
// the same way: one line, the flag, both values, exit status 2.
func TestResumeRefusesOtherFlagsAndData(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "chat.jsonl")
	writeChat(t, data, 60)
	out := filepath.Join(dir, "model")
	code, _, stderr := runCLI("sft", "--data", data, "--out", out, "--steps", "4", "--batch-size", "4",
		"--vocab-size", "300", "--samples", "0", "--lr", "2e-3")
	require.Equal(t, 0, code, stderr)

	other := filepath.Join(dir, "other.jsonl")
	writeChat(t, other, 61)
	cases := []struct {
		name string
		args []string
		want []string
	}{
		{"learning rate", []string{"--lr", "1e-3"}, []string{"--lr: the run was started with 0.002, the command line says 0.001", "--eval-every"}},
		{"batch size", []string{"--batch-size", "8"}, []string{"--batch-size: the run was started with 4, the command line says 8"}},
		{"objective", []string{"--objective", "bd3lm"}, []string{"--objective: the run was started with mdlm, the command line says bd3lm"}},
		{"shorter", []string{"--steps", "3"}, []string{"--steps: the run was started with 4, the command line says 3"}},
		{"other data", []string{"--data", other}, []string{"--data: the run was trained on " + data + " (", "the command line gives " + other}},
		{"other folder", []string{"--out", filepath.Join(dir, "fork"), "--overwrite", "--resume", out, "--out", out}, []string{"--overwrite would delete the run"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, _, stderr := runCLI(append([]string{"sft", "--resume", out}, c.args...)...)
			require.Equal(t, 2, code, stderr)
			require.Equal(t, 1, strings.Count(strings.TrimSpace(stderr), "\n")+1, "one line: %q", stderr)
			for _, w := range c.want {
				require.Contains(t, stderr, w)
			}
		})
	}
	// The data changed under the same name.
	before, err := os.ReadFile(data)
	require.NoError(t, err)
	writeChat(t, data, 61)
	code, _, stderr = runCLI("sft", "--resume", out, "--steps", "6")
	require.Equal(t, 2, code, stderr)
	require.Contains(t, stderr, "--data: "+data+" changed since the checkpoint")
	require.NoError(t, os.WriteFile(data, before, 0o644))
	// What may change: a longer run, the intervals.
	code, _, stderr = runCLI("sft", "--resume", out, "--steps", "6", "--eval-every", "1", "--save-every", "1")
	require.Equal(t, 0, code, stderr)
	require.Contains(t, stderr, "at step 4 of 6")
	require.Len(t, stepLines(t, out), 6)
}

// An output folder that holds another run is refused unless --overwrite,
// which clears it first (its old checkpoints too); one that another live
// run holds is refused; an unwritable --out is reported before the data is
// read.
func TestOutFolderProtected(t *testing.T) {
	data, out := briefTraining(t, 40, 2)
	model, err := os.ReadFile(filepath.Join(out, "model.safetensors"))
	require.NoError(t, err)
	args := []string{"sft", "--data", data, "--out", out, "--steps", "1", "--batch-size", "4", "--vocab-size", "300", "--samples", "0"}

	code, _, stderr := runCLI(args...)
	require.Equal(t, 2, code, stderr)
	require.Contains(t, stderr, "the folder is not empty")
	require.Contains(t, stderr, "--overwrite")
	after, err := os.ReadFile(filepath.Join(out, "model.safetensors"))
	require.NoError(t, err)
	require.Equal(t, model, after, "the trained model is untouched")

	host, err := os.Hostname()
	require.NoError(t, err)
	lock := filepath.Join(out, train.LockFile)
	require.NoError(t, os.WriteFile(lock, []byte(fmt.Sprintf("%d %s\n", os.Getpid(), host)), 0o644))
	code, _, stderr = runCLI("sft", "--resume", out, "--steps", "4")
	require.Equal(t, 2, code, stderr)
	require.Contains(t, stderr, "in use by another run (pid")
	require.NoError(t, os.Remove(lock))

	old := filepath.Join(out, "checkpoints", "step-000999")
	require.NoError(t, os.MkdirAll(old, 0o755))
	code, _, stderr = runCLI(append(args, "--overwrite")...)
	require.Equal(t, 0, code, stderr)
	_, err = os.Stat(old)
	require.True(t, os.IsNotExist(err), "--overwrite clears the old checkpoints")
	ck, err := train.FindCheckpoint(out)
	require.NoError(t, err)
	require.Equal(t, "step-000001", filepath.Base(ck))
	_, err = os.Stat(lock)
	require.True(t, os.IsNotExist(err), "the lock is gone after the run")

	// An --out that cannot be made is named before the (missing) data.
	file := filepath.Join(t.TempDir(), "file")
	require.NoError(t, os.WriteFile(file, nil, 0o644))
	code, _, stderr = runCLI("sft", "--data", filepath.Join(file, "..", "missing.jsonl"), "--out", filepath.Join(file, "out"))
	require.Equal(t, 2, code, stderr)
	require.Contains(t, stderr, "--out "+filepath.Join(file, "out")+": cannot create the output folder")
}

// A tokenizer.json that pads every text to 128 tokens and truncates would
// make every training row the same padding: its padding and truncation are
// dropped with a note, and the model trains on the real rows.
func TestTokenizerPaddingIgnored(t *testing.T) {
	data, model := briefTraining(t, 40, 1)
	var tok map[string]any
	js, err := os.ReadFile(filepath.Join(model, "tokenizer.json"))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(js, &tok))
	tok["padding"] = map[string]any{"strategy": map[string]any{"Fixed": 128}, "direction": "Right",
		"pad_to_multiple_of": nil, "pad_id": 0, "pad_type_id": 0, "pad_token": "[PAD]"}
	tok["truncation"] = map[string]any{"direction": "Right", "max_length": 128, "strategy": "LongestFirst", "stride": 0}
	js, err = json.Marshal(tok)
	require.NoError(t, err)
	padded := filepath.Join(t.TempDir(), "tokenizer.json")
	require.NoError(t, os.WriteFile(padded, js, 0o644))

	out := filepath.Join(t.TempDir(), "out")
	code, _, stderr := runCLI("sft", "--data", data, "--out", out, "--tokenizer", padded, "--steps", "2",
		"--batch-size", "4", "--samples", "0", "--max-length", "64")
	require.Equal(t, 0, code, stderr)
	require.Contains(t, stderr, "its padding and truncation settings are ignored")
	for _, l := range stepLines(t, out) {
		require.Greater(t, l[1], 0.5, "a loss of real rows")
	}
	var saved map[string]any
	js, err = os.ReadFile(filepath.Join(out, "tokenizer.json"))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(js, &saved))
	require.Nil(t, saved["padding"])
}

// --max-length past the model's positions is capped to them with a note,
// not written into the model as its context; --held-out 0 holds out
// nothing and reports no held-out loss.
func TestMaxLengthAndHeldOutZero(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "chat.jsonl")
	writeChat(t, data, 30)
	out := filepath.Join(dir, "out")
	code, _, stderr := runCLI("sft", "--data", data, "--out", out, "--steps", "2", "--batch-size", "4",
		"--vocab-size", "300", "--samples", "0", "--max-length", "1000000", "--held-out", "0", "--eval-every", "1")
	require.Equal(t, 0, code, stderr)
	require.Contains(t, stderr, "--max-length 1000000 is more than the model's 512 positions")
	require.Contains(t, stderr, ", 0 held out")
	require.NotContains(t, stderr, "held-out loss")
	var cfg map[string]any
	js, err := os.ReadFile(filepath.Join(out, "config.json"))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(js, &cfg))
	require.Equal(t, 512.0, cfg["max_position_embeddings"])
	for _, l := range readMetricLines(t, out) {
		require.Nil(t, l.EvalLoss)
	}
}

// The tokenizer and the device are checked before any data is read (the
// data here does not exist: the error must be about them), and the output
// folder made for the run is removed again when nothing was written.
func TestChecksBeforeData(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing.jsonl")
	out := filepath.Join(dir, "out")
	code, _, stderr := runCLI("sft", "--data", missing, "--out", out, "--tokenizer", filepath.Join(dir, "none.json"))
	require.Equal(t, 2, code, stderr)
	require.Contains(t, stderr, "none.json")
	require.NotContains(t, stderr, "missing.jsonl")
	_, err := os.Stat(out)
	require.True(t, os.IsNotExist(err), "nothing left in --out")
	if _, err := tensor.Open("cuda"); err == nil {
		t.Skip("this machine has CUDA: the missing library cannot be shown")
	}
	code, _, stderr = runCLI("sft", "--data", missing, "--out", out, "--device", "cuda")
	require.Equal(t, 2, code, stderr)
	require.Contains(t, stderr, "--device cuda")
	require.NotContains(t, stderr, "missing.jsonl")
}

// `dllm pretrain --resume OUT` needs nothing else either.
func TestPretrainResumeFromFolderAlone(t *testing.T) {
	dir := t.TempDir()
	corpus := filepath.Join(dir, "a.txt")
	var text strings.Builder
	for i := range 150 {
		fmt.Fprintf(&text, "The %d river runs past the stone mill. ", i)
	}
	require.NoError(t, os.WriteFile(corpus, []byte(text.String()), 0o644))
	out := filepath.Join(dir, "model")
	code, _, stderr := runCLI("pretrain", "--data", corpus, "--out", out, "--steps", "2", "--batch-size", "4",
		"--max-length", "32", "--vocab-size", "320", "--lr", "3e-3")
	require.Equal(t, 0, code, stderr)
	code, _, stderr = runCLI("pretrain", "--resume", out, "--steps", "4")
	require.Equal(t, 0, code, stderr)
	require.Contains(t, stderr, "at step 2 of 4")
	require.Contains(t, stderr, "training rows of 32 tokens", "--max-length from the checkpoint")
	lines := stepLines(t, out)
	require.Len(t, lines, 4)
	// A longer run continues on the schedule of the longer run: steps 3 and
	// 4 at the learning rates of a 4-step run at --lr 3e-3.
	whole := filepath.Join(dir, "whole")
	code, _, stderr = runCLI("pretrain", "--data", corpus, "--out", whole, "--steps", "4", "--batch-size", "4",
		"--max-length", "32", "--vocab-size", "320", "--lr", "3e-3")
	require.Equal(t, 0, code, stderr)
	want := stepLines(t, whole)
	for i := 2; i < 4; i++ {
		require.Equal(t, want[i][2], lines[i][2], "learning rate of step %d", i+1)
	}
	code, _, stderr = runCLI("pretrain", "--resume", out, "--max-length", "64")
	require.Equal(t, 2, code, stderr)
	require.Contains(t, stderr, "--max-length: the run was started with 32, the command line says 64")
}
