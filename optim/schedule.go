package optim

import (
	"fmt"
	"math"
)

// Schedule gives the learning rate at a 0-based step.
type Schedule interface {
	LR(step int) float64
}

// ScheduleConfig describes a warmup followed by a decay to MinRatio·Peak at
// TotalSteps. Warmup is WarmupSteps if positive, else WarmupRatio·TotalSteps.
type ScheduleConfig struct {
	Kind        string // "constant", "linear" or "cosine"
	Peak        float64
	TotalSteps  int
	WarmupSteps int
	WarmupRatio float64
	MinRatio    float64 // floor as a fraction of Peak (0: decay to zero)
}

// NewSchedule validates c and returns its schedule.
func NewSchedule(c ScheduleConfig) (Schedule, error) {
	switch c.Kind {
	case "constant", "linear", "cosine":
	default:
		return nil, fmt.Errorf("unknown schedule %q (want constant, linear or cosine)", c.Kind)
	}
	if c.Peak <= 0 || math.IsNaN(c.Peak) {
		return nil, fmt.Errorf("learning rate must be positive, got %g", c.Peak)
	}
	if c.TotalSteps <= 0 {
		return nil, fmt.Errorf("schedule needs a positive number of steps, got %d", c.TotalSteps)
	}
	if c.WarmupRatio < 0 || c.WarmupRatio > 1 {
		return nil, fmt.Errorf("warmup ratio must be in [0, 1], got %g", c.WarmupRatio)
	}
	warm := c.WarmupSteps
	if warm <= 0 {
		warm = int(math.Round(c.WarmupRatio * float64(c.TotalSteps)))
	}
	return &schedule{c: c, warmup: min(warm, c.TotalSteps)}, nil
}

type schedule struct {
	c      ScheduleConfig
	warmup int
}

// LR ramps linearly from Peak/warmup to Peak over the warmup steps (as
// Hugging Face's get_*_schedule_with_warmup do, step+1 so the first step is
// not zero), then decays over the remaining steps.
func (s *schedule) LR(step int) float64 {
	c := s.c
	if step < s.warmup {
		return c.Peak * float64(step+1) / float64(s.warmup)
	}
	if c.Kind == "constant" {
		return c.Peak
	}
	decay := c.TotalSteps - s.warmup
	if decay <= 0 {
		return c.Peak
	}
	progress := math.Min(1, float64(step-s.warmup)/float64(decay))
	var f float64
	if c.Kind == "linear" {
		f = 1 - progress
	} else {
		f = 0.5 * (1 + math.Cos(math.Pi*progress))
	}
	return c.Peak * (c.MinRatio + (1-c.MinRatio)*f)
}
