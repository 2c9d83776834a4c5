package editflow

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/dllmgo/dllm/lm"
	"github.com/dllmgo/dllm/nn"
	"github.com/dllmgo/dllm/tensor"
)

// Backbone is what the heads need of a model beyond lm.Model: its output
// projection (weight [V, H], bias [V] or nil), from which both token heads
// start. Every family that can carry Edit Flows heads implements it.
type Backbone interface {
	lm.Model
	OutputHead() (weight, bias *nn.Param)
}

// Featurer is implemented by a backbone whose edit heads read something
// other than the final hidden states of Forward: ModernBERT's read the
// masked-LM head's transform (dense, GELU, norm) of the last layer's output
// before the final norm, as the reference's EditFlowModernBertModel does.
type Featurer interface {
	// EditFeatures returns the features [B·S, H] of in's positions.
	EditFeatures(tp *nn.Tape, in lm.Input) *nn.Var
}

// Heads are the Edit Flows outputs on top of hidden features h [N, H]:
// token distributions for substituting a row and for inserting after it,
// and the three rates (substitute, delete, insert) through a softplus.
type Heads struct {
	Sub, Ins *nn.Linear // H → V
	Rate     *nn.Linear // H → 3, in the order RateSub, RateDel, RateIns
}

// The columns of the rate head.
const (
	RateSub = iota
	RateDel
	RateIns
)

// NewHeads makes heads for hidden size h and vocabulary v, with biases on
// the token heads iff bias, on backend b. They are zero until Init or
// InitFrom.
func NewHeads(b tensor.Backend, h, v int, bias bool) *Heads {
	return &Heads{
		Sub:  nn.NewLinear(b, "sub_logits", h, v, bias),
		Ins:  nn.NewLinear(b, "ins_logits", h, v, bias),
		Rate: nn.NewLinear(b, "rate_heads", h, 3, true),
	}
}

// Params lists the heads' parameters.
func (hd *Heads) Params() []*nn.Param {
	ps := append(hd.Sub.Params(), hd.Ins.Params()...)
	return append(ps, hd.Rate.Params()...)
}

// InitRate gives the rate head PyTorch's default Linear initialisation
// (uniform in ±1/√H for weight and bias), as the reference leaves it.
func (hd *Heads) InitRate(rng *rand.Rand) {
	for _, p := range hd.Rate.Params() {
		fan := float64(hd.Rate.W.Value.Dim(1))
		uniform(p, rng, 1/math.Sqrt(fan))
	}
}

// InitFrom copies the output projection (weight [V, H], bias or nil) into
// both token heads, as independent copies: the reference's
// init_editflow_from_src.
func (hd *Heads) InitFrom(weight, bias *nn.Param) {
	w := weight.Value.ToCPU().F32()
	for _, l := range []*nn.Linear{hd.Sub, hd.Ins} {
		copyInto(l.W, w)
		if l.B != nil {
			if bias == nil {
				copyInto(l.B, make([]float32, l.B.Value.Numel()))
			} else {
				copyInto(l.B, bias.Value.ToCPU().F32())
			}
		}
	}
}

func uniform(p *nn.Param, rng *rand.Rand, a float64) {
	v := make([]float32, p.Value.Numel())
	for i := range v {
		v[i] = float32((2*rng.Float64() - 1) * a)
	}
	copyInto(p, v)
}

func copyInto(p *nn.Param, v []float32) {
	if len(v) != p.Value.Numel() {
		panic(fmt.Sprintf("editflow: %d values for %s %v", len(v), p.Name, p.Value.Shape()))
	}
	b := p.Value.Backend()
	src := b.FromHost(tensor.FromF32(v, p.Value.Shape()...))
	b.Copy(p.Value, src)
	src.Free()
}

// Model is a backbone with Edit Flows heads. It is an lm.Model (its
// Forward, Logits and Spec are the backbone's; its Params are the
// backbone's and the heads'), so the trainer runs it like any other, with
// Objective as its objective.
type Model struct {
	Backbone
	Heads *Heads
}

// New puts heads on a backbone whose weights are final (trained or loaded):
// the token heads start as copies of its output projection, the rate head
// at random from rng.
func New(bb Backbone, rng *rand.Rand) *Model {
	w, bias := bb.OutputHead()
	hd := NewHeads(bb.Backend(), w.Value.Dim(1), w.Value.Dim(0), bias != nil)
	hd.InitFrom(w, bias)
	hd.InitRate(rng)
	return &Model{Backbone: bb, Heads: hd}
}

// Init re-initialises the backbone from rng and then the heads from it, so
// a fresh model's token heads also start as its output projection.
func (m *Model) Init(rng *rand.Rand) {
	m.Backbone.Init(rng)
	w, b := m.Backbone.OutputHead()
	m.Heads.InitFrom(w, b)
	m.Heads.InitRate(rng)
}

// Params lists the backbone's parameters, then the heads'.
func (m *Model) Params() []*nn.Param {
	return append(m.Backbone.Params(), m.Heads.Params()...)
}

// Describe names the backbone and the heads.
func (m *Model) Describe() string {
	if d, ok := m.Backbone.(lm.Describer); ok {
		return d.Describe() + " with Edit Flows heads"
	}
	return m.Backbone.Spec().Family + " with Edit Flows heads"
}

// Features returns the features [B·S, H] the heads read for in.
func (m *Model) Features(tp *nn.Tape, in lm.Input) *nn.Var {
	if f, ok := m.Backbone.(Featurer); ok {
		return f.EditFeatures(tp, in)
	}
	in.NoLogits = true
	return m.Backbone.Forward(tp, in).Hidden
}

// Shifted reports whether the substitution and deletion outputs of row i
// come from hidden row i−1 (Dream and the A2D models, which predict the
// token at i from position i−1; row 0 then has zero logits and zero rates).
// Insertions are never shifted.
func (m *Model) Shifted() bool { return m.Backbone.Spec().ShiftLogits }

var _ lm.Model = (*Model)(nil)
