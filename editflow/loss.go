package editflow

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/dllmgo/dllm/data"
	"github.com/dllmgo/dllm/lm"
	"github.com/dllmgo/dllm/nn"
	"github.com/dllmgo/dllm/tensor"
)

// ObjectiveName is Edit Flows' name on the command line (--objective editflow).
const ObjectiveName = "editflow"

// rateFloor is the reference's floor on a rate inside a logarithm.
const rateFloor = 1e-12

// Options configure the Edit Flows objective. The zero value of a field
// means the reference's default (DefaultOptions).
type Options struct {
	// Kappa is the schedule of the forward process (Linear, the schedule of
	// the reference's training scripts and of its sampler; its trainer
	// alone defaults to Cubic{1, 1}).
	Kappa Kappa
	// TimeEpsilon keeps t in [0, 1−ε) (1e-3).
	TimeEpsilon float64
	// MaxWeight clamps w(t) from above (20); negative: no clamp.
	MaxWeight float64
	// NoNormalize keeps each row's loss unnormalised; by default it is
	// divided by the length of the row's x1 (prompt and BOS included).
	NoNormalize bool
	// MaskLength is the number of [MASK] tokens of x0 after the prompt (64,
	// the reference's SFT script); negative: x0 is the prompt alone (its
	// "empty" source).
	MaskLength int
	// BOS is the token put first in a row that has no prompt and does not
	// start with it (the anchor of insertions at the front); 0: the model's
	// Spec().BOSID. A model without one (lm.NoToken) uses each row's first
	// token as the anchor.
	BOS int32
}

// DefaultOptions are the reference's defaults for SFT.
func DefaultOptions() Options {
	return Options{Kappa: Linear, TimeEpsilon: 1e-3, MaxWeight: 20, MaskLength: 64}
}

func (o Options) withDefaults() Options {
	d := DefaultOptions()
	if o.Kappa == nil {
		o.Kappa = d.Kappa
	}
	if o.TimeEpsilon == 0 {
		o.TimeEpsilon = d.TimeEpsilon
	}
	if o.MaxWeight == 0 {
		o.MaxWeight = d.MaxWeight
	}
	if o.MaskLength == 0 {
		o.MaskLength = d.MaskLength
	}
	return o
}

// Objective is Edit Flows as an lm.Objective. Its model must be a *Model
// (a backbone with heads).
type Objective struct {
	Options Options
}

// NewObjective returns Edit Flows with these options.
func NewObjective(o Options) *Objective { return &Objective{Options: o.withDefaults()} }

// Name implements lm.Objective.
func (o *Objective) Name() string { return ObjectiveName }

// Plan is one training batch of Edit Flows, drawn on the host: the noisy
// sequences x_t (padded) and what the loss reads of the model's outputs.
type Plan struct {
	B, S    int     // rows, and the longest x_t
	IDs     []int32 // [B·S] x_t, padded with [PAD]
	KeyMask []int32 // [B·S] 1 on real tokens
	// Survival [B·S] weighs the rates of each row in the survival term:
	// scale·w_b/(denominator_b·B) on real rows, 0 on padding.
	Survival []float64
	// Edits are the remaining edits, at flat rows b·S+i, each with the
	// weight of its −log rate −log token term (Survival's factor of its row).
	Edits []PlanEdit
}

// PlanEdit is one remaining edit of a Plan.
type PlanEdit struct {
	Edit
	Weight float64
}

// X0 returns the source of a sequence x1 whose first promptLen tokens are
// the prompt: the prompt and then maskLength copies of mask (none if
// maskLength is negative).
func X0(x1 []int32, promptLen, maskLength int, mask int32) []int32 {
	x0 := append([]int32{}, x1[:promptLen]...)
	for range max(maskLength, 0) {
		x0 = append(x0, mask)
	}
	return x0
}

// Draw makes the plan of one batch as the reference's collator and trainer
// do: x1 is each row without its trailing [PAD] (with BOS prepended when a
// row has no prompt and does not start with BOS), x0 its prompt (or BOS)
// and masks, t = (1−ε)·u with u uniform, each aligned column taken from x1
// with probability κ(t).
func (o *Objective) Draw(spec lm.Spec, b data.Batch, rng *rand.Rand, scale float64) (Plan, error) {
	opt := o.Options.withDefaults()
	if err := b.Validate(); err != nil {
		return Plan{}, err
	}
	xs := make([][]int32, b.B)
	var edits [][]Edit
	weights := make([]float64, b.B)
	for r := range b.B {
		ids, _ := b.Row(r)
		n := len(ids)
		for n > 0 && ids[n-1] == spec.PadID {
			n--
		}
		x1 := append([]int32{}, ids[:n]...)
		p := b.PromptLen(r)
		if p == 0 {
			if bos := anchor(opt.BOS, spec); bos != lm.NoToken && (len(x1) == 0 || x1[0] != bos) {
				x1 = append([]int32{bos}, x1...)
			}
			p = min(1, len(x1))
		}
		if p > len(x1) {
			return Plan{}, fmt.Errorf("editflow: row %d: prompt of %d tokens in a sequence of %d", r, p, len(x1))
		}
		x0 := X0(x1, p, opt.MaskLength, spec.MaskID)
		z0, z1 := Align(x0, x1)
		t := (1 - opt.TimeEpsilon) * rng.Float64()
		k := opt.Kappa.Kappa(t)
		w := Weight(opt.Kappa, t)
		if opt.MaxWeight > 0 {
			w = min(w, opt.MaxWeight)
		}
		zt := make([]int32, len(z0))
		for j := range zt {
			if rng.Float64() < k {
				zt[j] = z1[j]
			} else {
				zt[j] = z0[j]
			}
		}
		xs[r] = StripBlanks(zt)
		edits = append(edits, Edits(zt, z1))
		denom := 1.0
		if !opt.NoNormalize {
			denom = float64(max(len(x1), 1))
		}
		weights[r] = scale * w / (denom * float64(b.B))
	}
	return PlanOf(xs, edits, weights, spec.PadID), nil
}

// anchor is the BOS token: bos if set, else the model's.
func anchor(bos int32, spec lm.Spec) int32 {
	if bos > 0 {
		return bos
	}
	return spec.BOSID
}

// PlanOf lays out sequences xs with their remaining edits and per-row
// weights as a Plan.
func PlanOf(xs [][]int32, edits [][]Edit, weights []float64, pad int32) Plan {
	s := 1
	for _, x := range xs {
		s = max(s, len(x))
	}
	p := Plan{B: len(xs), S: s, IDs: make([]int32, len(xs)*s), KeyMask: make([]int32, len(xs)*s), Survival: make([]float64, len(xs)*s)}
	for r, x := range xs {
		for i := range s {
			k := r*s + i
			if i < len(x) {
				p.IDs[k], p.KeyMask[k], p.Survival[k] = x[i], 1, weights[r]
			} else {
				p.IDs[k] = pad
			}
		}
		for _, e := range edits[r] {
			e.Row += r * s
			p.Edits = append(p.Edits, PlanEdit{e, weights[r]})
		}
	}
	return p
}

// Loss implements lm.Objective: one forward pass of the noisy batch and the
// Edit Flows loss on it, multiplied by scale.
func (o *Objective) Loss(tp *nn.Tape, m lm.Model, b data.Batch, rng *rand.Rand, scale float64) (*nn.Var, error) {
	em, ok := m.(*Model)
	if !ok {
		return nil, fmt.Errorf("editflow: the objective needs a model with Edit Flows heads, got %T", m)
	}
	p, err := o.Draw(m.Spec(), b, rng, scale)
	if err != nil {
		return nil, err
	}
	if maxPos := m.Spec().MaxPositions; maxPos > 0 && p.S > maxPos {
		return nil, fmt.Errorf("editflow: a noisy sequence of %d tokens is longer than the model's %d positions (fewer source masks or shorter rows)", p.S, maxPos)
	}
	return em.PlanLoss(tp, p), nil
}

// PlanLoss runs the model on the plan's sequences and returns the loss.
func (m *Model) PlanLoss(tp *nn.Tape, p Plan) *nn.Var {
	be := m.Backend()
	in := lm.Input{
		IDs:     be.FromHost(tensor.FromI32(p.IDs, p.B, p.S)),
		KeyMask: be.FromHost(tensor.FromI32(p.KeyMask, p.B, p.S)),
	}
	return HeadLoss(tp, m.Heads, m.Features(tp, in), p, m.Shifted())
}

// source is the hidden row whose outputs give rate column k at flat row r:
// r itself, or r−1 for a shifted model's substitutions and deletions, or
// −1 (zero rate, zero logits) at a shifted model's first position.
func source(r, k, seqLen int, shifted bool) int {
	if !shifted || k == RateIns {
		return r
	}
	if r%seqLen == 0 {
		return -1
	}
	return r - 1
}

func rateColumn(k Kind) int {
	switch k {
	case Sub:
		return RateSub
	case Del:
		return RateDel
	}
	return RateIns
}

// HeadLoss is the Edit Flows loss of the plan given the features h [B·S, H]
// the heads read:
//
//	Σ_r Survival_r · Σ_k softplus(a_r,k) + Σ_edits Weight · (−log max(λ̂, 1e-12) − log Q(token))
//
// with a = h·Wᵀ+b the rate head's pre-activations. The rate terms (a
// softplus and a clamped log over B·S·3 numbers) are computed on the host
// in float64; the token terms are cross-entropies of the token heads on the
// edited rows, on the backend.
func HeadLoss(tp *nn.Tape, hd *Heads, h *nn.Var, p Plan, shifted bool) *nn.Var {
	vocab := hd.Sub.W.Value.Dim(0)
	a := hd.Rate.Forward(tp, h)
	loss := tp.HostScalar(a, func(a []float32) (float64, []float64) {
		g := make([]float64, len(a))
		v := 0.0
		for r, c := range p.Survival {
			if c == 0 {
				continue
			}
			for k := range 3 {
				if s := source(r, k, p.S, shifted); s >= 0 {
					x := float64(a[s*3+k])
					v += c * softplus(x)
					g[s*3+k] += c * sigmoid(x)
				}
			}
		}
		for _, e := range p.Edits {
			k := rateColumn(e.Kind)
			s := source(e.Row, k, p.S, shifted)
			if s < 0 {
				// Zero rate and zero logits: constants.
				v += e.Weight * -math.Log(rateFloor)
				if e.Kind == Sub {
					v += e.Weight * math.Log(float64(vocab))
				}
				continue
			}
			x := float64(a[s*3+k])
			lam := softplus(x)
			if lam > rateFloor {
				v -= e.Weight * math.Log(lam)
				g[s*3+k] -= e.Weight * sigmoid(x) / lam
			} else {
				v -= e.Weight * math.Log(rateFloor)
			}
		}
		return v, g
	})
	for _, kind := range []Kind{Sub, Ins} {
		var rows, targets []int32
		var weights []float32
		for _, e := range p.Edits {
			if e.Kind != kind {
				continue
			}
			if s := source(e.Row, rateColumn(kind), p.S, shifted); s >= 0 {
				rows = append(rows, int32(s))
				targets = append(targets, e.Token)
				weights = append(weights, float32(e.Weight))
			}
		}
		if len(rows) == 0 {
			continue
		}
		head := hd.Sub
		if kind == Ins {
			head = hd.Ins
		}
		be := tp.B
		z := tp.GatherRows(h, be.FromHost(tensor.FromI32(rows, len(rows))))
		ce := tp.CrossEntropy(head.Forward(tp, z), be.FromHost(tensor.FromI32(targets, len(targets))),
			be.FromHost(tensor.FromF32(weights, len(weights))), data.IgnoreIndex)
		loss = tp.Add(loss, ce)
	}
	return loss
}

// softplus is log(1 + eˣ), computed without overflow.
func softplus(x float64) float64 {
	if x > 0 {
		return x + math.Log1p(math.Exp(-x))
	}
	return math.Log1p(math.Exp(x))
}

func sigmoid(x float64) float64 { return 1 / (1 + math.Exp(-x)) }

var _ lm.Objective = (*Objective)(nil)
