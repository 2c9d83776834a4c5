package train

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dllmgo/dllm/bert"
	"github.com/dllmgo/dllm/data"
	"github.com/dllmgo/dllm/mdlm"
	"github.com/dllmgo/dllm/tensor"
)

// copyTask builds SFT batches of "a b c d [SEP] → a b c d": the prompt is four
// random tokens and a separator, the answer repeats them.
type copyTask struct {
	vocab, n             int
	mask, pad, sep, base int32
}

func (c copyTask) batch(rng *rand.Rand, rows int) data.Batch {
	s := 2*c.n + 1
	b := data.Batch{B: rows, S: s, InputIDs: make([]int32, rows*s), Labels: make([]int32, rows*s), PromptLens: make([]int, rows)}
	for r := range rows {
		for i := range c.n {
			tok := c.base + int32(rng.IntN(c.vocab-int(c.base)))
			b.InputIDs[r*s+i], b.InputIDs[r*s+c.n+1+i] = tok, tok
			b.Labels[r*s+i], b.Labels[r*s+c.n+1+i] = data.IgnoreIndex, tok
		}
		b.InputIDs[r*s+c.n], b.Labels[r*s+c.n] = c.sep, data.IgnoreIndex
		b.PromptLens[r] = c.n + 1
	}
	return b
}

// TestTinyModelLearnsToCopy is the end-to-end learning check of the whole
// stack (model, autograd, kernels, objective, optimizer, sampler): a tiny
// ModernBERT trained by diffusion SFT for 200 steps must copy unseen
// sequences. A wrong gradient anywhere shows up here as a model that does not
// learn.
func TestTinyModelLearnsToCopy(t *testing.T) {
	if testing.Short() {
		t.Skip("a training run (about 9 s): runs without -short (make test)")
	}
	task := copyTask{vocab: 24, n: 4, mask: 0, pad: 1, sep: 2, base: 3}
	cfg, err := bert.Preset("tiny")
	require.NoError(t, err)
	cfg.VocabSize, cfg.PadTokenID = task.vocab, int(task.pad)
	m := bert.New(cfg, tensor.CPU())
	m.Init(rand.New(rand.NewPCG(1, 1)))
	batches := func(epoch int) []data.Batch {
		rng := rand.New(rand.NewPCG(uint64(epoch), 9))
		out := make([]data.Batch, 50)
		for i := range out {
			out[i] = task.batch(rng, 32)
		}
		return out
	}
	held := task.batch(rand.New(rand.NewPCG(1234, 5)), 64)
	tr, err := New(m, batches, []data.Batch{held}, Options{
		Steps: 200, LR: 1e-3, WarmupRatio: 0.1, Schedule: "cosine", Clip: 1, Seed: 1,
		Objective: mdlm.NewObjective(mdlm.ObjectiveOptions{MaskID: task.mask}),
	}, Hooks{})
	require.NoError(t, err)
	before, err := tr.EvalLoss()
	require.NoError(t, err)
	for range 200 {
		_, err := tr.Step()
		require.NoError(t, err)
	}
	after, err := tr.EvalLoss()
	require.NoError(t, err)
	t.Logf("held-out loss %.3f -> %.3f", before, after)
	require.Less(t, after, 0.1*before)

	// Generation on the held-out prompts: the answer must be the prompt.
	var prompts [][]int32
	for r := range held.B {
		prompts = append(prompts, held.InputIDs[r*held.S:r*held.S+task.n+1])
	}
	c := mdlm.DefaultSamplerConfig(task.mask, task.pad)
	c.MaxNewTokens, c.Steps, c.BlockSize, c.FullCanvas = task.n, task.n, task.n, true
	out, err := mdlm.Generate(m, prompts, c, mdlm.NewRand(1))
	require.NoError(t, err)
	correct := 0
	for r, s := range out.Samples {
		if slices.Equal(s.Canvas[task.n+1:], prompts[r][:task.n]) {
			correct++
		}
	}
	t.Logf("copied %d/%d held-out sequences exactly", correct, len(prompts))
	require.GreaterOrEqual(t, correct, len(prompts)*9/10)
}
