package train

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/dllmgo/dllm/data"
	"github.com/dllmgo/dllm/dist"
	"github.com/dllmgo/dllm/lm"
	"github.com/dllmgo/dllm/nn"
	"github.com/dllmgo/dllm/optim"
	"github.com/dllmgo/dllm/tensor"
)

// Options configure a run. Start from Defaults() and change what differs:
// a zero LR or Schedule takes the default, but the other zero values mean
// what they say (no warm-up, no weight decay, no clipping).
type Options struct {
	// Steps is the number of optimizer steps. If 0, Epochs passes over the
	// data are made instead.
	Steps, Epochs int
	// GradAccum micro-batches are summed per optimizer step.
	GradAccum int

	LR, WarmupRatio, MinLRRatio float64
	Schedule                    string // constant, linear, cosine
	WeightDecay, Clip           float64
	Beta1, Beta2, AdamEps       float64

	Seed uint64
	// Objective computes the loss of a batch (mdlm.NewObjective, say); the
	// trainer knows nothing else about it.
	Objective lm.Objective
	// Precision is the arithmetic of the model's matrix products, in
	// training and in the held-out evaluation: nn.PrecisionF32 (the zero
	// value) or nn.PrecisionBF16, the mixed precision a GPU wants (bf16
	// operands, f32 accumulation, f32 master weights). On the CPU bf16 is
	// slower: it widens the operands back to f32.
	Precision nn.Precision

	// EvalEvery steps the held-out loss is computed (0: ten times a run,
	// or 4·Patience times when that is more, and always at the end).
	EvalEvery int
	// SaveEvery steps a checkpoint is written (0: four times a run, and
	// always at the end);
	// KeepLast checkpoints are kept.
	SaveEvery, KeepLast int

	// TimeBudget, if positive, replaces Steps/Epochs: the total is fitted
	// so that the run takes about this long, first after a few timed steps,
	// then again before every step (budget.go). The time of earlier
	// sessions of a resumed run counts. Such a run is not bit-reproducible.
	TimeBudget time.Duration

	// Patience, if positive, stops the run early: when this many held-out
	// evaluations in a row have not improved on the best held-out loss so
	// far. A time budget or the step count still caps the run. It needs
	// held-out batches.
	Patience int
	// KeepBest makes the run's final model (the model after Run, and the
	// one saved into OutDir) the weights of the best held-out evaluation
	// instead of the last step's. Checkpoints keep those weights beside
	// the last ones (best.safetensors), so a resumed run keeps them too.
	KeepBest bool

	// Run is the caller's description of the run, stored in every
	// checkpoint (ReadRunSpec reads it back).
	Run *RunSpec

	// OutDir receives checkpoints, metrics.jsonl and loss.png.
	OutDir string
	// Progress receives the progress bar or log lines; nil is silent.
	Progress io.Writer
	// Terminal draws the progress bar in place instead of printing lines.
	Terminal bool

	// Dist, when set, trains data-parallel over its ranks (package dist):
	// GradAccum is per rank, so a step's global batch is GradAccum·Size
	// micro-batches; rank r computes its share of each, gradients are
	// averaged, only rank 0 writes OutDir. Nil is one process.
	Dist dist.Comm
}

// Data yields the training batches of an epoch in order. It must be a pure
// function of the epoch: that is what makes resumption exact.
type Data func(epoch int) []data.Batch

// Hooks let the caller add to a run without the trainer knowing about
// tokenizers or chat templates.
type Hooks struct {
	// SaveModel writes the model and everything needed to use it
	// (tokenizer, templates) into dir.
	SaveModel func(dir string) error
	// AfterEval runs after each evaluation (print sample answers, say).
	AfterEval func(w io.Writer, step int)
	// EvalMetrics, if set, runs after each held-out evaluation (on rank 0
	// alone) and returns more measures of the model at that step (sft: the
	// exact match of generated answers). They are written to metrics.jsonl
	// beside eval_loss and printed; early stopping still reads the loss.
	EvalMetrics func(step int) (map[string]float64, error)
}

// Trainer holds the state of one run.
type Trainer struct {
	opts     Options
	gradNorm float64 // the last step's gradient norm, before clipping
	model    lm.Model
	params   []*nn.Param
	opt      *optim.AdamW
	sched    optim.Schedule
	train    Data
	eval     []data.Batch
	hooks    Hooks

	state  State
	rng    *rand.Rand
	pcg    *rand.PCG
	epochB []data.Batch // the current epoch's batches
	total  int          // total optimizer steps
	// evalAuto and saveAuto mark intervals derived from total.
	evalAuto, saveAuto bool
	log                *metricsLog

	// savedAt and evalAt are the steps of the last checkpoint and held-out
	// evaluation (-1: none); resumedAt is the step the run resumed at.
	savedAt, evalAt, resumedAt int
	// now is the clock (time.Now; tests drive a fake one).
	now func() time.Time
	// budget bookkeeping (budget.go): the training time of earlier
	// sessions, this session's start and the end of each of its steps, and
	// the last cost of an evaluation and of a checkpoint.
	spentBefore        time.Duration
	sessionStart       time.Time
	stamps             []time.Time
	evalCost, saveCost time.Duration
	// fitted: the total was fitted to the budget (or taken from a
	// checkpoint of the budgeted run).
	fitted  bool
	reducer *dist.Reducer // Options.Dist's gradient buckets
	synced  bool          // the ranks' weights were made equal
	ctx     context.Context
	stopAll bool // some rank's context was cancelled (Options.Dist)
	// bestW holds the weights of the best evaluation (KeepBest), one host
	// copy per parameter.
	bestW [][]float32
	// evalFn replaces the held-out evaluation (tests inject a loss curve).
	evalFn func(step int) (float64, error)
}

// State is what a checkpoint records besides the weights and the optimizer
// moments.
type State struct {
	Step  int // optimizer steps done
	Epoch int // current epoch
	Batch int // next batch index within the epoch
	// Tokens seen so far (all positions of the batches).
	Tokens int64
	// History of losses, for the plot after a resume.
	TrainLoss []Point
	EvalLoss  []Point
	// RNG is the noise generator's state (PCG, binary).
	RNG []byte
	// Best is the best held-out evaluation so far (nil before the first).
	Best *Point `json:",omitempty"`
	// Stopped reports that early stopping (Options.Patience) ended the run.
	Stopped bool `json:",omitempty"`
}

// SinceBest is the number of held-out evaluations after the best one.
func (s State) SinceBest() int {
	if s.Best == nil {
		return len(s.EvalLoss)
	}
	n := 0
	for _, p := range s.EvalLoss {
		if p.Step > s.Best.Step {
			n++
		}
	}
	return n
}

// Point is one value of a curve.
type Point struct {
	Step int     `json:"step"`
	Loss float64 `json:"loss"`
}

// ErrInterrupted is returned by Run when its context was cancelled; the run
// was checkpointed first.
var ErrInterrupted = errors.New("training interrupted")

// New prepares a run over model with training data and held-out batches.
func New(model lm.Model, train Data, eval []data.Batch, opts Options, hooks Hooks) (*Trainer, error) {
	if opts.Objective == nil {
		return nil, errors.New("train: no objective (Options.Objective)")
	}
	if opts.Patience < 0 {
		return nil, fmt.Errorf("train: patience %d is negative", opts.Patience)
	}
	if (opts.Patience > 0 || opts.KeepBest) && len(eval) == 0 {
		return nil, errors.New("train: early stopping and keeping the best weights need held-out batches")
	}
	def := Defaults()
	if opts.GradAccum < 1 {
		opts.GradAccum = 1
	}
	if opts.LR == 0 {
		opts.LR = def.LR
	}
	if opts.Schedule == "" {
		opts.Schedule = def.Schedule
	}
	if opts.Beta1 == 0 {
		opts.Beta1, opts.Beta2, opts.AdamEps = 0.9, 0.999, 1e-8
	}
	first := train(0)
	if len(first) == 0 {
		return nil, errors.New("no training batches")
	}
	total := opts.Steps
	if total <= 0 {
		epochs := max(opts.Epochs, 1)
		perStep := opts.GradAccum // micro-batches of a global batch
		if opts.Dist != nil {
			perStep *= opts.Dist.Size()
		}
		total = epochs * len(first) / perStep
		if total < 1 {
			total = 1
		}
	}
	if opts.TimeBudget > 0 {
		// A placeholder until the first steps are timed; it must let them
		// run.
		total = max(total, calibrationSteps+1)
	}
	sched, err := optim.NewSchedule(optim.ScheduleConfig{
		Kind: opts.Schedule, Peak: opts.LR, TotalSteps: total,
		WarmupRatio: opts.WarmupRatio, MinRatio: opts.MinLRRatio,
	})
	if err != nil {
		return nil, err
	}
	params := model.Params()
	pcg := rand.NewPCG(opts.Seed, opts.Seed^0x5851f42d4c957f2d)
	t := &Trainer{
		evalAuto: opts.EvalEvery == 0, saveAuto: opts.SaveEvery == 0,
		opts: opts, model: model, params: params,
		opt:   optim.NewAdamW(params, opts.Beta1, opts.Beta2, opts.AdamEps, opts.WeightDecay),
		sched: sched, train: train, eval: eval, hooks: hooks,
		pcg: pcg, rng: rand.New(pcg), epochB: first, total: total,
		savedAt: -1, evalAt: -1, now: time.Now,
	}
	t.setIntervals()
	return t, nil
}

// setIntervals gives the intervals left at 0 their share of the run's
// steps; it runs again when a time budget fixes the run's length.
func (t *Trainer) setIntervals() {
	if t.evalAuto {
		// Early stopping wants evaluations enough that patience can run
		// out before the end.
		t.opts.EvalEvery = max(t.total/max(10, 4*t.opts.Patience), 1)
	}
	if t.saveAuto {
		t.opts.SaveEvery = max(t.total/4, 1)
	}
}

// setTotal changes the run's length: the schedule becomes that of a run of
// total steps, and the automatic intervals follow.
func (t *Trainer) setTotal(total int) error {
	if total == t.total {
		return nil
	}
	sched, err := optim.NewSchedule(optim.ScheduleConfig{
		Kind: t.opts.Schedule, Peak: t.opts.LR, TotalSteps: total,
		WarmupRatio: t.opts.WarmupRatio, MinRatio: t.opts.MinLRRatio,
	})
	if err != nil {
		return err
	}
	t.total, t.sched = total, sched
	t.setIntervals()
	return nil
}

// TotalSteps is the number of optimizer steps the run makes.
func (t *Trainer) TotalSteps() int { return t.total }

// State returns the run's progress.
func (t *Trainer) State() State { return t.state }

// nextBatch returns the next training batch, moving to the next epoch when
// one is exhausted.
func (t *Trainer) nextBatch() data.Batch {
	if t.state.Batch >= len(t.epochB) {
		t.state.Epoch++
		t.state.Batch = 0
		t.epochB = t.train(t.state.Epoch)
	}
	b := t.epochB[t.state.Batch]
	t.state.Batch++
	return b
}

// Step runs one optimizer step (GradAccum micro-batches) and returns the
// training loss.
//
// On a GPU every read of a device value waits for the whole queue, so a step
// reads exactly two: the loss, summed over the micro-batches on the device,
// and the global gradient norm (one reduction over every parameter). With
// the uploads of each micro-batch's inputs, the waits per step do not grow
// with the model's depth (kernels' TestGPUStepSyncs counts them).
func (t *Trainer) Step() (float64, error) {
	be := t.model.Backend()
	acc := be.New(tensor.F32, 1)
	defer acc.Free()
	seen := false
	_, size := t.ranks()
	for j := range t.opts.GradAccum * size {
		b := t.nextBatch() // every rank walks the whole global batch
		t.state.Tokens += int64(b.B * b.S)
		if !t.mine(j) {
			continue
		}
		tp := nn.NewTape(be)
		tp.Precision = t.opts.Precision
		tp.FreeActivations = true // only the loss is read after Backward
		loss, err := t.opts.Objective.Loss(tp, t.model, b, t.noise(j), 1/float64(t.opts.GradAccum))
		if err != nil {
			return 0, err
		}
		if loss == nil {
			continue
		}
		be.AXPY(acc, loss.Value, 1)
		seen = true
		tp.Backward(loss)
	}
	var total float64
	if t.opts.Dist != nil {
		var err error
		if total, err = t.average(acc); err != nil {
			return 0, err
		}
	} else if seen {
		total = float64(acc.ToCPU().F32()[0])
	}
	if math.IsNaN(total) || math.IsInf(total, 0) {
		return total, fmt.Errorf("step %d: loss is %v", t.state.Step+1, total)
	}
	t.gradNorm = optim.ClipGradNorm(t.params, t.opts.Clip)
	t.opt.Step(t.sched.LR(t.state.Step))
	nn.ZeroGrads(t.params)
	t.state.Step++
	return total, nil
}

// EvalLoss is the mean objective loss over the held-out batches, with noise
// drawn from a fixed seed so that evaluations are comparable across steps,
// in the run's precision.
func (t *Trainer) EvalLoss() (float64, error) {
	return evalLoss(t.model, t.eval, t.opts.Objective, t.opts.Seed+1, t.opts.Precision)
}

// EvalLoss is the mean loss of m under obj over batches, noise seeded by
// seed, computed in f32.
func EvalLoss(m lm.Model, batches []data.Batch, obj lm.Objective, seed uint64) (float64, error) {
	return evalLoss(m, batches, obj, seed, nn.PrecisionF32)
}

func evalLoss(m lm.Model, batches []data.Batch, obj lm.Objective, seed uint64, prec nn.Precision) (float64, error) {
	if len(batches) == 0 {
		return math.NaN(), nil
	}
	rng := rand.New(rand.NewPCG(seed, seed^0x2545f4914f6cdd1d))
	var sum float64
	for _, b := range batches {
		tp := nn.NoGrad(m.Backend())
		tp.Precision = prec
		loss, err := obj.Loss(tp, m, b, rng, 1)
		if err != nil {
			return 0, err
		}
		if loss != nil {
			sum += float64(loss.Value.ToCPU().F32()[0])
		}
	}
	return sum / float64(len(batches)), nil
}

// Run trains until the step budget is spent or ctx is cancelled, evaluating,
// logging and checkpointing along the way. On cancellation it saves a
// checkpoint and returns ErrInterrupted. A run ends with a held-out
// evaluation and a checkpoint at its last step, then saves the model and
// the loss plot into OutDir.
func (t *Trainer) Run(ctx context.Context) error {
	var err error
	t.ctx, t.stopAll = ctx, false
	defer func() { t.ctx = nil }()
	if err := t.syncStart(); err != nil {
		return err
	}
	if t.writes() {
		if err := tidy(t.opts.OutDir, t.state.Step); err != nil {
			return err
		}
		t.log, err = openMetrics(t.opts.OutDir, t.state.Step)
		if err != nil {
			return err
		}
		defer t.log.Close()
	}
	if n := len(t.state.EvalLoss); n > 0 {
		t.evalAt = t.state.EvalLoss[n-1].Step
	}
	t.sessionStart = t.now()
	t.stamps = []time.Time{t.sessionStart}
	bar := newProgress(t.opts.Progress, t.opts.Terminal, t.total, t.state.Step, t.now)
	budgeted := t.opts.TimeBudget > 0
	if budgeted && t.resumedAt <= 0 {
		bar.total = 0 // unknown until the first steps are timed
	}
	startTokens := t.state.Tokens
	for {
		// A run that reached its total has made its last step: its end is
		// not moved again.
		if budgeted && len(t.stamps) > calibrationSteps && t.state.Step < t.total {
			fitted := t.fitted
			if err := t.refit(); err != nil {
				return err
			}
			bar.total = t.total
			if !fitted && t.fitted && t.opts.Progress != nil {
				per := t.stepTime()
				bar.message(fmt.Sprintf("%s per step: %d steps fit the %s budget (fitted again as the run goes)",
					per.Round(time.Millisecond), t.total, t.opts.TimeBudget))
			}
		}
		if t.state.Step >= t.total || t.state.Stopped {
			break
		}
		if t.stopping(ctx) {
			bar.finish()
			if t.savedAt != t.state.Step {
				if err := t.checkpoint(); err != nil {
					return errors.Join(ErrInterrupted, err)
				}
			}
			return ErrInterrupted
		}
		loss, err := t.Step()
		if err != nil {
			return err
		}
		now := t.now()
		t.stamps = append(t.stamps, now)
		step := t.state.Step
		t.state.TrainLoss = append(t.state.TrainLoss, Point{step, loss})
		rate := float64(t.state.Tokens-startTokens) / max(now.Sub(t.sessionStart).Seconds(), 1e-9)
		bar.update(step, loss, rate, t.sched.LR(step-1))
		t.log.write(map[string]any{"step": step, "loss": loss, "lr": t.sched.LR(step - 1),
			"grad_norm": t.gradNorm, "tokens": t.state.Tokens, "tokens_per_s": rate})

		last := step == t.total
		if t.due(step, t.evalAt, t.opts.EvalEvery, budgeted) || last {
			if err := t.evaluate(bar); err != nil {
				return err
			}
		}
		if t.due(step, t.savedAt, t.opts.SaveEvery, budgeted) || last {
			if err := t.timedCheckpoint(); err != nil {
				return err
			}
		}
		if t.opts.Dist != nil && t.opts.Patience > 0 {
			// Rank 0 alone evaluates: every rank takes its verdict, or
			// the others would wait for it in the next step's collective.
			v := uint64(0)
			if t.state.Stopped {
				v = 1
			}
			if v, err = dist.BroadcastUint64(t.opts.Dist, v, 0); err != nil {
				return err
			}
			t.state.Stopped = v == 1
		}
		if t.state.Stopped && t.opts.Progress != nil && t.state.Best != nil { // rank 0 knows the best
			bar.message(fmt.Sprintf("step %d: stopped early, %d evaluations without improving on step %d's held-out loss %.4f",
				step, t.state.SinceBest(), t.state.Best.Step, t.state.Best.Loss))
		}
	}
	// A budgeted run can end at a step it did not know was its last.
	if t.evalAt != t.state.Step {
		if err := t.evaluate(bar); err != nil {
			return err
		}
	}
	if t.savedAt != t.state.Step {
		if err := t.timedCheckpoint(); err != nil {
			return err
		}
	}
	bar.finish()
	if err := t.restoreBest(); err != nil {
		return err
	}
	if t.writes() {
		if err := t.hooks.SaveModel(t.opts.OutDir); err != nil {
			return fmt.Errorf("cannot save the model into %s: %w", t.opts.OutDir, err)
		}
		return PlotLoss(t.opts.OutDir, t.state.TrainLoss, t.state.EvalLoss)
	}
	return nil
}

func (t *Trainer) evaluate(bar *progress) error {
	if r, _ := t.ranks(); len(t.eval) == 0 || r != 0 { // rank 0 alone reports
		return nil
	}
	start := t.now()
	var l float64
	var err error
	if t.evalFn != nil {
		l, err = t.evalFn(t.state.Step)
	} else {
		l, err = t.EvalLoss()
	}
	if err != nil {
		return err
	}
	step := t.state.Step
	t.evalAt = step
	t.state.EvalLoss = append(t.state.EvalLoss, Point{step, l})
	line := map[string]any{"step": step, "eval_loss": l}
	msg := fmt.Sprintf("step %d: held-out loss %.4f", step, l)
	if t.hooks.EvalMetrics != nil {
		more, err := t.hooks.EvalMetrics(step)
		if err != nil {
			return err
		}
		for _, k := range slices.Sorted(maps.Keys(more)) {
			line[k] = more[k]
			msg += fmt.Sprintf(", %s %.4g", k, more[k])
		}
	}
	t.evalCost = t.now().Sub(start) // what the budget sets aside per evaluation
	t.log.write(line)
	t.track(Point{step, l})
	bar.message(msg)
	if t.hooks.AfterEval != nil && t.opts.Progress != nil {
		bar.clear()
		t.hooks.AfterEval(t.opts.Progress, step)
	}
	return nil
}

// track updates the best evaluation with p (a NaN never is), snapshots
// the weights of a new best when they are kept, and decides whether
// patience has run out.
func (t *Trainer) track(p Point) {
	if t.state.Best == nil || p.Loss < t.state.Best.Loss {
		best := p
		t.state.Best = &best
		if t.opts.KeepBest {
			t.bestW = snapshot(t.params)
		}
	}
	if t.opts.Patience > 0 && t.state.SinceBest() >= t.opts.Patience {
		t.state.Stopped = true
	}
}

// snapshot copies every parameter's value to the host.
func snapshot(params []*nn.Param) [][]float32 {
	out := make([][]float32, len(params))
	for i, p := range params {
		out[i] = slices.Clone(p.Value.ToCPU().F32())
	}
	return out
}

// restoreBest puts the best evaluation's weights into the model
// (KeepBest).
func (t *Trainer) restoreBest() error {
	if !t.opts.KeepBest || t.bestW == nil || t.state.Best == nil || t.state.Best.Step == t.state.Step {
		return nil
	}
	be := t.model.Backend()
	for i, p := range t.params {
		be.Copy(p.Value, be.FromHost(tensor.FromF32(t.bestW[i], p.Value.Shape()...)))
	}
	return nil
}

// due reports whether an evaluation or a checkpoint is due at step, every
// steps apart, the last one made at lastAt (-1: none). A fixed-length run
// makes them at the multiples of every. A budgeted run counts from the
// last one: its interval follows the total, which is fitted again before
// every step, and multiples of a moving interval would come in bursts
// (and run an early stop's patience out in a few steps); nor does it make
// them before its total is first fitted.
func (t *Trainer) due(step, lastAt, every int, budgeted bool) bool {
	if every <= 0 {
		return false
	}
	if budgeted {
		// Before the first fit the total is a placeholder of a few steps,
		// whose interval is one step.
		return t.fitted && step-max(lastAt, 0) >= every
	}
	return step%every == 0
}
