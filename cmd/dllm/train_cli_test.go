package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dllmgo/dllm/modeldir"
	"github.com/dllmgo/dllm/tensor"
	"github.com/dllmgo/dllm/train"
)

// writeChat writes n copy-task conversations as chat JSONL.
func writeChat(t *testing.T, path string, n int) {
	t.Helper()
	words := strings.Fields("apple river stone cloud green night lamp bread fox tree")
	var b strings.Builder
	for i := range n {
		w := fmt.Sprintf("%s %s", words[i%len(words)], words[(i/len(words))%len(words)])
		line, _ := json.Marshal(map[string]any{"task": "copy", "messages": []map[string]string{
			{"role": "user", "content": "Repeat: " + w}, {"role": "assistant", "content": w}}})
		b.Write(line)
		b.WriteByte('\n')
	}
	require.NoError(t, os.WriteFile(path, []byte(b.String()), 0o644))
}

// briefTraining writes n copy-task conversations and trains a model on them
// for a few sft steps: enough for the sampling commands to run on, not to
// answer well. It returns the data file and the model folder.
func briefTraining(t *testing.T, n, steps int) (data, model string) {
	t.Helper()
	dir := t.TempDir()
	data = filepath.Join(dir, "chat.jsonl")
	writeChat(t, data, n)
	model = filepath.Join(dir, "model")
	code, _, stderr := runCLI("sft", "--data", data, "--out", model, "--steps", fmt.Sprint(steps), "--batch-size", "4",
		"--vocab-size", "300", "--samples", "0")
	require.Equal(t, 0, code, stderr)
	return data, model
}

// TestSFTGenerateEvalChat drives the main job through the CLI on a small
// run: sft writes a complete model folder, and generate, eval and chat use
// it. Learning itself is checked in package train; this checks the wiring.
func TestSFTGenerateEvalChat(t *testing.T) {
	if testing.Short() {
		t.Skip("a training run through the CLI (about 3 s): runs without -short (make test)")
	}
	dir := t.TempDir()
	data := filepath.Join(dir, "chat.jsonl")
	writeChat(t, data, 120)
	out := filepath.Join(dir, "model")
	code, stdout, stderr := runCLI("sft", "--data", data, "--out", out, "--steps", "6", "--batch-size", "8",
		"--vocab-size", "300", "--eval-every", "3", "--samples", "1", "--held-out", "0.1")
	require.Equal(t, 0, code, stderr)
	require.Contains(t, stdout, "saved the model")
	require.Contains(t, stderr, "held-out loss")
	for _, f := range []string{"config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json",
		"metrics.jsonl", "loss.png", "checkpoints"} {
		_, err := os.Stat(filepath.Join(out, f))
		require.NoError(t, err, f)
	}
	var tc map[string]any
	js, _ := os.ReadFile(filepath.Join(out, "tokenizer_config.json"))
	require.NoError(t, json.Unmarshal(js, &tc))
	require.Contains(t, tc["chat_template"], "[Answer]")
	// The model's default canvas fits its training answers ("w w" plus the
	// closing "\n[/Answer]\n\n"): a few tokens, rounded up to 8 or 16.
	var gen modeldir.Generation
	js, _ = os.ReadFile(filepath.Join(out, "generation_config.json"))
	require.NoError(t, json.Unmarshal(js, &gen))
	require.True(t, gen.MaxNewTokens >= 8 && gen.MaxNewTokens <= 32, "%+v", gen)
	b, err := modeldir.Open(out, tensor.CPU())
	require.NoError(t, err)
	require.Equal(t, gen.MaxNewTokens, b.SamplerConfig().MaxNewTokens)

	code, stdout, stderr = runCLI("generate", "--model", out, "--prompt", "Repeat: fox tree", "--max-new-tokens", "8", "--steps", "8", "--block-size", "8")
	require.Equal(t, 0, code, stderr)
	require.Contains(t, stderr, "forward passes")

	code, stdout, stderr = runCLI("eval", "--model", out, "--data", data, "--limit", "10", "--max-new-tokens", "8", "--steps", "4")
	require.Equal(t, 0, code, stderr)
	var res evalResult
	require.NoError(t, json.Unmarshal([]byte(stdout), &res), stdout)
	require.Equal(t, 10, res.N)
	require.Contains(t, res.PerTask, "copy")
	require.Greater(t, res.Loss, 0.0)

	var chatOut strings.Builder
	err = runChat([]string{"--model", out, "--max-new-tokens", "8", "--steps", "4", "--block-size", "8", "--visualize=false"},
		strings.NewReader("Repeat: fox tree\n/steps 2\n/reset\n/bogus\nRepeat: lamp\n/exit\n"), &chatOut, &chatOut)
	require.NoError(t, err)
	require.Equal(t, 2, strings.Count(chatOut.String(), "bot> "), chatOut.String())
	require.Contains(t, chatOut.String(), "(new chat)")
	require.Contains(t, chatOut.String(), "unknown command /bogus")

	// Resume continues the run to a larger step count from its checkpoint.
	code, _, stderr = runCLI("sft", "--data", data, "--out", out, "--steps", "8", "--batch-size", "8", "--resume", out, "--held-out", "0.1")
	require.Equal(t, 0, code, stderr)
	require.Contains(t, stderr, "resumed from")
}

func TestTrainingBadInput(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.jsonl")
	writeChat(t, good, 20)
	bad := filepath.Join(dir, "bad.jsonl")
	require.NoError(t, os.WriteFile(bad, []byte(`{"messages":[{"role":"user","content":"hi"},{"role":"assistant","content":"yo"}]}`+"\n{not json\n"), 0o644))
	noWeights := filepath.Join(dir, "noweights")
	require.NoError(t, os.MkdirAll(noWeights, 0o755))
	cfg, _ := os.ReadFile(filepath.Join(fixture, "config.json"))
	require.NoError(t, os.WriteFile(filepath.Join(noWeights, "config.json"), cfg, 0o644))
	otherFamily := filepath.Join(dir, "llama4")
	require.NoError(t, os.MkdirAll(otherFamily, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(otherFamily, "config.json"), []byte(`{"model_type": "llama4"}`), 0o644))
	out := filepath.Join(dir, "out")
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"unknown objective", []string{"sft", "--data", good, "--out", out, "--objective", "edm"}, `--objective: unknown objective "edm" (known: mdlm, mlm, bd3lm, editflow)`},
		{"pretrain unknown objective", []string{"pretrain", "--data", good, "--out", out, "--objective", "x"}, `unknown objective "x"`},
		{"unknown family", []string{"sft", "--data", good, "--out", out, "--family", "gpt"}, `--family: unknown model family "gpt" (known: modernbert, llada`},
		{"preset of no family", []string{"pretrain", "--data", good, "--out", out, "--preset", "modernbert-huge"}, `family modernbert has no preset "modernbert-huge"`},
		{"family with init", []string{"sft", "--data", good, "--out", out, "--init", fixture, "--family", "modernbert"}, "--family and --preset make a fresh model"},
		{"preset with resume", []string{"pretrain", "--data", good, "--out", out, "--resume", fixture, "--preset", "small"}, "--family and --preset make a fresh model"},
		{"init of an unknown model_type", []string{"sft", "--data", good, "--out", out, "--init", otherFamily}, `model_type "llama4" is not supported (supported: modernbert, llada`},
		{"generate unknown model_type", []string{"generate", "--model", otherFamily, "--prompt", "hi"}, `llama4/config.json: model_type "llama4" is not supported`},
		{"forward unknown model_type", []string{"forward", "--model", otherFamily, "--batch", good, "--out", out}, `model_type "llama4"`},
		{"missing data", []string{"sft", "--data", filepath.Join(dir, "nope.jsonl"), "--out", out}, "nope.jsonl"},
		{"malformed line", []string{"sft", "--data", bad, "--out", out}, "bad.jsonl:2"},
		{"unknown preset", []string{"sft", "--data", good, "--out", out, "--preset", "huge"}, "huge"},
		{"bad schedule", []string{"sft", "--data", good, "--out", out, "--schedule", "zigzag", "--steps", "1"}, "zigzag"},
		{"no out", []string{"sft", "--data", good}, "--out"},
		{"init without weights", []string{"sft", "--data", good, "--out", out, "--init", noWeights}, "noweights"},
		{"pretrain missing data", []string{"pretrain", "--data", filepath.Join(dir, "none.txt"), "--out", out}, "none.txt"},
		{"generate without model", []string{"generate", "--model", filepath.Join(dir, "none"), "--prompt", "hi"}, "none"},
		{"generate model without tokenizer", []string{"generate", "--model", fixture, "--prompt", "hi"}, "tokenizer.json"},
		{"eval bad temperature", []string{"eval", "--model", fixture, "--data", good, "--temperature", "-1"}, "--temperature"},
		{"eval model without tokenizer", []string{"eval", "--model", fixture, "--data", good}, "tokenizer.json"},
		{"stray argument", []string{"sft", "extra"}, "extra"},
		{"bad precision", []string{"sft", "--data", good, "--out", out, "--precision", "fp16"}, "--precision"},
		{"pretrain bad precision", []string{"pretrain", "--data", good, "--out", out, "--precision", "BF16"}, `"BF16"`},
		{"generate bad precision", []string{"generate", "--model", fixture, "--prompt", "hi", "--precision", "fp8"}, "--precision"},
		{"forward bad precision", []string{"forward", "--model", fixture, "--batch", good, "--out", out, "--precision", "x"}, "--precision"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, _, stderr := runCLI(c.args...)
			require.Equal(t, 2, code, stderr)
			require.Contains(t, stderr, c.want)
			var errLines []string
			for _, l := range strings.Split(stderr, "\n") {
				if strings.HasPrefix(l, "dllm ") {
					errLines = append(errLines, l)
				}
			}
			require.Len(t, errLines, 1, "one error line: %q", stderr)
			require.Contains(t, errLines[0], c.want)
			_, err := os.Stat(out)
			require.True(t, os.IsNotExist(err), "nothing may be written")
		})
	}
}

// A prompt longer than the model's maximum is refused with a clear error.
func TestGeneratePromptTooLong(t *testing.T) {
	_, out := briefTraining(t, 40, 1)
	long := strings.Repeat("apple river ", 400)
	code, _, stderr := runCLI("generate", "--model", out, "--prompt", long)
	require.Equal(t, 2, code, stderr)
	require.Contains(t, stderr, "maximum length")
}

// TestPretrain runs MDLM pretraining on a small text folder (a .txt and a
// gzipped .txt), in bf16 mixed precision, and samples from the result as
// raw text.
func TestPretrain(t *testing.T) {
	dir := t.TempDir()
	corpus := filepath.Join(dir, "corpus")
	require.NoError(t, os.MkdirAll(corpus, 0o755))
	var text strings.Builder
	for i := range 200 {
		fmt.Fprintf(&text, "The %d river runs past the stone mill and the green hill. ", i)
	}
	require.NoError(t, os.WriteFile(filepath.Join(corpus, "a.txt"), []byte(text.String()), 0o644))
	out := filepath.Join(dir, "model")
	code, stdout, stderr := runCLI("pretrain", "--data", corpus, "--out", out, "--steps", "4", "--batch-size", "4",
		"--max-length", "32", "--vocab-size", "320", "--eval-every", "2", "--precision", "bf16")
	require.Equal(t, 0, code, stderr)
	require.Contains(t, stdout, "saved the model")
	require.Contains(t, stderr, "on cpu in bf16 mixed precision")
	require.Contains(t, stderr, "training rows of 32 tokens")
	code, _, stderr = runCLI("generate", "--model", out, "--raw", "--prompt", "The 7 river", "--max-new-tokens", "8", "--steps", "8", "--block-size", "8")
	require.Equal(t, 0, code, stderr)
	code, _, stderr = runCLI("generate", "--model", out, "--raw", "--prompt", "The 7 river", "--max-new-tokens", "8", "--steps", "8", "--block-size", "8", "--precision", "bf16")
	require.Equal(t, 0, code, stderr)
}

// sft's defaults learn until the held-out loss stops improving: with none
// of --steps, --epochs, --time-budget a new run is capped at 10 minutes,
// stops after 5 evaluations without a new best and keeps the best weights;
// a length given, or no held-out set, changes only what it must.
func TestSFTDefaultsResolve(t *testing.T) {
	cases := []struct {
		name     string
		args     []string
		budget   time.Duration
		patience int
		keepBest bool
	}{
		{"nothing given", nil, defaultBudget, defaultPatience, true},
		{"steps", []string{"--steps", "40"}, 0, defaultPatience, true},
		{"epochs", []string{"--epochs", "3"}, 0, defaultPatience, true},
		{"budget", []string{"--time-budget", "2m"}, 2 * time.Minute, defaultPatience, true},
		{"no held-out set", []string{"--held-out", "0"}, defaultBudget, 0, false},
		{"patience off", []string{"--patience", "0"}, defaultBudget, 0, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			fs := newFlagSet("sft", io.Discard)
			var f trainFlags
			f.register(fs, 16, 256)
			f.sftDefaults(fs)
			require.NoError(t, fs.Parse(c.args))
			given := map[string]bool{}
			fs.Visit(func(fl *flag.Flag) { given[fl.Name] = true })
			f.resolveDefaults(given)
			require.Equal(t, c.budget, f.budget)
			require.Equal(t, c.patience, f.patience)
			require.Equal(t, c.keepBest, f.keepBest)
		})
	}
	// pretrain keeps its length (one epoch) and no early stopping.
	fs := newFlagSet("pretrain", io.Discard)
	var f trainFlags
	f.register(fs, 16, 128)
	require.NoError(t, fs.Parse(nil))
	f.resolveDefaults(map[string]bool{})
	require.Zero(t, f.budget)
	require.Zero(t, f.patience)
	require.False(t, f.keepBest)
}

// A short sft run records its early stopping in the checkpoint's run
// description, as resolved; --patience and --keep-best without a held-out
// set are refused.
func TestSFTRecordsEarlyStopping(t *testing.T) {
	data, model := briefTraining(t, 30, 3)
	dir, err := train.FindCheckpoint(model)
	require.NoError(t, err)
	spec, _, err := train.ReadRunSpec(dir)
	require.NoError(t, err)
	require.Equal(t, "5", spec.Flags["patience"])
	require.Equal(t, "true", spec.Flags["keep-best"])
	require.Equal(t, "0s", spec.Flags["time-budget"], "--steps was given")
	js, err := os.ReadFile(filepath.Join(dir, "trainer_state.json"))
	require.NoError(t, err)
	require.Contains(t, string(js), `"patience": 5`)
	require.Contains(t, string(js), `"keep_best": true`)

	code, _, stderr := runCLI("sft", "--data", data, "--out", filepath.Join(t.TempDir(), "x"), "--held-out", "0", "--patience", "3")
	require.Equal(t, 2, code)
	require.Contains(t, stderr, "--patience and --keep-best need a held-out set")
}

// sft answers --eval-answers held-out questions at each evaluation and logs
// their exact match beside the held-out loss; with 0 it logs none.
func TestSFTLogsHeldOutExactMatch(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "chat.jsonl")
	writeChat(t, data, 60)
	evalLines := func(answers string) []map[string]any {
		out := filepath.Join(dir, "run"+answers)
		code, _, stderr := runCLI("sft", "--data", data, "--out", out, "--steps", "4", "--eval-every", "2", "--batch-size", "4",
			"--vocab-size", "300", "--held-out", "0.1", "--samples", "0", "--eval-answers", answers)
		require.Equal(t, 0, code, stderr)
		js, err := os.ReadFile(filepath.Join(out, "metrics.jsonl"))
		require.NoError(t, err)
		var evals []map[string]any
		for _, line := range strings.Split(strings.TrimSpace(string(js)), "\n") {
			var rec map[string]any
			require.NoError(t, json.Unmarshal([]byte(line), &rec), line)
			if _, ok := rec["eval_loss"]; ok {
				evals = append(evals, rec)
			}
		}
		require.NotEmpty(t, evals)
		return evals
	}
	for _, rec := range evalLines("8") {
		em, ok := rec["eval_exact_match"].(float64)
		require.True(t, ok, "%v", rec)
		require.GreaterOrEqual(t, em, 0.0)
		require.LessOrEqual(t, em, 1.0)
	}
	for _, rec := range evalLines("0") {
		require.NotContains(t, rec, "eval_exact_match")
	}
}
