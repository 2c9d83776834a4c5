package train

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dllmgo/dllm/bert"
	"github.com/dllmgo/dllm/data"
	"github.com/dllmgo/dllm/lm"
	"github.com/dllmgo/dllm/mdlm"
	"github.com/dllmgo/dllm/nn"
	"github.com/dllmgo/dllm/tensor"
)

// tinyRun is a small run on the copy task: a two-layer ModernBERT, three
// batches of 4 rows per epoch, one held-out batch. opts start from the
// recipe of TestResumeReproducesUninterruptedRun and edit changes them.
func tinyRun(t *testing.T, out string, edit func(*Options)) (*Trainer, *bert.Model) {
	t.Helper()
	task := copyTask{vocab: 20, n: 3, mask: 0, pad: 1, sep: 2, base: 3}
	cfg, err := bert.Preset("tiny")
	require.NoError(t, err)
	cfg.VocabSize, cfg.PadTokenID = task.vocab, int(task.pad)
	cfg.HiddenSize, cfg.IntermediateSize, cfg.NumLayers = 32, 48, 2
	cfg.LayerTypes = bert.LayersEvery(2, 3)
	cfg.InitializerRange = 0.02 // the released models' σ, with which this 32-wide model's tolerances were set
	batches := func(epoch int) []data.Batch {
		rng := rand.New(rand.NewPCG(uint64(epoch), 3))
		return []data.Batch{task.batch(rng, 4), task.batch(rng, 4), task.batch(rng, 4)}
	}
	held := []data.Batch{task.batch(rand.New(rand.NewPCG(7, 7)), 8)}
	m := bert.New(cfg, tensor.CPU())
	m.Init(rand.New(rand.NewPCG(1, 1)))
	o := Options{
		Steps: 8, LR: 3e-3, WarmupRatio: 0.25, Schedule: "cosine", Clip: 1, Seed: 5,
		WeightDecay: 0.01, Objective: mdlm.NewObjective(mdlm.ObjectiveOptions{MaskID: task.mask}),
		EvalEvery: 3, SaveEvery: 3, OutDir: out, Progress: io.Discard,
	}
	if edit != nil {
		edit(&o)
	}
	tr, err := New(m, batches, held, o, Hooks{SaveModel: m.Save})
	require.NoError(t, err)
	return tr, m
}

// A resumed run must be the run its checkpoint recorded: each option that
// shapes the weights is compared, and a difference is refused naming the
// option and both values. Only the intervals, the time budget and a longer
// run may change.
func TestResumeRefusesOtherOptions(t *testing.T) {
	out := t.TempDir()
	first, _ := tinyRun(t, out, func(o *Options) { o.Steps = 4 })
	require.NoError(t, first.Run(context.Background()))
	dir, err := FindCheckpoint(out)
	require.NoError(t, err)

	cases := []struct {
		name   string
		edit   func(*Options)
		option string // "" : accepted
	}{
		{"same options", nil, ""},
		{"learning rate", func(o *Options) { o.LR = 3e-4 }, "lr"},
		{"schedule", func(o *Options) { o.Schedule = "linear" }, "schedule"},
		{"warm-up", func(o *Options) { o.WarmupRatio = 0.1 }, "warmup_ratio"},
		{"accumulation", func(o *Options) { o.GradAccum = 2 }, "grad_accum"},
		{"clipping", func(o *Options) { o.Clip = 0 }, "clip"},
		{"weight decay", func(o *Options) { o.WeightDecay = 0 }, "weight_decay"},
		{"seed", func(o *Options) { o.Seed = 6 }, "seed"},
		{"precision", func(o *Options) { o.Precision = nn.PrecisionBF16 }, "precision"},
		{"objective", func(o *Options) {
			o.Objective = bd3lmObjective()
		}, "objective"},
		{"shorter run", func(o *Options) { o.Steps = 3 }, "total_steps"},
		{"longer run", func(o *Options) { o.Steps = 10 }, ""},
		{"intervals and budget", func(o *Options) { o.EvalEvery, o.SaveEvery, o.TimeBudget = 1, 1, time.Hour }, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tr, _ := tinyRun(t, t.TempDir(), func(o *Options) {
				o.Steps = 4
				if c.edit != nil {
					c.edit(o)
				}
			})
			err := tr.Resume(dir)
			if c.option == "" {
				require.NoError(t, err)
				require.Equal(t, 4, tr.State().Step)
				return
			}
			var mm *MismatchError
			require.ErrorAs(t, err, &mm)
			require.Equal(t, c.option, mm.Option)
			require.NotEqual(t, mm.Was, mm.Now)
			require.Contains(t, err.Error(), mm.Was)
			require.NotContains(t, err.Error(), "\n")
		})
	}
}

// The record of a checkpoint names the options, the caller's run record
// and the training time spent.
func TestCheckpointRecordsTheRun(t *testing.T) {
	out := t.TempDir()
	spec := &RunSpec{Command: "sft", Flags: map[string]string{"lr": "0.0001", "block-size": "8"},
		Data: []FileDigest{{Path: "a.jsonl", Size: 10, SHA256: "ab"}}, TokenizerSHA256: "cd", Device: "cpu", Version: "v"}
	tr, _ := tinyRun(t, out, func(o *Options) { o.Steps, o.Run, o.GradAccum = 3, spec, 2 })
	require.NoError(t, tr.Run(context.Background()))
	dir, err := FindCheckpoint(out)
	require.NoError(t, err)
	got, step, err := ReadRunSpec(dir)
	require.NoError(t, err)
	require.Equal(t, 3, step)
	require.Equal(t, spec, got)
	st, err := readState(dir)
	require.NoError(t, err)
	require.Equal(t, RecordedOptions{Steps: 3, GradAccum: 2, LR: 3e-3, WarmupRatio: 0.25, Schedule: "cosine",
		WeightDecay: 0.01, Clip: 1, Beta1: 0.9, Beta2: 0.999, AdamEps: 1e-8, Seed: 5, Objective: "mdlm",
		Precision: "f32", TimeBudget: "0s", EvalEvery: 3, SaveEvery: 3, Patience: new(int), KeepBest: new(bool)}, *st.Options)
	require.Positive(t, st.ElapsedSeconds)
}

// readMetrics returns the steps and losses of metrics.jsonl's step lines,
// and the steps of its evaluation lines.
func readMetrics(t *testing.T, out string) (train []Point, evals []int) {
	t.Helper()
	f, err := os.Open(filepath.Join(out, metricsFile))
	require.NoError(t, err)
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var l struct {
			Step     int      `json:"step"`
			Loss     *float64 `json:"loss"`
			EvalLoss *float64 `json:"eval_loss"`
		}
		require.NoError(t, json.Unmarshal(sc.Bytes(), &l), sc.Text())
		if l.Loss != nil {
			train = append(train, Point{l.Step, *l.Loss})
		}
		if l.EvalLoss != nil {
			evals = append(evals, l.Step)
		}
	}
	return train, evals
}

// After a crash (the process killed, no checkpoint at the moment of
// death) and a resume from the last checkpoint, metrics.jsonl holds each
// step once, and the same curve as the plot (the state's history). The
// crash's leftovers, a half-written checkpoint folder and the temporary
// file of an atomic write, are cleared.
func TestMetricsAfterCrash(t *testing.T) {
	out := t.TempDir()
	// The crashed process: it ran to step 8, checkpointing at 3 and 6;
	// the crash lost everything after step 3's checkpoint but the log.
	crashed, _ := tinyRun(t, out, func(o *Options) { o.KeepLast = 0 })
	require.NoError(t, crashed.Run(context.Background()))
	for _, d := range []string{"step-000006", "step-000008"} {
		require.NoError(t, os.RemoveAll(filepath.Join(out, checkpointsDir, d)))
	}
	require.NoError(t, os.MkdirAll(filepath.Join(out, checkpointsDir, "step-000007.tmp"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(out, ".model.safetensors.tmp123"), []byte("x"), 0o644))
	// A torn last line.
	f, err := os.OpenFile(filepath.Join(out, metricsFile), os.O_APPEND|os.O_WRONLY, 0)
	require.NoError(t, err)
	_, err = f.WriteString(`{"step": 9, "lo`)
	require.NoError(t, err)
	require.NoError(t, f.Close())

	resumed, _ := tinyRun(t, out, func(o *Options) { o.KeepLast = 0 })
	require.NoError(t, resumed.Resume(filepath.Join(out, checkpointsDir, "step-000003")))
	require.NoError(t, resumed.Run(context.Background()))

	steps, evals := readMetrics(t, out)
	require.Len(t, steps, 8)
	for i, p := range steps {
		require.Equal(t, i+1, p.Step, "each step once, in order")
	}
	require.Equal(t, resumed.State().TrainLoss, steps, "metrics.jsonl and loss.png's curve agree")
	require.Equal(t, []int{3, 6, 8}, evals)
	entries, err := os.ReadDir(filepath.Join(out, checkpointsDir))
	require.NoError(t, err)
	for _, e := range entries {
		require.NotContains(t, e.Name(), ".tmp")
	}
	_, err = os.Stat(filepath.Join(out, ".model.safetensors.tmp123"))
	require.True(t, os.IsNotExist(err))
}

// Resuming at an earlier checkpoint than the newest drops the newer ones:
// they belong to the continuation being replaced, and a later resume must
// not pick them up.
func TestResumeAtOlderCheckpointDropsNewer(t *testing.T) {
	out := t.TempDir()
	first, _ := tinyRun(t, out, func(o *Options) { o.KeepLast = 0 })
	require.NoError(t, first.Run(context.Background()))
	second, _ := tinyRun(t, out, func(o *Options) { o.KeepLast = 0 })
	require.NoError(t, second.Resume(filepath.Join(out, checkpointsDir, "step-000003")))
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	require.ErrorIs(t, second.Run(cancelled), ErrInterrupted)
	all, err := listCheckpoints(filepath.Join(out, checkpointsDir))
	require.NoError(t, err)
	require.Equal(t, []string{filepath.Join(out, checkpointsDir, "step-000003")}, all)
}

// fakeClock is a clock that moves only when told.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time { return c.t }

// timedObjective is an objective whose every loss takes cost(n) on the
// fake clock, n counting its calls: step times as a test wants them.
type timedObjective struct {
	lm.Objective
	clock *fakeClock
	cost  func(n int) time.Duration
	n     int
}

func (o *timedObjective) Loss(tp *nn.Tape, m lm.Model, b data.Batch, rng *rand.Rand, scale float64) (*nn.Var, error) {
	o.n++
	o.clock.t = o.clock.t.Add(o.cost(o.n))
	return o.Objective.Loss(tp, m, b, rng, scale)
}

// slowStart is the step time of a process that warms up: the first 20
// calls cost 5x the rest.
func slowStart(n int) time.Duration {
	if n <= 20 {
		return 100 * time.Millisecond
	}
	return 20 * time.Millisecond
}

func budgetRun(t *testing.T, out string, clock *fakeClock, budget time.Duration, progress io.Writer) *Trainer {
	tr, _ := tinyRun(t, out, func(o *Options) {
		o.Steps, o.EvalEvery, o.SaveEvery, o.TimeBudget = 0, 0, 0, budget
		o.Objective = &timedObjective{Objective: o.Objective, clock: clock, cost: slowStart}
		o.Progress = progress
	})
	tr.now = clock.now
	return tr
}

// A time-budgeted run uses its budget: although its first steps are five
// times slower than the rest, it ends within 5% of the budget (on the fake
// clock: every loss, training or held-out, costs its time).
func TestTimeBudgetUsesTheBudget(t *testing.T) {
	clock := &fakeClock{t: time.Unix(1e9, 0)}
	start := clock.t
	var log strings.Builder
	tr := budgetRun(t, t.TempDir(), clock, 8*time.Second, &log)
	require.NoError(t, tr.Run(context.Background()))
	took := clock.t.Sub(start)
	t.Logf("%d steps in %s of an 8s budget", tr.State().Step, took)
	require.InDelta(t, 8.0, took.Seconds(), 0.05*8, "%d steps", tr.State().Step)
	require.Contains(t, log.String(), "steps fit the 8s budget")
}

// A resumed time-budgeted run keeps its budget (the time already spent
// counts) and its schedule (the learning rate continues where it was), and
// the two sessions together last the budget.
func TestTimeBudgetResume(t *testing.T) {
	clock := &fakeClock{t: time.Unix(1e9, 0)}
	start := clock.t
	out := t.TempDir()
	first := budgetRun(t, out, clock, 8*time.Second, io.Discard)
	ctx, cancel := context.WithCancel(context.Background())
	first.hooks.AfterEval = func(io.Writer, int) {
		if first.State().Step >= 60 {
			cancel()
		}
	}
	require.ErrorIs(t, first.Run(ctx), ErrInterrupted)
	stopped := first.State().Step
	lrBefore := first.sched.LR(stopped - 1)
	clock.t = clock.t.Add(time.Hour) // the pause between the sessions does not count

	second := budgetRun(t, out, clock, 8*time.Second, io.Discard)
	dir, err := FindCheckpoint(out)
	require.NoError(t, err)
	require.NoError(t, second.Resume(dir))
	require.Equal(t, first.TotalSteps(), second.TotalSteps(), "the schedule the run had")
	require.InEpsilon(t, lrBefore, second.sched.LR(stopped), 0.1, "the learning rate continues")
	require.NoError(t, second.Run(context.Background()))
	took := clock.t.Sub(start) - time.Hour
	t.Logf("stopped at step %d, %d steps in all, %s of an 8s budget", stopped, second.State().Step, took)
	require.InDelta(t, 8.0, took.Seconds(), 0.05*8)
}

// The ETA after a resume divides the time since the resume by the steps
// made since the resume.
func TestETAAfterResume(t *testing.T) {
	clock := &fakeClock{t: time.Unix(1e9, 0)}
	p := newProgress(io.Discard, false, 1000, 900, clock.now)
	clock.t = clock.t.Add(10 * time.Second) // 10 steps in 10s
	require.Equal(t, 90*time.Second, p.eta(910))
	require.Equal(t, time.Duration(0), p.eta(1000))
}

func bd3lmObjective() lm.Objective {
	return otherObjective{mdlm.NewObjective(mdlm.ObjectiveOptions{})}
}

type otherObjective struct{ lm.Objective }

func (otherObjective) Name() string { return "other" }

// A checkpoint that cannot be written (here: the disk is full when the
// model is saved, or when the trainer's state is) stops the run with one
// line naming the folder, leaves the previous checkpoint loadable and no
// temporary folder behind.
func TestCheckpointWriteFailure(t *testing.T) {
	for _, where := range []string{"model", "state"} {
		t.Run(where, func(t *testing.T) {
			out := t.TempDir()
			tr, m := tinyRun(t, out, nil)
			saves := 0
			tr.hooks.SaveModel = func(dir string) error {
				saves++
				if saves < 2 {
					return m.Save(dir)
				}
				if where == "model" {
					return &os.PathError{Op: "write", Path: filepath.Join(dir, "model.safetensors"), Err: syscall.ENOSPC}
				}
				// The model fits, then the disk fills up: the state cannot
				// be written (a file where it would go makes the write fail).
				if err := m.Save(dir); err != nil {
					return err
				}
				return os.Mkdir(filepath.Join(dir, stateFile), 0o755)
			}
			err := tr.Run(context.Background())
			require.Error(t, err)
			final := filepath.Join(out, checkpointsDir, "step-000006")
			require.Contains(t, err.Error(), final)
			require.NotContains(t, err.Error(), "\n")
			require.Equal(t, 6, tr.State().Step, "the run stops at the failed checkpoint")
			entries, err := os.ReadDir(filepath.Join(out, checkpointsDir))
			require.NoError(t, err)
			require.Len(t, entries, 1, "only the previous checkpoint")
			require.Equal(t, "step-000003", entries[0].Name())
			again, _ := tinyRun(t, t.TempDir(), nil)
			require.NoError(t, again.Resume(filepath.Join(out, checkpointsDir, "step-000003")))
		})
	}
}

// Gradient accumulation sums micro-batches: two micro-batches of B/2 rows
// make the same step as one of B rows, within float32 rounding. The
// objective is made per row (each row's noise drawn from its own content),
// so that both ways see the same noise.
func TestGradAccumEqualsLargerBatch(t *testing.T) {
	task := copyTask{vocab: 20, n: 3, mask: 0, pad: 1, sep: 2, base: 3}
	whole := task.batch(rand.New(rand.NewPCG(11, 12)), 8)
	halves := []data.Batch{rows(whole, 0, 4), rows(whole, 4, 8)}
	run := func(accum int, batches []data.Batch) []*nn.Param {
		tr, m := tinyRun(t, "", func(o *Options) {
			o.Steps, o.GradAccum, o.Clip, o.WarmupRatio, o.Schedule = 1, accum, 0, 0, "constant"
			o.Objective = perRowObjective{mdlm.NewObjective(mdlm.ObjectiveOptions{MaskID: task.mask, Normalization: mdlm.NormBatch})}
		})
		tr.train = func(int) []data.Batch { return batches }
		tr.epochB = batches
		_, err := tr.Step()
		require.NoError(t, err)
		return m.Params()
	}
	one, two := run(1, []data.Batch{whole}), run(2, halves)
	moved := 0.0
	fresh, _ := tinyRun(t, "", nil)
	for i, p := range one {
		a, b, start := p.Value.F32(), two[i].Value.F32(), fresh.params[i].Value.F32()
		for j := range a {
			moved = max(moved, math.Abs(float64(a[j]-start[j])))
			require.InDelta(t, a[j], b[j], 1e-6, "%s[%d]", p.Name, j)
		}
	}
	require.Greater(t, moved, 1e-4, "the step moved the weights")
}

// rows returns rows [from, to) of b.
func rows(b data.Batch, from, to int) data.Batch {
	return data.Batch{B: to - from, S: b.S, InputIDs: b.InputIDs[from*b.S : to*b.S],
		Labels: b.Labels[from*b.S : to*b.S], PromptLens: b.PromptLens[from:to]}
}

// perRowObjective is the mean over a batch's rows of each row's loss
// alone, its noise drawn from a generator seeded by the row's tokens.
type perRowObjective struct{ lm.Objective }

func (o perRowObjective) Loss(tp *nn.Tape, m lm.Model, b data.Batch, _ *rand.Rand, scale float64) (*nn.Var, error) {
	var sum *nn.Var
	for r := range b.B {
		row := rows(b, r, r+1)
		seed := uint64(0)
		for _, id := range row.InputIDs {
			seed = seed*31 + uint64(id)
		}
		l, err := o.Objective.Loss(tp, m, row, rand.New(rand.NewPCG(seed, 1)), scale/float64(b.B))
		if err != nil {
			return nil, err
		}
		if l == nil {
			continue
		}
		if sum == nil {
			sum = l
		} else {
			sum = tp.Add(sum, l)
		}
	}
	return sum, nil
}

// ResumeState takes everything from a checkpoint but the weights (the
// caller built the model from them: they load once); Resume takes them too.
func TestResumeStateLeavesTheWeights(t *testing.T) {
	out := t.TempDir()
	first, _ := tinyRun(t, out, func(o *Options) { o.Steps = 3 })
	require.NoError(t, first.Run(context.Background()))
	dir, err := FindCheckpoint(out)
	require.NoError(t, err)
	weights := func(m *bert.Model) [][]float32 {
		var w [][]float32
		for _, p := range m.Params() {
			w = append(w, slices.Clone(p.Value.F32()))
		}
		return w
	}
	tr, m := tinyRun(t, t.TempDir(), func(o *Options) { o.Steps = 3 })
	fresh := weights(m)
	require.NoError(t, tr.ResumeState(dir))
	require.True(t, reflect.DeepEqual(fresh, weights(m)), "ResumeState left the weights")
	require.Equal(t, 3, tr.State().Step)
	require.NoError(t, tr.Resume(dir))
	require.False(t, reflect.DeepEqual(fresh, weights(m)), "Resume loaded the weights")
}
