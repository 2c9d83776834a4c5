package train

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dllmgo/dllm/bert"
	"github.com/dllmgo/dllm/tensor/safetensors"
)

// fakeCurve is an injected held-out loss, a function of the step (so that
// a resumed run sees the same curve): it improves until step 3, then
// worsens or stays above step 3's loss; at step 7 it would improve again.
var fakeCurve = map[int]float64{1: 5, 2: 4, 3: 3, 4: 3.5, 5: 3.2, 6: 3.1, 7: 2, 8: 1.5, 9: 1.4, 10: 1.3, 11: 1.2, 12: 1.1}

func injectCurve(tr *Trainer) {
	tr.evalFn = func(step int) (float64, error) {
		l, ok := fakeCurve[step]
		if !ok {
			return 0, fmt.Errorf("no loss for step %d", step)
		}
		return l, nil
	}
}

// earlyRun is tinyRun with 12 steps, an evaluation after every step, the
// injected curve, and a record of the weights at each evaluation.
func earlyRun(t *testing.T, out string, patience int, keepBest bool, weights map[int][][]float32) (*Trainer, *bert.Model) {
	var tr *Trainer
	tr, m := tinyRun(t, out, func(o *Options) {
		o.Steps, o.EvalEvery, o.SaveEvery, o.KeepLast = 12, 1, 100, 5
		o.Patience, o.KeepBest = patience, keepBest
	})
	injectCurve(tr)
	tr.hooks.AfterEval = func(io.Writer, int) {
		if weights != nil {
			weights[tr.state.Step] = snapshot(tr.params)
		}
	}
	return tr, m
}

func modelWeights(m *bert.Model) [][]float32 {
	var out [][]float32
	for _, p := range m.Params() {
		out = append(out, slices.Clone(p.Value.F32()))
	}
	return out
}

func savedWeights(t *testing.T, m *bert.Model, dir string) [][]float32 {
	t.Helper()
	f, err := safetensors.OpenModel(dir)
	require.NoError(t, err)
	var out [][]float32
	for _, p := range m.Params() {
		v, _, err := f.F32(p.Name)
		require.NoError(t, err)
		out = append(out, v)
	}
	return out
}

// Patience counts evaluations without improvement: on the curve above, the
// best is step 3 and the run stops after the evaluations of steps 4..3+P,
// before the curve would improve at step 7. KeepBest makes step 3's
// weights the final model, in memory and in the output folder; without it
// the final model is the last step's.
func TestEarlyStoppingStopsAtPatienceAndKeepsBest(t *testing.T) {
	cases := []struct {
		patience  int
		keepBest  bool
		stopStep  int
		finalFrom int // the step whose weights are the final model
	}{
		{patience: 2, keepBest: true, stopStep: 5, finalFrom: 3},
		{patience: 3, keepBest: true, stopStep: 6, finalFrom: 3},
		{patience: 3, keepBest: false, stopStep: 6, finalFrom: 6},
		{patience: 4, keepBest: true, stopStep: 12, finalFrom: 12}, // step 7 improves in time
		{patience: 0, keepBest: true, stopStep: 12, finalFrom: 12}, // no early stopping
	}
	for _, c := range cases {
		t.Run(fmt.Sprintf("patience=%d,keep=%v", c.patience, c.keepBest), func(t *testing.T) {
			out := t.TempDir()
			weights := map[int][][]float32{}
			tr, m := earlyRun(t, out, c.patience, c.keepBest, weights)
			require.NoError(t, tr.Run(context.Background()))
			st := tr.State()
			require.Equal(t, c.stopStep, st.Step, "the step the run ended at")
			require.Equal(t, c.stopStep < 12, st.Stopped)
			require.Len(t, st.EvalLoss, c.stopStep)
			require.NotEqual(t, weights[c.finalFrom], weights[c.finalFrom-1], "the weights moved between evaluations")
			require.Equal(t, weights[c.finalFrom], modelWeights(m), "the final model in memory")
			require.Equal(t, weights[c.finalFrom], savedWeights(t, m, out), "the final model saved")
			if c.stopStep < 12 {
				require.NotEqual(t, weights[c.stopStep], weights[c.finalFrom-1])
			}
		})
	}
}

// A run interrupted between its best evaluation and the end of its
// patience, resumed from its checkpoint, stops at the same step with the
// same best weights as the run that was not interrupted.
func TestEarlyStoppingResumesMidPatience(t *testing.T) {
	whole, wholeModel := earlyRun(t, t.TempDir(), 3, true, nil)
	require.NoError(t, whole.Run(context.Background()))
	require.Equal(t, 6, whole.State().Step)

	out := t.TempDir()
	first, _ := earlyRun(t, out, 3, true, nil)
	ctx, cancel := context.WithCancel(context.Background())
	first.hooks.AfterEval = func(io.Writer, int) {
		if first.state.Step == 4 { // the best is step 3: one evaluation into the patience
			cancel()
		}
	}
	require.ErrorIs(t, first.Run(ctx), ErrInterrupted)
	dir, err := FindCheckpoint(out)
	require.NoError(t, err)
	require.Equal(t, "step-000004", filepath.Base(dir))

	second, secondModel := earlyRun(t, out, 3, true, nil)
	require.NoError(t, second.Resume(dir))
	require.Equal(t, 3, second.State().Best.Step)
	require.Equal(t, 1, second.State().SinceBest())
	require.NoError(t, second.Run(context.Background()))
	require.Equal(t, whole.State().Step, second.State().Step)
	require.True(t, second.State().Stopped)
	require.Equal(t, modelWeights(wholeModel), modelWeights(secondModel), "the best weights after a resume")
	require.Equal(t, modelWeights(wholeModel), savedWeights(t, secondModel, out))

	// A continuation with another patience is another run.
	third, _ := earlyRun(t, out, 5, true, nil)
	var mm *MismatchError
	require.ErrorAs(t, third.Resume(dir), &mm)
	require.Equal(t, "patience", mm.Option)
}

func TestEarlyStoppingNeedsHeldOut(t *testing.T) {
	tr, m := tinyRun(t, t.TempDir(), nil)
	_, err := New(m, tr.train, nil, Options{Objective: tr.opts.Objective, Steps: 3, Patience: 2}, Hooks{})
	require.ErrorContains(t, err, "held-out")
	_, err = New(m, tr.train, tr.eval, Options{Objective: tr.opts.Objective, Steps: 3, Patience: -1}, Hooks{})
	require.ErrorContains(t, err, "negative")
}

// A budgeted run whose steps slow down and speed up fits its total again
// and again, and its automatic interval with it; its evaluations still
// come an interval apart (counted from the last one), not in bursts at the
// multiples of a moving interval, which would spend an early stop's
// patience in a few steps.
func TestBudgetedEvaluationsDoNotBurst(t *testing.T) {
	clock := &fakeClock{t: time.Unix(1e9, 0)}
	tr := budgetRun(t, t.TempDir(), clock, 8*time.Second, io.Discard)
	tr.opts.Objective.(*timedObjective).cost = func(n int) time.Duration {
		// Alternating phases of fast and slow steps.
		if (n/25)%2 == 0 {
			return 10 * time.Millisecond
		}
		return 40 * time.Millisecond
	}
	require.NoError(t, tr.Run(context.Background()))
	ev := tr.State().EvalLoss
	t.Logf("%d steps, evaluations at %v", tr.TotalSteps(), ev)
	require.Greater(t, len(ev), 5)
	minGap := tr.TotalSteps() / 20 // the interval is total/10
	require.GreaterOrEqual(t, ev[0].Step, minGap, "no evaluation while the first steps are timed: %v", ev)
	for i := 1; i < len(ev)-1; i++ {
		require.GreaterOrEqual(t, ev[i].Step-ev[i-1].Step, minGap, "evaluations at steps %v", ev)
	}
}

// EvalMetrics' measures land in metrics.jsonl on the evaluation's line,
// beside eval_loss, at every evaluation; early stopping still reads the loss.
func TestEvalMetricsAreLogged(t *testing.T) {
	out := t.TempDir()
	tr, _ := earlyRun(t, out, 2, false, nil)
	calls := map[int]bool{}
	tr.hooks.EvalMetrics = func(step int) (map[string]float64, error) {
		calls[step] = true
		return map[string]float64{"eval_exact_match": float64(step) / 100}, nil
	}
	require.NoError(t, tr.Run(context.Background()))
	raw, err := os.ReadFile(filepath.Join(out, metricsFile))
	require.NoError(t, err)
	seen := 0
	for _, text := range strings.Split(strings.TrimSpace(string(raw)), "\n") {
		var l map[string]any
		require.NoError(t, json.Unmarshal([]byte(text), &l), text)
		if _, ok := l["eval_loss"]; !ok {
			require.NotContains(t, l, "eval_exact_match", "a training step's line")
			continue
		}
		step := int(l["step"].(float64))
		require.True(t, calls[step], "step %d", step)
		require.InDelta(t, float64(step)/100, l["eval_exact_match"], 1e-12, "step %d", step)
		seen++
	}
	require.Equal(t, len(calls), seen)
	require.Equal(t, 5, seen, "patience 2 stops after step 5's evaluation, as without the hook")

	bad, _ := earlyRun(t, t.TempDir(), 0, false, nil)
	bad.hooks.EvalMetrics = func(int) (map[string]float64, error) { return nil, fmt.Errorf("broken measure") }
	require.ErrorContains(t, bad.Run(context.Background()), "broken measure")
}
