package bd3lm

import (
	"fmt"
	"math/rand/v2"

	"github.com/dllmgo/dllm/data"
	"github.com/dllmgo/dllm/lm"
	"github.com/dllmgo/dllm/mdlm"
	"github.com/dllmgo/dllm/nn"
	"github.com/dllmgo/dllm/tensor"
)

// ObjectiveName is BD3LM's name on the command line (--objective bd3lm).
const ObjectiveName = "bd3lm"

// DefaultBlockSize is the reference's block size.
const DefaultBlockSize = 32

// Options configures the objective.
type Options struct {
	// MDLM holds the noise, weights and normalisation, which are MDLM's
	// (MaskID must be the model's mask token).
	MDLM mdlm.ObjectiveOptions
	// BlockSize is the number of tokens per block (0: DefaultBlockSize).
	BlockSize int
	// PerBlock draws one t per block of each row (the BD3LM authors' code)
	// instead of one per row (the dLLM framework's, the default).
	PerBlock bool
	// PadToBlocks, for SFT, extends each row's answer with supervised EOS
	// up to the next multiple of the block size (PadToBlocks).
	PadToBlocks bool
	// EOS and Pad are the model's end-of-text and padding ids, which
	// PadToBlocks needs.
	EOS, Pad int32
}

// Objective is block diffusion (BD3LM) as an lm.Objective (see the package
// documentation).
type Objective struct {
	Options Options
}

// NewObjective returns BD3LM with these options.
func NewObjective(o Options) *Objective { return &Objective{Options: o} }

// Name implements lm.Objective.
func (o *Objective) Name() string { return ObjectiveName }

// BlockSize is the block size in effect.
func (o *Objective) BlockSize() int {
	if o.Options.BlockSize > 0 {
		return o.Options.BlockSize
	}
	return DefaultBlockSize
}

// Input is one batch as the model reads it: ids [B, 2L] = [x_t ; x_0] per
// row, positions 0..L−1 twice per row, the block-diffusion mask shared by
// every row, and the flat rows b·2L+s (noisy half only) whose logits the loss
// needs, with their targets and weights.
type Input struct {
	B, L      int
	IDs       []int32
	Positions []int32
	Mask      *lm.AttentionMask
	Rows      []int32
	Targets   []int32
	Weights   []float64
}

// Prepare pads b (PadToBlocks), draws the noise and lays out the model's
// input. It returns nil when nothing was masked.
func (o *Objective) Prepare(b data.Batch, shiftLogits bool, rng *rand.Rand) (*Input, error) {
	bs := o.BlockSize()
	if o.Options.PadToBlocks {
		if o.Options.EOS < 0 {
			return nil, fmt.Errorf("bd3lm: padding answers to whole blocks needs an end-of-text token")
		}
		b = PadToBlocks(b, bs, o.Options.EOS, o.Options.Pad)
	}
	c, err := o.corrupt(b, rng)
	if err != nil || len(c.Rows) == 0 {
		return nil, err
	}
	l := b.S
	in := &Input{B: b.B, L: l, IDs: make([]int32, 0, 2*b.B*l), Targets: c.Targets, Weights: c.Weights}
	for r := range b.B {
		in.IDs = append(in.IDs, c.Noisy[r*l:(r+1)*l]...)
		in.IDs = append(in.IDs, b.InputIDs[r*l:(r+1)*l]...)
	}
	pos := TrainingPositions(l)
	for range b.B {
		in.Positions = append(in.Positions, pos...)
	}
	// The mask as structure, for the fused attention kernels; TrainingMask
	// is the same pattern dense (the tests' reference).
	in.Mask = &lm.AttentionMask{Blocks: tensor.BlockPattern{Size: bs, Half: l}, Rows: 1, Pos: pos}
	in.Rows = make([]int32, len(c.Rows))
	for i, f := range c.Rows { // r·L+s in the batch, r·2L+s in the input
		r, s := int(f)/l, int(f)%l
		in.Rows[i] = int32(r*2*l + s)
	}
	if shiftLogits {
		in.Rows = mdlm.ShiftRows(in.Rows, 2*l)
	}
	return in, nil
}

// Loss implements lm.Objective: the MDLM loss of the noisy half, the model
// reading both halves under the block-diffusion mask. It returns nil when
// nothing was masked.
func (o *Objective) Loss(tp *nn.Tape, m lm.Model, b data.Batch, rng *rand.Rand, scale float64) (*nn.Var, error) {
	if _, ok := m.(lm.MaskAttender); !ok {
		return nil, fmt.Errorf("bd3lm: the %s model does not take an attention mask", m.Spec().Family)
	}
	in, err := o.Prepare(b, m.Spec().ShiftLogits, rng)
	if err != nil || in == nil {
		return nil, err
	}
	be := m.Backend()
	w := make([]float32, len(in.Weights))
	for i, x := range in.Weights {
		w[i] = float32(x * scale)
	}
	out := m.Forward(tp, lm.Input{
		IDs:       be.FromHost(tensor.FromI32(in.IDs, in.B, 2*in.L)),
		Positions: be.FromHost(tensor.FromI32(in.Positions, len(in.Positions))),
		Rows:      be.FromHost(tensor.FromI32(in.Rows, len(in.Rows))),
		Mask:      in.Mask,
	})
	targets := be.FromHost(tensor.FromI32(in.Targets, len(in.Targets)))
	weights := be.FromHost(tensor.FromF32(w, len(w)))
	return tp.CrossEntropy(out.Logits, targets, weights, data.IgnoreIndex), nil
}

// corrupt is MDLM's forward process (mdlm.Corrupt, one t per row) or, with
// PerBlock, the same with one t per block of each row.
func (o *Objective) corrupt(b data.Batch, rng *rand.Rand) (*mdlm.Corruption, error) {
	if !o.Options.PerBlock {
		return mdlm.Corrupt(b, o.Options.MDLM, rng)
	}
	if err := b.Validate(); err != nil {
		return nil, fmt.Errorf("bd3lm: %w", err)
	}
	opts := o.Options.MDLM
	sched := opts.Schedule
	if sched == nil {
		sched = mdlm.Linear{}
	}
	eps := opts.Eps
	if eps == 0 {
		eps = mdlm.DefaultEps
	}
	bs := o.BlockSize()
	nb := Blocks(b.S, bs)
	times := mdlm.SampleTimes(b.B*nb, eps, opts.Times, rng)

	perRow := make([]int, b.B)
	total := 0
	for r := range b.B {
		for s := b.PromptLen(r); s < b.S; s++ {
			if b.Label(r, s) != data.IgnoreIndex {
				perRow[r]++
			}
		}
		total += perRow[r]
	}
	c := &mdlm.Corruption{Noisy: append([]int32(nil), b.InputIDs...), T: times, Supervised: total}
	for r := range b.B {
		if perRow[r] == 0 {
			continue
		}
		var norm float64
		switch opts.Normalization {
		case mdlm.NormTokens:
			norm = float64(total)
		case mdlm.NormSequences:
			norm = float64(perRow[r]) * float64(b.B)
		case mdlm.NormBatch:
			norm = float64(b.B)
		default:
			return nil, fmt.Errorf("bd3lm: unknown normalization %d", opts.Normalization)
		}
		for s := b.PromptLen(r); s < b.S; s++ {
			t := times[r*nb+s/bs]
			label := b.Label(r, s)
			if label == data.IgnoreIndex || rng.Float64() >= 1-sched.Alpha(t) {
				continue
			}
			w := 1.0
			if opts.Weighting == mdlm.WeightSchedule {
				w = sched.Weight(t)
			}
			flat := r*b.S + s
			c.Noisy[flat] = opts.MaskID
			c.Rows = append(c.Rows, int32(flat))
			c.Targets = append(c.Targets, label)
			c.Weights = append(c.Weights, w/norm)
		}
	}
	return c, nil
}

// PadToBlocks is the SFT padding of block diffusion: each row's text (up to
// its last token that is not pad) is extended with supervised EOS up to the
// next multiple of bs (nothing when it is one already; the chat template
// ends an answer with EOS), so that every answer's last block holds an
// end-of-text, the sampler's signal to stop, as the reference's SFT collator
// does; every position after that is pad and unsupervised, as the
// reference's collator pads (labels −100), and the rows are lengthened to a
// multiple of bs with it. (This project's own SFT batches label their
// padding with pad, LLaDA's convention for MDLM, which teaches a
// fixed-length canvas to end; block diffusion ends at the block holding
// end-of-text instead, and supervising the padding after it would make the
// loss of every row depend on the longest row of its batch.)
func PadToBlocks(b data.Batch, bs int, eos, pad int32) data.Batch {
	s := Blocks(b.S, bs) * bs
	out := data.Batch{B: b.B, S: s, InputIDs: make([]int32, b.B*s), Labels: make([]int32, b.B*s), PromptLens: b.PromptLens}
	for r := range b.B {
		n := textLen(b, r, pad)
		end := Blocks(n, bs) * bs
		for i := range s {
			id, label := pad, int32(data.IgnoreIndex)
			switch {
			case i < n:
				id, label = b.InputIDs[r*b.S+i], b.Label(r, i)
			case i < end:
				id, label = eos, eos
			}
			out.InputIDs[r*s+i], out.Labels[r*s+i] = id, label
		}
	}
	return out
}

// textLen is one past row r's last token that is not pad.
func textLen(b data.Batch, r int, pad int32) int {
	for n := b.S; n > 0; n-- {
		if b.InputIDs[r*b.S+n-1] != pad {
			return n
		}
	}
	return 0
}

var _ lm.Objective = (*Objective)(nil)
