package lm

import (
	"math/rand/v2"

	"github.com/dllmgo/dllm/data"
	"github.com/dllmgo/dllm/nn"
)

// Objective is a training algorithm: MDLM, BD3LM, Edit Flows. It turns a
// batch of clean sequences into the model's input, runs the model and
// returns the loss. The trainer knows nothing else about it.
type Objective interface {
	// Name is the objective's name on the command line ("mdlm").
	Name() string
	// Loss records on tp the loss of batch b under model m, multiplied by
	// scale (1/gradient-accumulation steps), drawing its noise from rng.
	// It returns nil when the batch holds nothing to learn from (no masked
	// token, say): the step then adds no gradient.
	Loss(tp *nn.Tape, m Model, b data.Batch, rng *rand.Rand, scale float64) (*nn.Var, error)
}
