package mlm_test

import (
	"context"
	"io"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dllmgo/dllm/bert"
	"github.com/dllmgo/dllm/data"
	"github.com/dllmgo/dllm/lm"
	"github.com/dllmgo/dllm/mlm"
	"github.com/dllmgo/dllm/nn"
	"github.com/dllmgo/dllm/tensor"
	"github.com/dllmgo/dllm/train"
)

const (
	testVocab = 40
	testPad   = testVocab - 2
	testMask  = testVocab - 1
)

func newTestModel(t *testing.T) *bert.Model {
	t.Helper()
	cfg, err := bert.Preset("tiny")
	require.NoError(t, err)
	cfg.VocabSize, cfg.HiddenSize, cfg.IntermediateSize = testVocab, 32, 48
	cfg.NumLayers, cfg.NumHeads, cfg.LocalAttention = 2, 2, 8
	cfg.LayerTypes = bert.LayersEvery(2, 2)
	cfg.MaxPositions = 64
	cfg.PadTokenID, cfg.MaskTokenID = testPad, testMask
	cfg.InitializerRange = 0.5
	require.NoError(t, cfg.Validate())
	m := bert.New(cfg, tensor.CPU())
	m.Init(rand.New(rand.NewPCG(7, 8)))
	return m
}

// sftBatch is a random batch with prompts and some ignored labels, so the
// corruption must skip both.
func sftBatch(rng *rand.Rand, b, s int) data.Batch {
	out := data.Batch{B: b, S: s, InputIDs: make([]int32, b*s), Labels: make([]int32, b*s), PromptLens: make([]int, b)}
	for r := range b {
		out.PromptLens[r] = rng.IntN(s / 4)
		for i := range s {
			id := int32(rng.IntN(testPad))
			out.InputIDs[r*s+i], out.Labels[r*s+i] = id, id
			if i < out.PromptLens[r] || rng.IntN(10) == 0 {
				out.Labels[r*s+i] = data.IgnoreIndex
			}
		}
	}
	return out
}

// within requires |got-want| ≤ 4σ, σ = sqrt(p(1-p)/n): a correct
// implementation fails it about once in 16,000 seeds (none here: the seeds
// are fixed).
func within(t *testing.T, got, p float64, n int, what string) {
	t.Helper()
	sigma := math.Sqrt(p * (1 - p) / float64(n))
	require.InDelta(t, p, got, 4*sigma, "%s: %.4f of %d, want %.4f ± 4σ (σ = %.4f)", what, got, n, p, sigma)
}

// The share of supervised tokens selected is the rate; prompts and ignored
// positions are never selected; unselected positions are untouched.
func TestCorruptionRate(t *testing.T) {
	cands := mlm.Candidates(testVocab, testPad, testMask)
	for _, rate := range []float64{0, 0.15, 0.5, 1} {
		rng := rand.New(rand.NewPCG(uint64(rate*100), 1))
		b := sftBatch(rng, 64, 96)
		c, err := mlm.Corrupt(b, mlm.Options{MaskID: testMask, Rate: rate}, cands, rng)
		require.NoError(t, err)
		want := rate
		if rate == 0 {
			want = mlm.DefaultRate
		}
		require.Equal(t, b.Supervised(), c.Supervised)
		if want == 1 {
			require.Len(t, c.Rows, c.Supervised)
		} else {
			within(t, float64(len(c.Rows))/float64(c.Supervised), want, c.Supervised, "selected")
		}
		selected := map[int32]bool{}
		for i, flat := range c.Rows {
			selected[flat] = true
			r, s := int(flat)/b.S, int(flat)%b.S
			require.GreaterOrEqual(t, s, b.PromptLen(r), "a prompt token was selected")
			require.NotEqual(t, int32(data.IgnoreIndex), b.Labels[flat], "an ignored position was selected")
			require.Equal(t, b.Labels[flat], c.Targets[i])
			require.Equal(t, int32(testMask), c.Noisy[flat], "without Replace every selected token is [MASK]")
		}
		for flat, id := range b.InputIDs {
			if !selected[int32(flat)] {
				require.Equal(t, id, c.Noisy[flat])
			}
		}
	}
}

// BERT's 80/10/10: of the selected tokens 80% are [MASK], 10% a random
// token (never a special one, drawn uniformly), 10% left as they were.
func TestReplacementStatistics(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	b := sftBatch(rng, 128, 128)
	cands := mlm.Candidates(testVocab, testPad, testMask, 0)
	require.Len(t, cands, testVocab-3)
	c, err := mlm.Corrupt(b, mlm.Options{MaskID: testMask, Replace: true}, cands, rng)
	require.NoError(t, err)
	n := len(c.Rows)
	within(t, float64(n)/float64(c.Supervised), mlm.DefaultRate, c.Supervised, "selected")
	var count [3]int
	hist := make([]int, testVocab)
	for i, flat := range c.Rows {
		got := c.Noisy[flat]
		switch c.Kind[i] {
		case mlm.Masked:
			require.Equal(t, int32(testMask), got)
		case mlm.Unchanged:
			require.Equal(t, b.InputIDs[flat], got)
		case mlm.Random:
			require.NotContains(t, []int32{testPad, testMask, 0}, got, "a special token drawn as a random replacement")
			hist[got]++
		}
		count[c.Kind[i]]++
	}
	within(t, float64(count[mlm.Masked])/float64(n), mlm.MaskShare, n, "[MASK]")
	within(t, float64(count[mlm.Random])/float64(n), mlm.RandomShare, n, "random")
	within(t, float64(count[mlm.Unchanged])/float64(n), 1-mlm.MaskShare-mlm.RandomShare, n, "unchanged")
	// Uniform over the candidates: each id's count within 4σ of the binomial.
	for _, id := range cands {
		within(t, float64(hist[id])/float64(count[mlm.Random]), 1/float64(len(cands)), count[mlm.Random], "random id")
	}
}

// The loss equals the float64 mean cross-entropy, at the selected
// positions, of the model's logits for the corrupted input (the same draws).
func TestLossMatchesFloat64(t *testing.T) {
	m := newTestModel(t)
	for _, replace := range []bool{false, true} {
		b := sftBatch(rand.New(rand.NewPCG(3, 3)), 3, 16)
		o := mlm.Options{MaskID: testMask, Rate: 0.4, Replace: replace}
		tp := nn.NoGrad(tensor.CPU())
		const scale = 0.5
		loss, err := mlm.New(o).Loss(tp, m, b, rand.New(rand.NewPCG(9, 9)), scale)
		require.NoError(t, err)

		c, err := mlm.Corrupt(b, o, mlm.Candidates(testVocab, testMask, testPad), rand.New(rand.NewPCG(9, 9)))
		require.NoError(t, err)
		require.NotEmpty(t, c.Rows)
		be := tensor.CPU()
		logits := m.Forward(nn.NoGrad(be), lm.Input{IDs: be.FromHost(tensor.FromI32(c.Noisy, b.B, b.S))}).Logits.Value.ToCPU().F32()
		want := 0.0
		for i, flat := range c.Rows {
			row := logits[int(flat)*testVocab : (int(flat)+1)*testVocab]
			mx := math.Inf(-1)
			for _, v := range row {
				mx = math.Max(mx, float64(v))
			}
			s := 0.0
			for _, v := range row {
				s += math.Exp(float64(v) - mx)
			}
			want += mx + math.Log(s) - float64(row[c.Targets[i]])
		}
		want *= scale / float64(len(c.Rows))
		require.InDelta(t, want, float64(loss.Value.F32()[0]), 2e-5*want, "replace %v", replace)
	}
}

// Nothing selected (everything is prompt): no loss.
func TestNothingSelected(t *testing.T) {
	m := newTestModel(t)
	b := data.Batch{B: 1, S: 4, InputIDs: []int32{1, 2, 3, 4}, PromptLens: []int{4}}
	loss, err := mlm.New(mlm.Options{MaskID: testMask}).Loss(nn.NewTape(tensor.CPU()), m, b, rand.New(rand.NewPCG(1, 1)), 1)
	require.NoError(t, err)
	require.Nil(t, loss)
	_, err = mlm.New(mlm.Options{MaskID: testMask, Rate: 1.5}).Loss(nn.NewTape(tensor.CPU()), m, b, rand.New(rand.NewPCG(1, 1)), 1)
	require.ErrorContains(t, err, "masking rate")
}

// The gradient of the loss with respect to weights matches finite
// differences.
func TestLossGradient(t *testing.T) {
	m := newTestModel(t)
	b := sftBatch(rand.New(rand.NewPCG(8, 8)), 2, 10)
	o := mlm.New(mlm.Options{MaskID: testMask, Rate: 0.5, Replace: true})
	var inputs []*nn.Var
	for _, p := range m.Params() {
		if p.Name == "model.layers.1.attn_norm.weight" || p.Name == "model.layers.0.mlp_norm.weight" {
			inputs = append(inputs, p.Var)
		}
	}
	require.Len(t, inputs, 2)
	require.NoError(t, nn.GradCheck(inputs, func(tp *nn.Tape) *nn.Var {
		loss, err := o.Loss(tp, m, b, rand.New(rand.NewPCG(1, 1)), 1)
		require.NoError(t, err)
		return loss
	}, 1e-2, 3e-2, 4))
}

// A tiny model learns: on rows that repeat a random 4-token motif, the
// held-out MLM loss falls well below its start (a masked token is
// predictable from the motif's other copies).
func TestTinyModelLearns(t *testing.T) {
	cfg, err := bert.Preset("tiny")
	require.NoError(t, err)
	cfg.VocabSize, cfg.PadTokenID, cfg.MaskTokenID = testVocab, testPad, testMask
	m := bert.New(cfg, tensor.CPU())
	m.Init(rand.New(rand.NewPCG(1, 1)))
	motif := func(rng *rand.Rand, rows int) data.Batch {
		const s = 16
		b := data.Batch{B: rows, S: s, InputIDs: make([]int32, rows*s)}
		for r := range rows {
			var mo [4]int32
			for i := range mo {
				mo[i] = int32(rng.IntN(testPad))
			}
			for i := range s {
				b.InputIDs[r*s+i] = mo[i%4]
			}
		}
		return b
	}
	batches := func(epoch int) []data.Batch {
		rng := rand.New(rand.NewPCG(uint64(epoch), 9))
		out := make([]data.Batch, 20)
		for i := range out {
			out[i] = motif(rng, 16)
		}
		return out
	}
	held := []data.Batch{motif(rand.New(rand.NewPCG(99, 5)), 32)}
	obj := mlm.New(mlm.Options{MaskID: testMask})
	before, err := train.EvalLoss(m, held, obj, 1)
	require.NoError(t, err)
	tr, err := train.New(m, batches, held, train.Options{Steps: 150, LR: 3e-3, WarmupRatio: 0.1, Schedule: "cosine",
		Clip: 1, Seed: 5, Objective: obj, EvalEvery: 1000, SaveEvery: 1000, KeepLast: 1, OutDir: t.TempDir(), Progress: io.Discard},
		train.Hooks{SaveModel: m.Save})
	require.NoError(t, err)
	require.NoError(t, tr.Run(context.Background()))
	after, err := train.EvalLoss(m, held, obj, 1)
	require.NoError(t, err)
	t.Logf("held-out MLM loss %.3f -> %.3f (ln V = %.3f)", before, after, math.Log(testVocab))
	require.Less(t, after, 0.5*before)
}
