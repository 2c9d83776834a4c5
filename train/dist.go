package train

import (
	"context"
	"math/rand/v2"

	"github.com/dllmgo/dllm/dist"
	"github.com/dllmgo/dllm/tensor"
)

// Data-parallel training (Options.Dist, package dist): each of the Size
// ranks takes a disjoint share of every global batch, the gradients are
// averaged in a few flat buckets, and only rank 0 writes. The hooks below
// are all the trainer knows of it.

// ranks returns this process's rank and the number of ranks (0, 1 without
// Options.Dist).
func (t *Trainer) ranks() (rank, size int) {
	if t.opts.Dist == nil {
		return 0, 1
	}
	return t.opts.Dist.Rank(), t.opts.Dist.Size()
}

// writes reports whether this process writes the run's outputs
// (checkpoints, metrics, plots, the final model): rank 0 only.
func (t *Trainer) writes() bool {
	r, _ := t.ranks()
	return t.opts.OutDir != "" && r == 0
}

// mine reports whether micro-batch j of a step's global batch (GradAccum ·
// Size of them) is this rank's: rank r takes r·GradAccum … r·GradAccum +
// GradAccum − 1, so that one process with Size times the accumulation
// computes the same micro-batches in the same order.
func (t *Trainer) mine(j int) bool {
	r, _ := t.ranks()
	return j/t.opts.GradAccum == r
}

// noise is the generator of micro-batch j of the current step's global
// batch. A run of one process draws from the run's checkpointed stream; a
// data-parallel run draws from a stream named by (seed, step, j), so the
// noise of a micro-batch does not depend on which rank computes it.
func (t *Trainer) noise(j int) *rand.Rand {
	if t.opts.Dist == nil {
		return t.rng
	}
	s := t.opts.Seed ^ 0x6a09e667f3bcc909
	return rand.New(rand.NewPCG(s, uint64(t.state.Step)<<20|uint64(j)))
}

// average replaces the gradients with their mean over the ranks and
// returns the mean of the ranks' loss sums acc. Whether any rank's context
// is cancelled rides in the same bucket (a second float), so that the
// ranks agree to stop without a collective of their own.
func (t *Trainer) average(acc *tensor.Tensor) (float64, error) {
	if t.reducer == nil {
		t.reducer = dist.NewReducer(t.opts.Dist, t.params, 0, 2)
	}
	be := t.model.Backend()
	var stop float32
	if t.ctx != nil && t.ctx.Err() != nil {
		stop = 1
	}
	ext := be.FromHost(tensor.FromF32([]float32{0, stop}, 2))
	defer ext.Free()
	be.Copy(ext.Rows(0, 1), acc)
	if err := t.reducer.Average(ext); err != nil {
		return 0, err
	}
	v := ext.ToCPU().F32()
	t.stopAll = v[1] > 0
	return float64(v[0]), nil
}

// syncStart gives every rank rank 0's weights before the first step of Run
// (after Resume, every rank read the same checkpoint; the broadcast costs
// one pass and catches nothing then, but a fresh model initialised
// differently would otherwise go unnoticed).
func (t *Trainer) syncStart() error {
	if t.opts.Dist == nil || t.synced {
		return nil
	}
	t.synced = true
	return dist.BroadcastParams(t.opts.Dist, t.params)
}

// stopping reports whether the run must stop now. Ranks must agree, or
// one would wait forever in the next step's collective: in a data-parallel
// run it is whether any rank's context was cancelled when the last step's
// gradients were averaged (so the ranks stop together, one step after the
// signal at most).
func (t *Trainer) stopping(ctx context.Context) bool {
	if t.opts.Dist == nil {
		return ctx.Err() != nil
	}
	return t.stopAll
}
