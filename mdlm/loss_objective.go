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
// A model whose Spec says ShiftLogits (Dream) predicts the token at
// position i from its logits at i−1 (at 0 for position 0), so the logits of
// the row before each masked position are asked for; a batch that
// supervises position 0 gets a BOS column in front first (PrependBOS).
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
	if sp := m.Spec(); sp.ShiftLogits && FirstSupervised(b) {
		bos := sp.BOSID
		if bos == lm.NoToken {
			bos = sp.PadID
		}
		if bos != lm.NoToken {
			b = PrependBOS(b, bos)
		}
	}
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

// FirstSupervised reports whether some row of b supervises its position 0,
// which a model with shifted logits cannot predict from a row before it.
func FirstSupervised(b data.Batch) bool {
	for r := range b.B {
		if b.PromptLen(r) == 0 && b.Label(r, 0) != data.IgnoreIndex {
			return true
		}
	}
	return false
}

// PrependBOS is b with a column in front: the id bos, unsupervised and part
// of the prompt, so that with shifted logits its row predicts each row's
// first token (the reference trainer's prepend_bos for Dream, applied when
// some row supervises position 0: pretraining).
func PrependBOS(b data.Batch, bos int32) data.Batch {
	s := b.S + 1
	out := data.Batch{B: b.B, S: s, InputIDs: make([]int32, b.B*s), Labels: make([]int32, b.B*s), PromptLens: make([]int, b.B)}
	for r := range b.B {
		out.InputIDs[r*s] = bos
		out.Labels[r*s] = data.IgnoreIndex
		for i := range b.S {
			out.InputIDs[r*s+1+i] = b.InputIDs[r*b.S+i]
			out.Labels[r*s+1+i] = b.Label(r, i)
		}
		out.PromptLens[r] = b.PromptLen(r) + 1
	}
	return out
}

// ShiftRows maps flat positions b·S+s to the rows whose logits predict them
// in a model with shifted logits: b·S+s−1, and b·S for s = 0 (the rule of
// Dream, whose first position is never masked when
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
