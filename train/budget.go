package train

import (
	"time"

	"github.com/dllmgo/dllm/dist"
)

// A time-budgeted run (Options.TimeBudget) does not know its length in
// advance. The first steps of a process are slower than the rest (kernels
// compile, caches fill, the allocator grows), so a length fixed from them
// ends the run early. Instead the length is fitted again before every step:
//
//	per   = time of the later half of this session's steps / their number
//	left  = budget − time spent (all sessions) − reserve
//	total = step + left/per
//
// where reserve is what the end of the run costs: one held-out evaluation
// and two checkpoint-sized writes (the last checkpoint and the final model),
// as last measured. The schedule is the one of a run of the current total,
// so while the estimate settles the learning-rate curve stretches; a step
// time that stays the same makes the total stay the same. In the last tenth
// of the budget the total no longer moves (unless the time is up), and a run
// that reached its total ends there. The first fit
// waits for calibrationSteps timed steps of the session; before it a new run
// uses a placeholder length, and a resumed one the total its checkpoint
// recorded, so a resume keeps the schedule it had.

// calibrationSteps are timed before a time-budgeted run first fits its
// length in a session.
const calibrationSteps = 10

// stepTime is the mean time of the later half of this session's steps.
func (t *Trainer) stepTime() time.Duration {
	n := len(t.stamps) - 1
	if n < 1 {
		return 0
	}
	k := n / 2
	return t.stamps[n].Sub(t.stamps[k]) / time.Duration(n-k)
}

// spent is the training time of the run so far, over every session.
func (t *Trainer) spent() time.Duration {
	if t.sessionStart.IsZero() {
		return t.spentBefore
	}
	return t.spentBefore + t.now().Sub(t.sessionStart)
}

// refit sets the total so that the run ends when its budget is spent. In
// the last tenth of the budget the total stays as it is (noise in the step
// times would otherwise move the end of the schedule back and forth), unless
// the time is up: then the run stops at the current step.
//
// In a data-parallel run (Options.Dist) every rank takes rank 0's decision:
// ranks that ran different numbers of steps would wait forever in a
// collective.
func (t *Trainer) refit() error {
	total, ok := t.proposeTotal()
	if t.opts.Dist != nil {
		v := uint64(0) // 0: keep the total; else total+1
		if ok {
			v = uint64(total) + 1
		}
		v, err := dist.BroadcastUint64(t.opts.Dist, v, 0)
		if err != nil {
			return err
		}
		total, ok = int(v)-1, v > 0
	}
	if !ok {
		return nil
	}
	t.fitted = true
	return t.setTotal(total)
}

// proposeTotal is the total refit would set, and false when it keeps the
// current one.
func (t *Trainer) proposeTotal() (int, bool) {
	per := t.stepTime()
	if per <= 0 {
		return 0, false
	}
	spent := t.spent()
	left := t.opts.TimeBudget - spent - (t.evalCost + 2*t.saveCost)
	switch {
	case left <= 0:
		return t.state.Step, true
	case t.fitted && spent >= t.opts.TimeBudget*9/10:
		return 0, false
	}
	return t.state.Step + max(int(left/per), 1), true
}

// timedCheckpoint writes a checkpoint and remembers what it cost.
func (t *Trainer) timedCheckpoint() error {
	start := t.now()
	err := t.checkpoint()
	t.saveCost = t.now().Sub(start)
	return err
}
