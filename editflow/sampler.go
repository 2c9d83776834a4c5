package editflow

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/dllmgo/dllm/lm"
	"github.com/dllmgo/dllm/nn"
	"github.com/dllmgo/dllm/tensor"
)

// SampleOptions configure tau-leaping. The zero value of a field means the
// reference's default (DefaultSampleOptions).
type SampleOptions struct {
	// Tau is the time step (0.01: 100 steps).
	Tau float64
	// TimeEpsilon stops the walk at t ≥ 1−ε (1e-3).
	TimeEpsilon float64
	// MaskLength is the number of [MASK] tokens put after the prompt to
	// start from (64); negative: none (the "empty" source).
	MaskLength int
	// Temperature 0 takes each new token by argmax; above 0 it samples
	// softmax(logits/Temperature).
	Temperature float64
	// MaxLength caps a sequence's length, prompt included (0: the model's
	// MaxPositions, or no cap): insertions that would pass it are dropped.
	MaxLength int
	// EditPrompt lets the sampler edit the prompt too (off: prompt rows are
	// frozen, and only an insertion right after the prompt's last row is
	// allowed among them).
	EditPrompt bool
	// BOS is put first in a prompt that does not start with it; 0: the
	// model's Spec().BOSID; none if that is lm.NoToken (an empty prompt is
	// then an error: insertions need a row to follow).
	BOS int32
	// Seed seeds one random stream per row (row r draws from PCG(Seed,
	// StreamOffset+r)), so a row's result does not depend on the rows
	// batched with it.
	Seed         uint64
	StreamOffset int
	// OnStep, if set, sees every step before its edits are applied.
	OnStep func(Step)
}

// Step is what SampleOptions.OnStep sees of one step.
type Step struct {
	// Index counts steps from 0; MaxSteps is ⌈1/τ⌉; T is the step's time.
	Index, MaxSteps int
	T               float64
	// Rows are the sequences before the step (prompts included, with the
	// BOS the sampler may have put first: PromptLens counts it), Edits the
	// edits the step applies to each (rows of those sequences).
	Rows       [][]int32
	PromptLens []int
	Edits      [][]Edit
}

// DefaultSampleOptions are the reference's sampler defaults (its sample
// script's canvas of 64 masks).
func DefaultSampleOptions() SampleOptions {
	return SampleOptions{Tau: 0.01, TimeEpsilon: 1e-3, MaskLength: 64}
}

func (o SampleOptions) withDefaults() SampleOptions {
	d := DefaultSampleOptions()
	if o.Tau == 0 {
		o.Tau = d.Tau
	}
	if o.TimeEpsilon == 0 {
		o.TimeEpsilon = d.TimeEpsilon
	}
	if o.MaskLength == 0 {
		o.MaskLength = d.MaskLength
	}
	return o
}

// Outputs are the heads' outputs for a batch [B, S], on the host: rates
// [B·S·3] (after the softplus, already shifted for a shifted model: row i's
// own rates) and the token logits [B·S·V] of each row.
type Outputs struct {
	B, S, V  int
	Rates    []float32
	Sub, Ins []float32
}

// Outputs runs the model and its heads on ids [B, S] with keyMask (nil: all
// real) and returns every row's rates and token logits.
func (m *Model) Outputs(ids []int32, keyMask []int32, bsz, seq int) Outputs {
	be := m.Backend()
	tp := nn.NoGrad(be)
	in := lm.Input{IDs: be.FromHost(tensor.FromI32(ids, bsz, seq))}
	if keyMask != nil {
		in.KeyMask = be.FromHost(tensor.FromI32(keyMask, bsz, seq))
	}
	h := m.Features(tp, in)
	a := m.Heads.Rate.Forward(tp, h).Value.ToCPU().F32()
	sub := m.Heads.Sub.Forward(tp, h).Value.ToCPU().F32()
	ins := m.Heads.Ins.Forward(tp, h).Value.ToCPU().F32()
	v := m.Heads.Sub.W.Value.Dim(0)
	out := Outputs{B: bsz, S: seq, V: v, Rates: make([]float32, len(a)), Sub: sub, Ins: ins}
	shifted := m.Shifted()
	for r := range bsz * seq {
		for k := range 3 {
			if s := source(r, k, seq, shifted); s >= 0 {
				out.Rates[r*3+k] = float32(softplus(float64(a[s*3+k])))
			}
		}
	}
	if shifted {
		// Row i substitutes from hidden row i−1; the first row of a sequence
		// gets zero logits.
		out.Sub = make([]float32, len(sub))
		for r := range bsz * seq {
			if s := source(r, RateSub, seq, true); s >= 0 {
				copy(out.Sub[r*v:(r+1)*v], sub[s*v:(s+1)*v])
			}
		}
	}
	return out
}

// Sample generates from each prompt by tau-leaping and returns what follows
// each prompt. A prompt that does not start with the BOS token gets one;
// an empty prompt is [BOS]. Rows of different lengths share each forward
// pass, padded; each row has its own random stream.
func (m *Model) Sample(prompts [][]int32, o SampleOptions) ([][]int32, error) {
	o = o.withDefaults()
	if len(prompts) == 0 {
		return nil, errors.New("editflow: no prompts")
	}
	spec := m.Spec()
	maxLen := o.MaxLength
	if spec.MaxPositions > 0 && (maxLen == 0 || maxLen > spec.MaxPositions) {
		maxLen = spec.MaxPositions
	}
	seqs := make([][]int32, len(prompts))
	plens := make([]int, len(prompts))
	rngs := make([]*rand.Rand, len(prompts))
	for r, p := range prompts {
		x := append([]int32{}, p...)
		if bos := anchor(o.BOS, spec); bos != lm.NoToken && (len(x) == 0 || x[0] != bos) {
			x = append([]int32{bos}, x...)
		}
		if len(x) == 0 {
			return nil, fmt.Errorf("editflow: prompt %d is empty and the model has no BOS token to start from", r)
		}
		plens[r] = len(x)
		if maxLen > 0 && len(x) > maxLen {
			return nil, fmt.Errorf("editflow: prompt %d has %d tokens, more than the maximum length %d", r, len(x), maxLen)
		}
		for range max(o.MaskLength, 0) {
			if maxLen > 0 && len(x) >= maxLen {
				break
			}
			x = append(x, spec.MaskID)
		}
		seqs[r] = x
		rngs[r] = rand.New(rand.NewPCG(o.Seed, uint64(o.StreamOffset+r)))
	}
	steps := int(math.Ceil(1 / o.Tau))
	var out Outputs
	fresh := false
	t := 0.0
	for step := 0; step < steps && t < 1-o.TimeEpsilon; step++ {
		if !fresh {
			ids, mask, s := pad(seqs, spec.PadID)
			out = m.Outputs(ids, mask, len(seqs), s)
			fresh = true
		}
		w := 1 / (1 - t + 1e-6) // the linear schedule, whatever the training one
		all := make([][]Edit, len(seqs))
		for r, x := range seqs {
			all[r] = leap(x, plens[r], out, r, w, o, maxLen, rngs[r])
		}
		if o.OnStep != nil {
			o.OnStep(Step{Index: step, MaxSteps: steps, T: t, Rows: seqs, PromptLens: plens, Edits: all})
		}
		for r, e := range all {
			if len(e) > 0 {
				seqs[r] = Apply(seqs[r], e)
				fresh = false // the model ignores t: reuse its output until something changes
			}
		}
		t = min(1, t+o.Tau)
	}
	res := make([][]int32, len(seqs))
	for r, x := range seqs {
		res[r] = x[plens[r]:]
	}
	return res, nil
}

// pad lays sequences out as a [B, S] batch with its key mask.
func pad(seqs [][]int32, padID int32) (ids, mask []int32, s int) {
	s = 1
	for _, x := range seqs {
		s = max(s, len(x))
	}
	ids, mask = make([]int32, len(seqs)*s), make([]int32, len(seqs)*s)
	for r, x := range seqs {
		for i := range s {
			if i < len(x) {
				ids[r*s+i], mask[r*s+i] = x[i], 1
			} else {
				ids[r*s+i] = padID
			}
		}
	}
	return ids, mask, s
}

// leap draws one tau-leaping step's edits of sequence x (batch row r of
// out): at each row, a substitution or deletion with probability
// (λ_sub+λ_del)·τ, split in proportion to the two rates, and independently
// an insertion after it with probability λ_ins·τ, where λ = w·rate.
func leap(x []int32, plen int, out Outputs, r int, w float64, o SampleOptions, maxLen int, rng *rand.Rand) []Edit {
	var edits []Edit
	length := len(x)
	for i := range x {
		k := r*out.S + i
		ls := w * float64(out.Rates[k*3+RateSub])
		ld := w * float64(out.Rates[k*3+RateDel])
		li := w * float64(out.Rates[k*3+RateIns])
		if !o.EditPrompt {
			if i < plen {
				ls, ld = 0, 0
			}
			if i < plen-1 {
				li = 0
			}
		}
		if rng.Float64() < clampProb((ls+ld)*o.Tau) {
			if rng.Float64() < ld/(ls+ld+1e-8) {
				edits = append(edits, Edit{Del, i, NoToken})
				length--
			} else {
				edits = append(edits, Edit{Sub, i, pick(out.Sub[k*out.V:(k+1)*out.V], o.Temperature, rng)})
			}
		}
		if rng.Float64() < clampProb(li*o.Tau) {
			tok := pick(out.Ins[k*out.V:(k+1)*out.V], o.Temperature, rng)
			if maxLen == 0 || length < maxLen {
				edits = append(edits, Edit{Ins, i, tok})
				length++
			}
		}
	}
	return edits
}

func clampProb(p float64) float64 { return min(max(p, 0), 1-1e-6) }

// pick takes the argmax of logits at temperature 0, else a sample of
// softmax(logits/temperature) computed in float64.
func pick(logits []float32, temperature float64, rng *rand.Rand) int32 {
	best := 0
	for j, v := range logits {
		if v > logits[best] {
			best = j
		}
	}
	if temperature <= 0 {
		return int32(best)
	}
	m := float64(logits[best])
	z := 0.0
	p := make([]float64, len(logits))
	for j, v := range logits {
		p[j] = math.Exp((float64(v) - m) / temperature)
		z += p[j]
	}
	u := rng.Float64() * z
	for j, q := range p {
		u -= q
		if u < 0 {
			return int32(j)
		}
	}
	return int32(len(p) - 1)
}
