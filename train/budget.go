package train

import "time"

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
func (t *Trainer) refit() error {
	per := t.stepTime()
	if per <= 0 {
		return nil
	}
	spent := t.spent()
	left := t.opts.TimeBudget - spent - (t.evalCost + 2*t.saveCost)
	switch {
	case left <= 0:
		return t.setTotal(t.state.Step)
	case t.fitted && spent >= t.opts.TimeBudget*9/10:
		return nil
	}
	t.fitted = true
	return t.setTotal(t.state.Step + max(int(left/per), 1))
}

// timedCheckpoint writes a checkpoint and remembers what it cost.
func (t *Trainer) timedCheckpoint() error {
	start := t.now()
	err := t.checkpoint()
	t.saveCost = t.now().Sub(start)
	return err
}
