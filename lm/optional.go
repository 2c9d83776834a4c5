package lm

import "github.com/dllmgo/dllm/nn"

// The interfaces below are optional: a Model may implement them, and the
// family-agnostic code asks with a type assertion and does without.

// Describer says in one line what the model is ("ModernBERT hidden 128, 4
// layers, ..."), for the status lines of training and chat.
type Describer interface {
	Describe() string
}

// PrecisionSetter sets the arithmetic of inference through Logits (the
// samplers); Forward follows its tape's precision instead.
type PrecisionSetter interface {
	SetPrecision(p nn.Precision)
}

// ParamCount sums the elements of a model's parameters.
func ParamCount(m Model) int64 {
	var n int64
	for _, p := range m.Params() {
		n += int64(p.Value.Numel())
	}
	return n
}

// LossWeighter names the MDLM loss weighting the family's reference trains
// with ("cart" for Dream), in mdlm.ParseWeighting's spelling; "" has no
// preference. The CLI uses it when --loss-weight is not given.
type LossWeighter interface {
	LossWeighting() string
}
