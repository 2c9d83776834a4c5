package editflow

import (
	"fmt"
	"math"
	"strings"
)

// Kappa is a schedule κ(t) rising from κ(0) = 0 to κ(1) = 1: the
// probability that a column of the alignment already shows x1 at time t.
type Kappa interface {
	// Kappa returns κ(t).
	Kappa(t float64) float64
	// Deriv returns κ'(t).
	Deriv(t float64) float64
	// Name is how the schedule is spelled on the command line.
	Name() string
}

// Weight is w(t) = κ'(t) / (1 − κ(t) + 1e-6): the rate, per unit time, at
// which an edit that has not happened yet happens (the reference's 1e-6
// keeps it finite at t = 1).
func Weight(k Kappa, t float64) float64 { return k.Deriv(t) / (1 - k.Kappa(t) + 1e-6) }

// Cubic is κ(t) = (a+1)t³ − (a+b+1)t² + (b+1)t, the reference trainer's
// default with a = b = 1 (2t³ − 3t² + 2t: fast at both ends, slow in the
// middle).
type Cubic struct{ A, B float64 }

// Kappa implements Kappa.
func (c Cubic) Kappa(t float64) float64 {
	return (c.A+1)*t*t*t - (c.A+c.B+1)*t*t + (c.B+1)*t
}

// Deriv implements Kappa.
func (c Cubic) Deriv(t float64) float64 {
	return 3*(c.A+1)*t*t - 2*(c.A+c.B+1)*t + (c.B + 1)
}

// Name implements Kappa.
func (c Cubic) Name() string {
	if c == (Cubic{-1, 0}) {
		return "linear"
	}
	return "cubic"
}

// Linear is κ(t) = t, w(t) = 1/(1−t): the schedule of the reference's
// example scripts and, whatever the training schedule, of its sampler.
var Linear = Cubic{A: -1, B: 0}

// Cosine is κ(t) = 1 − cos(πt/2).
type Cosine struct{}

// Kappa implements Kappa.
func (Cosine) Kappa(t float64) float64 { return 1 - math.Cos(math.Pi*t/2) }

// Deriv implements Kappa.
func (Cosine) Deriv(t float64) float64 { return math.Pi / 2 * math.Sin(math.Pi*t/2) }

// Name implements Kappa.
func (Cosine) Name() string { return "cosine" }

// ParseKappa reads a schedule's name: linear, cubic (a = b = 1) or cosine.
func ParseKappa(s string) (Kappa, error) {
	switch strings.ToLower(s) {
	case "linear":
		return Linear, nil
	case "cubic":
		return Cubic{1, 1}, nil
	case "cosine":
		return Cosine{}, nil
	}
	return nil, fmt.Errorf("editflow: unknown kappa schedule %q (known: linear, cubic, cosine)", s)
}
