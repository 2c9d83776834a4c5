package train

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dllmgo/dllm/bd3lm"
	"github.com/dllmgo/dllm/bert"
	"github.com/dllmgo/dllm/data"
	"github.com/dllmgo/dllm/lm"
	"github.com/dllmgo/dllm/mdlm"
	"github.com/dllmgo/dllm/mlm"
	"github.com/dllmgo/dllm/tensor"
)

// TestResumeReproducesUninterruptedRun interrupts a run after 3 of 8 steps,
// resumes it from the checkpoint in a fresh process state, and requires the
// loss curve and the final weights to equal those of a run that was never
// interrupted, bit for bit.
//
// It runs once per objective: the trainer knows none of them, and BD3LM
// and MLM (with BERT's random replacements) draw their noise from the same
// checkpointed stream as MDLM.
func TestResumeReproducesUninterruptedRun(t *testing.T) {
	task := copyTask{vocab: 20, n: 3, mask: 0, pad: 1, sep: 2, base: 3}
	for _, obj := range []lm.Objective{
		mdlm.NewObjective(mdlm.ObjectiveOptions{MaskID: task.mask}),
		bd3lm.NewObjective(bd3lm.Options{MDLM: mdlm.ObjectiveOptions{MaskID: task.mask}, BlockSize: 4}),
		mlm.New(mlm.Options{MaskID: task.mask, Replace: true, Vocab: task.vocab}),
	} {
		t.Run(obj.Name(), func(t *testing.T) { testResume(t, obj) })
	}
}

func testResume(t *testing.T, obj lm.Objective) {
	task := copyTask{vocab: 20, n: 3, mask: 0, pad: 1, sep: 2, base: 3}
	cfg, err := bert.Preset("tiny")
	require.NoError(t, err)
	cfg.VocabSize, cfg.PadTokenID = task.vocab, int(task.pad)
	cfg.HiddenSize, cfg.IntermediateSize, cfg.NumLayers = 32, 48, 2
	cfg.LayerTypes = bert.LayersEvery(2, 3)
	batches := func(epoch int) []data.Batch {
		rng := rand.New(rand.NewPCG(uint64(epoch), 3))
		return []data.Batch{task.batch(rng, 4), task.batch(rng, 4), task.batch(rng, 4)} // 3 per epoch: crosses epochs
	}
	held := []data.Batch{task.batch(rand.New(rand.NewPCG(7, 7)), 8)}
	newRun := func(out string) (*Trainer, *bert.Model) {
		m := bert.New(cfg, tensor.CPU())
		m.Init(rand.New(rand.NewPCG(1, 1)))
		tr, err := New(m, batches, held, Options{
			Steps: 8, LR: 3e-3, WarmupRatio: 0.25, Schedule: "cosine", Clip: 1, Seed: 5,
			WeightDecay: 0.01, Objective: obj,
			EvalEvery: 3, SaveEvery: 100, KeepLast: 2, OutDir: out, Progress: io.Discard,
		}, Hooks{SaveModel: m.Save})
		require.NoError(t, err)
		return tr, m
	}

	whole, wholeModel := newRun(t.TempDir())
	require.NoError(t, whole.Run(context.Background()))

	out := t.TempDir()
	first, _ := newRun(out)
	ctx, cancel := context.WithCancel(context.Background())
	first.hooks.AfterEval = func(io.Writer, int) { cancel() } // Ctrl-C right after step 3
	err = first.Run(ctx)
	require.True(t, errors.Is(err, ErrInterrupted), "got %v", err)
	require.Equal(t, 3, first.State().Step)

	dir, err := FindCheckpoint(out)
	require.NoError(t, err)
	require.Equal(t, "step-000003", filepath.Base(dir))
	second, secondModel := newRun(out)
	require.NoError(t, second.Resume(dir))
	require.NoError(t, second.Run(context.Background()))

	require.Equal(t, whole.State().TrainLoss, second.State().TrainLoss, "loss curves differ")
	require.Equal(t, whole.State().EvalLoss, second.State().EvalLoss)
	for i, p := range wholeModel.Params() {
		require.Equal(t, p.Value.F32(), secondModel.Params()[i].Value.F32(), "weights of %s differ", p.Name)
	}
	// The run's outputs are there: the model, the metrics log, the plot.
	for _, f := range []string{"config.json", "model.safetensors", "metrics.jsonl", "loss.png"} {
		_, err := os.Stat(filepath.Join(out, f))
		require.NoError(t, err, f)
	}
	// Each step's line logs the gradient norm before clipping.
	js, err := os.ReadFile(filepath.Join(out, "metrics.jsonl"))
	require.NoError(t, err)
	var line struct {
		GradNorm *float64 `json:"grad_norm"`
	}
	require.NoError(t, json.Unmarshal([]byte(strings.SplitN(string(js), "\n", 2)[0]), &line))
	require.NotNil(t, line.GradNorm, "grad_norm in %s", js[:min(len(js), 200)])
	require.Positive(t, *line.GradNorm)
	all, err := listCheckpoints(filepath.Join(out, checkpointsDir))
	require.NoError(t, err)
	require.Len(t, all, 2, "keep-last prunes old checkpoints")
}
