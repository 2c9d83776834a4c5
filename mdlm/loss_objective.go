package mdlm

import (
	"math/rand/v2"

	"github.com/dllmgo/dllm/data"
	"github.com/dllmgo/dllm/lm"
	"github.com/dllmgo/dllm/nn"
	"github.com/dllmgo/dllm/tensor"
)

// ObjectiveName is MDLM's name on the command line (--objective mdlm).
const ObjectiveName = "mdlm"

// Objective is masked diffusion (MDLM) as an lm.Objective: Corrupt masks
// each supervised token with probability 1−α(t), the model reads the noisy
// ids, and the loss is the weighted cross-entropy at the masked positions.
// A model whose Spec says ShiftLogits (Dream, A2D) predicts the token at
// position i from its logits at i−1 (at 0 for position 0), so the logits of
// the row before each masked position are asked for.
type Objective struct {
	Options ObjectiveOptions
}

// NewObjective returns MDLM with these options (MaskID must be the model's
// mask token).
func NewObjective(o ObjectiveOptions) *Objective { return &Objective{Options: o} }

// Name implements lm.Objective.
func (o *Objective) Name() string { return ObjectiveName }

// Loss implements lm.Objective: it records the loss of b on tp, multiplied
// by scale, or returns nil when nothing was masked.
func (o *Objective) Loss(tp *nn.Tape, m lm.Model, b data.Batch, rng *rand.Rand, scale float64) (*nn.Var, error) {
	c, err := Corrupt(b, o.Options, rng)
	if err != nil || len(c.Rows) == 0 {
		return nil, err
	}
	be := m.Backend()
	w := make([]float32, len(c.Weights))
	for i, x := range c.Weights {
		w[i] = float32(x * scale)
	}
	rows := c.Rows
	if m.Spec().ShiftLogits {
		rows = ShiftRows(c.Rows, b.S)
	}
	ids := be.FromHost(tensor.FromI32(c.Noisy, b.B, b.S))
	out := m.Forward(tp, lm.Input{IDs: ids, Rows: be.FromHost(tensor.FromI32(rows, len(rows)))})
	targets := be.FromHost(tensor.FromI32(c.Targets, len(c.Targets)))
	weights := be.FromHost(tensor.FromF32(w, len(w)))
	return tp.CrossEntropy(out.Logits, targets, weights, data.IgnoreIndex), nil
}

// ShiftRows maps flat positions b·S+s to the rows whose logits predict them
// in a model with shifted logits: b·S+s−1, and b·S for s = 0 (the rule of
// Dream and the A2D models, whose first position is never masked when
// sampling).
func ShiftRows(rows []int32, seqLen int) []int32 {
	out := make([]int32, len(rows))
	for i, r := range rows {
		if int(r)%seqLen != 0 {
			r--
		}
		out[i] = r
	}
	return out
}

var _ lm.Objective = (*Objective)(nil)
