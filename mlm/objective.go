package mlm

import (
	"fmt"
	"math/rand/v2"

	"github.com/dllmgo/dllm/data"
	"github.com/dllmgo/dllm/lm"
	"github.com/dllmgo/dllm/mdlm"
	"github.com/dllmgo/dllm/nn"
	"github.com/dllmgo/dllm/tensor"
)

// ObjectiveName is MLM's name on the command line (--objective mlm).
const ObjectiveName = "mlm"

// DefaultRate is ModernBERT's masking rate.
const DefaultRate = 0.3

// BERT's split of the selected tokens when Options.Replace is on.
const (
	MaskShare   = 0.8 // replaced by [MASK]
	RandomShare = 0.1 // replaced by a uniformly random token
	// the remaining 0.1 are left unchanged
)

// Options configures the objective.
type Options struct {
	// MaskID is the [MASK] token.
	MaskID int32
	// Rate is the probability that a supervised token is selected
	// (0: DefaultRate).
	Rate float64
	// Replace applies BERT's 80/10/10 to the selected tokens.
	Replace bool
	// Vocab bounds the random replacement tokens (0: the model's
	// vocabulary). Only read with Replace.
	Vocab int
	// Specials are ids never drawn as random replacements, beside MaskID
	// and the model's own special tokens.
	Specials []int32
}

func (o Options) rate() float64 {
	if o.Rate == 0 {
		return DefaultRate
	}
	return o.Rate
}

// Validate checks the options.
func (o Options) Validate() error {
	if r := o.rate(); !(r > 0 && r <= 1) {
		return fmt.Errorf("mlm: masking rate %v outside (0, 1]", o.Rate)
	}
	if o.MaskID < 0 {
		return fmt.Errorf("mlm: no mask token")
	}
	if o.Vocab < 0 {
		return fmt.Errorf("mlm: vocabulary %d", o.Vocab)
	}
	return nil
}

// Corruption is one draw of MLM's noise on a batch.
type Corruption struct {
	// Noisy is the model input: the batch's ids with the selected tokens
	// replaced.
	Noisy []int32
	// Rows are the flat positions (b·S+s), increasing, of the selected
	// tokens; Targets their clean labels.
	Rows    []int32
	Targets []int32
	// Kind says, per selected row, what the input holds there.
	Kind []Kind
	// Supervised counts the positions that could have been selected.
	Supervised int
}

// Kind is what a selected position's input was replaced with.
type Kind uint8

const (
	Masked    Kind = iota // [MASK]
	Random                // a random token
	Unchanged             // the token itself
)

// Corrupt selects each supervised, non-prompt position of b with
// probability Rate and replaces it ([MASK], or BERT's 80/10/10 with
// Replace). candidates are the ids a random replacement is drawn from
// (only read with Replace).
func Corrupt(b data.Batch, o Options, candidates []int32, rng *rand.Rand) (*Corruption, error) {
	if err := b.Validate(); err != nil {
		return nil, fmt.Errorf("mlm: %w", err)
	}
	if err := o.Validate(); err != nil {
		return nil, err
	}
	if o.Replace && len(candidates) == 0 {
		return nil, fmt.Errorf("mlm: no token to draw random replacements from")
	}
	p := o.rate()
	c := &Corruption{Noisy: append([]int32(nil), b.InputIDs...)}
	for r := range b.B {
		for s := b.PromptLen(r); s < b.S; s++ {
			label := b.Label(r, s)
			if label == data.IgnoreIndex {
				continue
			}
			c.Supervised++
			if rng.Float64() >= p {
				continue
			}
			flat := r*b.S + s
			kind := Masked
			if o.Replace {
				switch u := rng.Float64(); {
				case u < MaskShare:
				case u < MaskShare+RandomShare:
					kind = Random
				default:
					kind = Unchanged
				}
			}
			switch kind {
			case Masked:
				c.Noisy[flat] = o.MaskID
			case Random:
				c.Noisy[flat] = candidates[rng.IntN(len(candidates))]
			}
			c.Rows = append(c.Rows, int32(flat))
			c.Targets = append(c.Targets, label)
			c.Kind = append(c.Kind, kind)
		}
	}
	return c, nil
}

// Candidates lists the ids below vocab that are none of skip (negative
// entries ignored): the random replacement tokens.
func Candidates(vocab int, skip ...int32) []int32 {
	out := make([]int32, 0, vocab)
	for id := range int32(vocab) {
		bad := false
		for _, s := range skip {
			if id == s {
				bad = true
				break
			}
		}
		if !bad {
			out = append(out, id)
		}
	}
	return out
}

// Objective is MLM as an lm.Objective.
type Objective struct {
	Options Options
}

// New returns MLM with these options.
func New(o Options) *Objective { return &Objective{Options: o} }

// Name implements lm.Objective.
func (o *Objective) Name() string { return ObjectiveName }

// candidates are the random replacement ids for model m.
func (o *Objective) candidates(m lm.Model) []int32 {
	if !o.Options.Replace {
		return nil
	}
	v := o.Options.Vocab
	if v == 0 || v > m.VocabSize() {
		v = m.VocabSize()
	}
	sp := m.Spec()
	skip := append([]int32{o.Options.MaskID, sp.MaskID, sp.PadID, sp.BOSID, sp.EOSID}, o.Options.Specials...)
	return Candidates(v, skip...)
}

// Loss implements lm.Objective: the mean cross-entropy over the selected
// positions, times scale; nil when nothing was selected.
func (o *Objective) Loss(tp *nn.Tape, m lm.Model, b data.Batch, rng *rand.Rand, scale float64) (*nn.Var, error) {
	sp := m.Spec()
	if sp.ShiftLogits && mdlm.FirstSupervised(b) {
		bos := sp.BOSID
		if bos == lm.NoToken {
			bos = sp.PadID
		}
		if bos != lm.NoToken {
			b = mdlm.PrependBOS(b, bos)
		}
	}
	c, err := Corrupt(b, o.Options, o.candidates(m), rng)
	if err != nil || len(c.Rows) == 0 {
		return nil, err
	}
	be := m.Backend()
	w := make([]float32, len(c.Rows))
	for i := range w {
		w[i] = float32(scale / float64(len(c.Rows)))
	}
	rows := c.Rows
	if sp.ShiftLogits {
		rows = mdlm.ShiftRows(c.Rows, b.S)
	}
	ids := be.FromHost(tensor.FromI32(c.Noisy, b.B, b.S))
	out := m.Forward(tp, lm.Input{IDs: ids, Rows: be.FromHost(tensor.FromI32(rows, len(rows)))})
	targets := be.FromHost(tensor.FromI32(c.Targets, len(c.Targets)))
	weights := be.FromHost(tensor.FromF32(w, len(w)))
	return tp.CrossEntropy(out.Logits, targets, weights, data.IgnoreIndex), nil
}

var _ lm.Objective = (*Objective)(nil)
