package replicate

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/dllmgo/dllm/data"
	"github.com/dllmgo/dllm/evaltask"
	"github.com/dllmgo/dllm/lm"
	"github.com/dllmgo/dllm/mdlm"
	"github.com/dllmgo/dllm/mlm"
	"github.com/dllmgo/dllm/modeldir"
	"github.com/dllmgo/dllm/recipe"
	"github.com/dllmgo/dllm/train"
)

// Phase is one objective's part of a pretraining run.
type Phase struct {
	Objective string
	Steps     int
	// EvalLoss is the held-out loss under the phase's objective.
	EvalLoss []train.Point
}

// PretrainResult describes a pretrained starting point.
type PretrainResult struct {
	Start   string
	Params  int64
	Rows    int // training rows of MaxLen tokens
	Phases  []Phase
	Seconds float64
}

func objective(b *modeldir.Bundle, name string) lm.Objective {
	if name == mlm.ObjectiveName {
		// ModernBERT's recipe: 30% of the tokens, all replaced by [MASK].
		return mlm.New(mlm.Options{MaskID: b.MaskID, Vocab: b.Tokenizer.VocabSize()})
	}
	return mdlm.NewObjective(mdlm.ObjectiveOptions{MaskID: b.MaskID})
}

// options are the trainer's options of every run of a replication: the
// project's defaults at the size's learning rate, one checkpoint at the
// end.
func (r *runner) options(steps, evals int, obj lm.Objective, seed uint64, out string) train.Options {
	o := train.Defaults()
	o.Steps, o.LR, o.Objective, o.Seed, o.OutDir = steps, r.Size.LR, obj, seed, out
	o.EvalEvery = max(steps/max(evals, 1), 1)
	o.SaveEvery, o.KeepLast = steps, 1
	return o
}

// stagePretrain pretrains a fresh model (seed 1) on the corpus: MLM, MDLM,
// or MLM for the first half of the steps and MDLM for the second.
func (r *runner) stagePretrain(ctx context.Context, dir, start string) (any, error) {
	t0 := time.Now()
	tok, _, _, docs, err := r.loadData()
	if err != nil {
		return nil, err
	}
	b, err := recipe.FreshBundle(r.Size.Family, r.Size.Preset, tok, r.Size.MaxLen, 1, r.Backend)
	if err != nil {
		return nil, err
	}
	p := r.Size.PretrainSteps
	phases := map[string][]Phase{
		StartMLM:     {{Objective: mlm.ObjectiveName, Steps: p}},
		StartMDLM:    {{Objective: mdlm.ObjectiveName, Steps: p}},
		StartMLMMDLM: {{Objective: mlm.ObjectiveName, Steps: p / 2}, {Objective: mdlm.ObjectiveName, Steps: p - p/2}},
	}[start]
	res := PretrainResult{Start: start, Params: lm.ParamCount(b.Model)}
	for i, ph := range phases {
		out := filepath.Join(dir, fmt.Sprintf("phase%d-%s", i+1, ph.Objective))
		t, d, err := recipe.PretrainTrainer(b, docs, recipe.Run{
			Split:     recipe.Split{MaxLen: r.Size.MaxLen, HeldOut: 0.05, Seed: 1},
			BatchSize: r.Size.BatchSize, EvalBatches: 4,
			Options: r.options(ph.Steps, 5, objective(b, ph.Objective), 1, out),
		})
		if err != nil {
			return nil, err
		}
		res.Rows = len(d.Train)
		if err := t.Run(ctx); err != nil {
			return nil, err
		}
		// The model is saved below; the phase keeps its metrics and plot.
		if err := os.RemoveAll(filepath.Join(out, "checkpoints")); err != nil {
			return nil, err
		}
		ph.EvalLoss = t.State().EvalLoss
		res.Phases = append(res.Phases, ph)
	}
	if err := b.Save(dir); err != nil {
		return nil, err
	}
	res.Seconds = time.Since(t0).Seconds()
	return res, nil
}

// SFTResult describes one SFT run.
type SFTResult struct {
	Start string
	Seed  uint64
	Steps int
	// EvalLoss is the held-out diffusion loss, from step 0 (the trainer's
	// evaluations: their noise is drawn from the run's seed).
	EvalLoss []train.Point
	// Before and After are the held-out loss before and after SFT with one
	// noise draw for every run (FixedNoiseSeed), so that runs differ only
	// by their weights.
	Before, After float64
	// ExactMatch on EvalN held-out questions, and per task.
	ExactMatch evaltask.Score
	PerTask    map[string]evaltask.Score
	// TrainSeconds and EvalSeconds split the stage's time.
	TrainSeconds, EvalSeconds float64
}

// startBundle is the model SFT starts from: a fresh one initialised from
// seed, or a pretrained one.
func (r *runner) startBundle(start string, seed uint64) (*modeldir.Bundle, error) {
	if start == StartRandom {
		tok, _, _, _, err := r.loadData()
		if err != nil {
			return nil, err
		}
		return recipe.FreshBundle(r.Size.Family, r.Size.Preset, tok, r.Size.MaxLen, seed, r.Backend)
	}
	return modeldir.Open(r.dir("pretrain-"+start), r.Backend)
}

// stageSFT runs diffusion SFT from a starting point with a seed (the data
// order and the noise; for the random start, the initialisation too), then
// scores exact match on held-out questions.
func (r *runner) stageSFT(ctx context.Context, dir, start string, seed uint64) (any, error) {
	t0 := time.Now()
	_, trainConvs, held, _, err := r.loadData()
	if err != nil {
		return nil, err
	}
	b, err := r.startBundle(start, seed)
	if err != nil {
		return nil, err
	}
	d, err := recipe.SFT(b, trainConvs, recipe.Split{MaxLen: r.Size.MaxLen, Seed: seed})
	if err != nil {
		return nil, err
	}
	hd, err := recipe.SFT(b, held, recipe.Split{MaxLen: r.Size.MaxLen, Seed: 1})
	if err != nil {
		return nil, err
	}
	heldB, err := data.SFTBatches(hd.Train, r.Size.BatchSize, int(b.PadID), 1)
	if err != nil {
		return nil, err
	}
	b.Generation = d.Generation
	obj := objective(b, mdlm.ObjectiveName)
	opts := r.options(r.Size.SFTSteps, r.Size.Evals, obj, seed, dir)
	// The curve's evaluations score a few batches; Before and After all.
	t, err := train.New(b.Model, d.Epochs(r.Size.BatchSize, seed), heldB[:min(len(heldB), curveBatches)], opts, train.Hooks{SaveModel: b.Save})
	if err != nil {
		return nil, err
	}
	// The held-out loss before SFT, with the noise the trainer's
	// evaluations draw (seed+1).
	l0, err := train.EvalLoss(b.Model, heldB[:min(len(heldB), curveBatches)], obj, seed+1)
	if err != nil {
		return nil, err
	}
	before, err := train.EvalLoss(b.Model, heldB, obj, FixedNoiseSeed)
	if err != nil {
		return nil, err
	}
	if err := t.Run(ctx); err != nil {
		return nil, err
	}
	if err := os.RemoveAll(filepath.Join(dir, "checkpoints")); err != nil {
		return nil, err
	}
	after, err := train.EvalLoss(b.Model, heldB, obj, FixedNoiseSeed)
	if err != nil {
		return nil, err
	}
	res := SFTResult{Start: start, Seed: seed, Steps: r.Size.SFTSteps, Before: before, After: after,
		EvalLoss: append([]train.Point{{Step: 0, Loss: l0}}, t.State().EvalLoss...)}
	res.TrainSeconds = time.Since(t0).Seconds()
	t1 := time.Now()
	em, err := r.chat(b, held[:min(len(held), r.Size.EvalN)], b.SamplerConfig(), nil)
	if err != nil {
		return nil, err
	}
	res.ExactMatch, _ = em.Metric("exact_match")
	res.PerTask = em.PerTask
	res.EvalSeconds = time.Since(t1).Seconds()
	return res, nil
}

// curveBatches held-out batches are scored at each of an SFT run's
// evaluations.
const curveBatches = 4

// FixedNoiseSeed draws the noise of SFTResult.Before and After.
const FixedNoiseSeed = 0x5eed

// genStats counts what the sampler did.
type genStats struct {
	tokens, passes, batches int
	elapsed                 time.Duration
}

// chat scores exact match with the block sampler under c, counting into st
// when it is set.
func (r *runner) chat(b *modeldir.Bundle, convs []data.Conversation, c mdlm.SamplerConfig, st *genStats) (*evaltask.Result, error) {
	env := evaltask.Env{B: b, Config: c, BatchSize: 16,
		Generate: func(prompts [][]int32, c mdlm.SamplerConfig) (*mdlm.Output, error) {
			start := time.Now()
			out, err := mdlm.Generate(b.Denoiser(), prompts, c, mdlm.NewRand(1))
			if err != nil || st == nil {
				return out, err
			}
			st.elapsed += time.Since(start)
			st.passes += out.ForwardPasses
			st.batches++
			for _, s := range out.Samples {
				st.tokens += len(s.Answer)
			}
			return out, nil
		}}
	return evaltask.Chat(env, convs)
}

// SamplingRow is one sampler setting's speed and quality.
type SamplingRow struct {
	Name      string
	Steps     int
	Threshold float64
	// TokensPerSecond counts the answers' tokens (up to the end of each
	// answer) over the sampler's wall time.
	TokensPerSecond float64
	// PassesPerBatch is the mean number of model evaluations per batch of
	// prompts; TokensPerPass the answer tokens per evaluation of a batch.
	PassesPerBatch, TokensPerPass float64
	ExactMatch                    evaltask.Score
	Seconds                       float64
}

// SamplingResult is the sampling stage's table.
type SamplingResult struct {
	Model        string // the SFT stage whose model was sampled
	MaxNewTokens int
	BlockSize    int
	Prompts      int
	// Rounds over every setting; a row's tokens/s is its fastest round's.
	Rounds int
	Rows   []SamplingRow
}

// samplingRounds is the number of rounds of the sampling table.
const samplingRounds = 3

// stageSampling samples the best starting point's first seed with T, T/2,
// T/4, T/8 steps (T: one step per new token) and with Fast-dLLM's
// confidence threshold.
func (r *runner) stageSampling(_ context.Context, _ string) (any, error) {
	sft, err := r.sftResults()
	if err != nil {
		return nil, err
	}
	// The best mean exact match; among equals, the lowest held-out loss.
	best := Starts[0]
	for _, s := range Starts[1:] {
		m, mb := meanEM(sft[s]), meanEM(sft[best])
		if m > mb || (m == mb && meanAfter(sft[s]) < meanAfter(sft[best])) {
			best = s
		}
	}
	stage := sftStage(best, 1)
	b, err := modeldir.Open(r.dir(stage), r.Backend)
	if err != nil {
		return nil, err
	}
	_, _, held, _, err := r.loadData()
	if err != nil {
		return nil, err
	}
	prompts := held[:min(len(held), r.Size.SampleN)]
	base := b.SamplerConfig()
	T := base.MaxNewTokens
	res := SamplingResult{Model: stage, MaxNewTokens: T, BlockSize: base.BlockSize, Prompts: len(prompts)}
	// One warm-up batch, so that the first row pays no start-up cost.
	if _, err := r.chat(b, prompts[:min(len(prompts), 2)], base, nil); err != nil {
		return nil, err
	}
	type setting struct {
		name      string
		steps     int
		threshold float64
	}
	settings := []setting{{"T", T, 0}, {"T/2", T / 2, 0}, {"T/4", T / 4, 0}, {"T/8", T / 8, 0}, {"threshold 0.9", T, 0.9}}
	// Rounds over the settings in turn; a row's speed is its fastest
	// round's, so that a burst of load on a shared machine falls on no one
	// setting alone. The sampler is deterministic (argmax): every round
	// answers alike.
	res.Rows = make([]SamplingRow, len(settings))
	for round := range samplingRounds {
		for i, s := range settings {
			c := base
			c.Steps, c.Threshold = max(s.steps, 1), s.threshold
			var st genStats
			t0 := time.Now()
			em, err := r.chat(b, prompts, c, &st)
			if err != nil {
				return nil, err
			}
			row := &res.Rows[i]
			if round == 0 {
				score, _ := em.Metric("exact_match")
				*row = SamplingRow{Name: s.name, Steps: c.Steps, Threshold: s.threshold, ExactMatch: score}
				if st.batches > 0 && st.passes > 0 {
					row.PassesPerBatch = float64(st.passes) / float64(st.batches)
					row.TokensPerPass = float64(st.tokens) / float64(st.passes)
				}
			}
			row.Seconds += time.Since(t0).Seconds()
			if st.elapsed > 0 {
				row.TokensPerSecond = max(row.TokensPerSecond, float64(st.tokens)/st.elapsed.Seconds())
			}
		}
	}
	for _, row := range res.Rows {
		r.logf("sampling %s: %.1f tokens/s, exact match %.3f", row.Name, row.TokensPerSecond, row.ExactMatch.Value)
	}
	res.Rounds = samplingRounds
	return res, nil
}

// sftResults reads every finished SFT stage, by starting point.
func (r *runner) sftResults() (map[string][]SFTResult, error) {
	out := map[string][]SFTResult{}
	for _, s := range Starts {
		for seed := 1; seed <= r.Size.Seeds; seed++ {
			var res SFTResult
			if err := r.readResult(sftStage(s, uint64(seed)), &res); err != nil {
				return nil, err
			}
			out[s] = append(out[s], res)
		}
	}
	return out, nil
}

func meanEM(rs []SFTResult) float64 {
	if len(rs) == 0 {
		return 0
	}
	m := 0.0
	for _, r := range rs {
		m += r.ExactMatch.Value
	}
	return m / float64(len(rs))
}

func meanAfter(rs []SFTResult) float64 {
	m := 0.0
	for _, r := range rs {
		m += r.After
	}
	return m / float64(max(len(rs), 1))
}
