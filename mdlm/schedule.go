package mdlm

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
)

// Schedule is a noise schedule: α(t) is the probability that a token is still
// clean at diffusion time t ∈ [0, 1] (α(0) = 1, α(1) = 0), so each token is
// masked with probability 1-α(t).
type Schedule interface {
	// Alpha returns α(t).
	Alpha(t float64) float64
	// Weight returns the ELBO weight -α'(t)/(1-α(t)) of the cross-entropy at a
	// masked position; 1/t for the linear schedule.
	Weight(t float64) float64
	// Name is the schedule's name as the CLI spells it.
	Name() string
}

// Linear is α(t) = 1 - t: a token is masked with probability t, and the loss
// weight is 1/t. It is the schedule of MDLM, LLaDA and the BERT-chat recipe.
type Linear struct{}

func (Linear) Alpha(t float64) float64  { return 1 - t }
func (Linear) Weight(t float64) float64 { return 1 / t }
func (Linear) Name() string             { return "linear" }

// Alpha32 is 1 - t in float32 arithmetic (one rounding).
func (Linear) Alpha32(t float32) float32 { return 1 - t }

// Cosine is α(t) = 1 - cos(π(1-t)/2), the cosine schedule as the PyTorch dLLM
// framework defines it. The mask probability sin(πt/2) rises faster than t
// early on, and the weight (π/2)·cot(πt/2) behaves like 1/t near t = 0.
type Cosine struct{}

func (Cosine) Alpha(t float64) float64 { return 1 - math.Cos(math.Pi/2*(1-t)) }

// Weight is -α'/(1-α) = (π/2)·sin(π(1-t)/2) / cos(π(1-t)/2).
func (Cosine) Weight(t float64) float64 { return math.Pi / 2 * math.Tan(math.Pi/2*(1-t)) }
func (Cosine) Name() string             { return "cosine" }

// Alpha32 follows the float32 operations of the formula: 1-t, times π/2
// (rounded to float32), the cosine rounded to float32, then 1 minus it.
// Go has no float32 cosine; the float64 cosine rounded once can differ from
// a float32 library's by one unit in the last place, which no transfer count
// up to 128 steps has been seen to notice.
func (Cosine) Alpha32(t float32) float32 {
	x := float32(math.Pi/2) * (1 - t)
	return 1 - float32(math.Cos(float64(x)))
}

// ScheduleByName returns the schedule called name ("linear" or "cosine").
func ScheduleByName(name string) (Schedule, error) {
	switch strings.ToLower(name) {
	case "linear":
		return Linear{}, nil
	case "cosine":
		return Cosine{}, nil
	}
	return nil, fmt.Errorf("mdlm: unknown noise schedule %q (want linear or cosine)", name)
}

// maskProb is 1-α(t), the probability that the forward process masks a token.
func maskProb(s Schedule, t float64) float64 { return 1 - s.Alpha(t) }

// DefaultEps is the smallest diffusion time the objective samples: t ~ U[eps, 1).
// Near t = 0 almost nothing is masked and the 1/t weight explodes, so the
// estimator's variance would too.
const DefaultEps = 1e-3

// TimeSampling says how the per-sequence times of one batch are drawn.
type TimeSampling int

const (
	// TimeUniform draws each sequence's t independently.
	TimeUniform TimeSampling = iota
	// TimeStratified puts one t in each of n equal strata of [0, 1) (one
	// uniform draw per stratum), which lowers the variance of the batch loss.
	// MDLM calls this "antithetic_sampling".
	TimeStratified
	// TimeAntithetic pairs each draw u with 1-u.
	TimeAntithetic
)

// String returns the CLI spelling.
func (s TimeSampling) String() string {
	switch s {
	case TimeUniform:
		return "uniform"
	case TimeStratified:
		return "stratified"
	case TimeAntithetic:
		return "antithetic"
	}
	return fmt.Sprintf("TimeSampling(%d)", int(s))
}

// ParseTimeSampling reads "uniform", "stratified" or "antithetic".
func ParseTimeSampling(name string) (TimeSampling, error) {
	for _, s := range []TimeSampling{TimeUniform, TimeStratified, TimeAntithetic} {
		if strings.EqualFold(name, s.String()) {
			return s, nil
		}
	}
	return 0, fmt.Errorf("mdlm: unknown time sampling %q (want uniform, stratified or antithetic)", name)
}

// SampleTimes draws n diffusion times in [eps, 1): t = eps + (1-eps)·u, with
// the u spread over the batch as how says. (Antithetic pairs can reach t = 1
// exactly, where every token is masked.)
func SampleTimes(n int, eps float64, how TimeSampling, rng *rand.Rand) []float64 {
	u := make([]float64, n)
	switch how {
	case TimeStratified:
		for i := range u {
			u[i] = math.Mod(rng.Float64()/float64(n)+float64(i)/float64(n), 1)
		}
	case TimeAntithetic:
		for i := 0; i < n; i += 2 {
			u[i] = rng.Float64()
			if i+1 < n {
				u[i+1] = 1 - u[i]
			}
		}
	default:
		for i := range u {
			u[i] = rng.Float64()
		}
	}
	for i := range u {
		u[i] = eps + (1-eps)*u[i]
	}
	return u
}
