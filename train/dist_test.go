package train

import (
	"context"
	"errors"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dllmgo/dllm/bert"
	"github.com/dllmgo/dllm/data"
	"github.com/dllmgo/dllm/dist"
	"github.com/dllmgo/dllm/mdlm"
	"github.com/dllmgo/dllm/tensor"
)

// TestDataParallelEqualsAccumulation trains the same tiny model on the same
// global batches three ways: 1 rank accumulating 4 micro-batches, 2 ranks
// accumulating 2, 4 ranks accumulating 1 (ranks in one process,
// dist.NewLocal; MPI itself is cmd/dllm's TestMPIDataParallel). The
// weights and loss curves agree within float32 summation-order rounding
// (bound 1e-6 absolute after 6 steps at lr 3e-3); a different sharding, a
// rank's own noise stream or a missed average would move them by about
// the learning rate. Rank 0 alone writes its OutDir.
func TestDataParallelEqualsAccumulation(t *testing.T) {
	task := copyTask{vocab: 20, n: 3, mask: 0, pad: 1, sep: 2, base: 3}
	cfg, err := bert.Preset("tiny")
	require.NoError(t, err)
	cfg.VocabSize, cfg.PadTokenID = task.vocab, int(task.pad)
	cfg.HiddenSize, cfg.IntermediateSize, cfg.NumLayers = 32, 48, 2
	cfg.LayerTypes = bert.LayersEvery(2, 3)
	batches := func(epoch int) []data.Batch {
		rng := rand.New(rand.NewPCG(uint64(epoch), 3))
		var bs []data.Batch
		for range 12 {
			bs = append(bs, task.batch(rng, 3))
		}
		return bs
	}
	const steps, global = 6, 4
	type result struct {
		weights [][]float32
		losses  []Point
	}
	train := func(c dist.Comm, accum int, out string) result {
		m := bert.New(cfg, tensor.CPU())
		m.Init(rand.New(rand.NewPCG(1+uint64(c.Rank()), 1))) // rank 0's weights win the broadcast
		tr, err := New(m, batches, nil, Options{
			Steps: steps, GradAccum: accum, LR: 3e-3, Schedule: "cosine", Clip: 1, Seed: 5, WeightDecay: 0.01,
			Objective: mdlm.NewObjective(mdlm.ObjectiveOptions{MaskID: task.mask}),
			SaveEvery: 3, KeepLast: 5, OutDir: out, Progress: io.Discard, Dist: c,
		}, Hooks{SaveModel: m.Save})
		require.NoError(t, err)
		require.NoError(t, tr.Run(context.Background()))
		var w [][]float32
		for _, p := range m.Params() {
			w = append(w, p.Value.F32())
		}
		return result{w, tr.State().TrainLoss}
	}
	ref := train(dist.Single{}, global, t.TempDir())
	for _, ranks := range []int{2, 4} {
		res := make([]result, ranks)
		outs := make([]string, ranks)
		var wg sync.WaitGroup
		for _, c := range dist.NewLocal(ranks) {
			outs[c.Rank()] = t.TempDir()
			wg.Add(1)
			go func() { defer wg.Done(); res[c.Rank()] = train(c, global/ranks, outs[c.Rank()]) }()
		}
		wg.Wait()
		for r := range ranks {
			require.Equal(t, res[0].weights, res[r].weights, "%d ranks: rank %d drifted from rank 0", ranks, r)
		}
		var diff float64
		for i := range ref.weights {
			for j, v := range ref.weights[i] {
				diff = max(diff, math.Abs(float64(v)-float64(res[0].weights[i][j])))
			}
		}
		t.Logf("%d ranks: max |Δw| against 1 rank = %.3g", ranks, diff)
		require.Less(t, diff, 1e-6, "%d ranks", ranks)
		require.Len(t, res[0].losses, steps)
		for s, p := range ref.losses {
			require.InDelta(t, p.Loss, res[0].losses[s].Loss, 1e-6*p.Loss, "%d ranks, step %d", ranks, p.Step)
		}
		for r := 1; r < ranks; r++ {
			entries, err := os.ReadDir(outs[r])
			require.NoError(t, err)
			require.Empty(t, entries, "rank %d wrote into its OutDir", r)
		}
		_, err := os.Stat(filepath.Join(outs[0], "checkpoints", "step-000006", "model.safetensors"))
		require.NoError(t, err)
	}
}

// TestDataParallelStopsTogether: a signal seen by one rank only (its
// context cancelled) stops every rank after the same step, and rank 0
// checkpoints it; no rank is left waiting in a collective.
func TestDataParallelStopsTogether(t *testing.T) {
	task := copyTask{vocab: 20, n: 3, mask: 0, pad: 1, sep: 2, base: 3}
	cfg, err := bert.Preset("tiny")
	require.NoError(t, err)
	cfg.VocabSize, cfg.PadTokenID = task.vocab, int(task.pad)
	cfg.HiddenSize, cfg.IntermediateSize, cfg.NumLayers = 32, 48, 1
	cfg.LayerTypes = bert.LayersEvery(1, 3)
	batches := func(epoch int) []data.Batch {
		rng := rand.New(rand.NewPCG(uint64(epoch), 3))
		return []data.Batch{task.batch(rng, 2), task.batch(rng, 2)}
	}
	const ranks = 3
	steps := make([]int, ranks)
	errs := make([]error, ranks)
	out := t.TempDir()
	var wg sync.WaitGroup
	for _, c := range dist.NewLocal(ranks) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			m := bert.New(cfg, tensor.CPU())
			m.Init(rand.New(rand.NewPCG(1, 1)))
			dir := out
			if c.Rank() != 0 {
				dir = t.TempDir()
			}
			tr, err := New(m, batches, nil, Options{
				Steps: 50, LR: 1e-3, Seed: 5, SaveEvery: 100, OutDir: dir, Progress: io.Discard, Dist: c,
				Objective: mdlm.NewObjective(mdlm.ObjectiveOptions{MaskID: task.mask}),
			}, Hooks{SaveModel: m.Save})
			require.NoError(t, err)
			ctx, cancel := context.WithCancel(context.Background())
			if c.Rank() == 2 {
				cancel() // Ctrl-C reached rank 2 alone
			}
			errs[c.Rank()] = tr.Run(ctx)
			steps[c.Rank()] = tr.State().Step
			cancel()
		}()
	}
	wg.Wait()
	for r := range ranks {
		require.True(t, errors.Is(errs[r], ErrInterrupted), "rank %d: %v", r, errs[r])
		require.Equal(t, 1, steps[r], "rank %d", r)
	}
	dir, err := FindCheckpoint(out)
	require.NoError(t, err)
	require.Equal(t, "step-000001", filepath.Base(dir))
}

// TestDataParallelTimeBudget: ranks whose clocks disagree (rank 1's steps
// take three times rank 0's) still run the same number of steps, because the
// length a budgeted run re-fits before every step is rank 0's on every rank;
// ranks that disagreed would wait forever in a collective. The run ends
// within 5% of the budget on rank 0's clock.
func TestDataParallelTimeBudget(t *testing.T) {
	const ranks = 2
	steps := make([]int, ranks)
	errs := make([]error, ranks)
	took := make([]time.Duration, ranks)
	done := make(chan struct{})
	go func() {
		defer close(done)
		var wg sync.WaitGroup
		for _, c := range dist.NewLocal(ranks) {
			wg.Go(func() {
				slow := time.Duration(1 + 2*c.Rank())
				clock := &fakeClock{t: time.Unix(1e9, 0)}
				start := clock.t
				tr, _ := tinyRun(t, t.TempDir(), func(o *Options) {
					o.Steps, o.EvalEvery, o.SaveEvery, o.TimeBudget, o.Dist = 0, 0, 0, 6*time.Second, c
					o.Objective = &timedObjective{Objective: o.Objective, clock: clock, cost: func(n int) time.Duration { return slow * slowStart(n) }}
				})
				tr.now = clock.now
				errs[c.Rank()] = tr.Run(context.Background())
				steps[c.Rank()] = tr.State().Step
				took[c.Rank()] = clock.t.Sub(start)
			})
		}
		wg.Wait()
	}()
	select {
	case <-done:
	case <-time.After(2 * time.Minute):
		t.Fatal("the ranks did not finish: they disagree on the number of steps")
	}
	for r := range ranks {
		require.NoError(t, errs[r], "rank %d", r)
	}
	require.Equal(t, steps[0], steps[1], "every rank runs rank 0's number of steps")
	require.InDelta(t, 6.0, took[0].Seconds(), 0.05*6, "rank 0 uses its budget (%d steps)", steps[0])
}

// TestDataParallelEarlyStop: rank 0 alone evaluates, so its early-stopping
// verdict must reach every rank; the ranks stop at the same step (the
// curve's best is step 3, patience 2 stops at step 5), without a hang.
func TestDataParallelEarlyStop(t *testing.T) {
	const ranks = 2
	steps := make([]int, ranks)
	errs := make([]error, ranks)
	done := make(chan struct{})
	go func() {
		defer close(done)
		var wg sync.WaitGroup
		for _, c := range dist.NewLocal(ranks) {
			wg.Go(func() {
				tr, _ := tinyRun(t, t.TempDir(), func(o *Options) {
					o.Steps, o.EvalEvery, o.SaveEvery, o.Patience, o.Dist = 12, 1, 100, 2, c
				})
				injectCurve(tr)
				errs[c.Rank()] = tr.Run(context.Background())
				steps[c.Rank()] = tr.State().Step
			})
		}
		wg.Wait()
	}()
	select {
	case <-done:
	case <-time.After(2 * time.Minute):
		t.Fatal("the ranks did not finish: rank 0's early stop did not reach the others")
	}
	for r := range ranks {
		require.NoError(t, errs[r], "rank %d", r)
		require.Equal(t, 5, steps[r], "rank %d", r)
	}
}
