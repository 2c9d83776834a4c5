package transformer

import (
	"fmt"
	"strconv"

	"github.com/dllmgo/dllm/nn"
	"github.com/dllmgo/dllm/tensor"
)

// MoE is a mixture of experts in place of the MLP, on the layers whose
// Layer.MoE is set: a router Linear [E, H] whose softmax (in float32) over
// the E experts picks the TopK most probable for each row, each expert a
// SwiGLU of width Intermediate (gate and up stored apart, as Weights.Gate
// and Up are with Config.SeparateGateUp), the output Σ_k w_k·expert_k(x)
// plus an optional shared expert that every row goes through. The weights
// w_k are the selected probabilities, renormalised to sum to one with
// Renormalize (Qwen3-MoE's norm_topk_prob), as they are otherwise
// (LLaDA-MoE). With ExpertBias a learned bias [E] is added to the
// probabilities before the selection, and the weights are the biased
// probabilities.
//
// The computation is grouped by expert: the rows routed to an expert are
// gathered, go through its projections as one GEMM each, are scaled by
// their weights and scattered back into their rows. The selection itself is
// piecewise constant and is made on the host from the probabilities (one
// device read per MoE layer and forward pass, which a recorded graph cannot
// replay); gradients reach the router through the selected weights, and
// unselected experts get none.
type MoE struct {
	Experts      int // E
	TopK         int // k ≤ E experts per row
	Intermediate int // each expert's SwiGLU width
	// SharedIntermediate is the width of the shared expert; 0: none.
	SharedIntermediate int
	Renormalize        bool
	ExpertBias         bool
}

// validate rejects a mixture no layer can run.
func (m MoE) validate(c Config) error {
	switch {
	case m.Experts <= 0 || m.TopK <= 0 || m.Intermediate <= 0:
		return fmt.Errorf("transformer: mixture of %d experts, top %d, width %d must be positive", m.Experts, m.TopK, m.Intermediate)
	case m.TopK > m.Experts:
		return fmt.Errorf("transformer: %d experts per token of %d experts", m.TopK, m.Experts)
	case m.SharedIntermediate < 0:
		return fmt.Errorf("transformer: shared expert width %d is negative", m.SharedIntermediate)
	case m.Renormalize && m.ExpertBias:
		return fmt.Errorf("transformer: renormalised weights with an expert bias are not implemented")
	case c.MLP != SwiGLU:
		return fmt.Errorf("transformer: the experts are SwiGLUs, the config's MLP is %v", c.MLP)
	}
	return nil
}

// Expert is one SwiGLU expert: Gate and Up [I, H] (views of one stacked
// tensor, so that they run as one GEMM) and Down [H, I].
type Expert struct {
	Gate, Up, Down *nn.Linear
	gateUp         *stack
}

// Params lists Gate, Up, Down.
func (e *Expert) Params() []*nn.Param {
	var ps []*nn.Param
	for _, l := range []*nn.Linear{e.Gate, e.Up, e.Down} {
		ps = append(ps, l.Params()...)
	}
	return ps
}

// newExpert makes an expert whose projections are named
// prefix+"gate_proj", "up_proj", "down_proj".
func newExpert(b tensor.Backend, h, width int, bias bool, prefix string) *Expert {
	st := newStack(b, tensor.F32, h, bias, []string{prefix + "gate_proj", prefix + "up_proj"}, []int{width, width})
	return &Expert{Gate: st.parts[0], Up: st.parts[1], Down: nn.NewLinear(b, prefix+"down_proj", width, h, bias), gateUp: st}
}

// forward is Down·(SiLU(Gate·x) ⊙ Up·x).
func (e *Expert) forward(tp *nn.Tape, x *nn.Var) *nn.Var {
	return e.Down.Forward(tp, tp.SwiGLU(stacked(tp, x, e.gateUp, e.Gate, e.Up)))
}

// newMoE fills the mixture's weights of w: the router named names.Router,
// the bias names.ExpertBias, the experts names.Experts+"{e}." and the
// shared expert names.Shared.
func newMoE(b tensor.Backend, c Config, names Names, w *Weights) {
	m, h := c.MoE, c.Hidden
	w.Router = nn.NewLinear(b, names.Router, h, m.Experts, false)
	if m.ExpertBias {
		w.ExpertBias = &nn.Param{Name: names.ExpertBias, Var: nn.Leaf(b.New(tensor.F32, m.Experts)), NoDecay: true}
	}
	for e := range m.Experts {
		w.Experts = append(w.Experts, newExpert(b, h, m.Intermediate, c.MLPBias, names.Experts+strconv.Itoa(e)+"."))
	}
	if m.SharedIntermediate > 0 {
		w.Shared = newExpert(b, h, m.SharedIntermediate, c.MLPBias, names.Shared)
	}
}

// moeParams lists the router, the bias, the experts and the shared expert.
func (w Weights) moeParams() []*nn.Param {
	ps := w.Router.Params()
	if w.ExpertBias != nil {
		ps = append(ps, w.ExpertBias)
	}
	for _, e := range w.Experts {
		ps = append(ps, e.Params()...)
	}
	if w.Shared != nil {
		ps = append(ps, w.Shared.Params()...)
	}
	return ps
}

// Routing is the experts a mixture chose for N rows: Experts[n·k+j] is
// row n's j-th choice, most probable first.
type Routing struct {
	N, K    int
	Experts []int
}

// Route picks the k largest of each row of probs [N, E] (row-major), the
// lower index first among equal values.
func Route(probs []float32, n, e, k int) Routing {
	r := Routing{N: n, K: k, Experts: make([]int, 0, n*k)}
	taken := make([]bool, e)
	for i := range n {
		row := probs[i*e : (i+1)*e]
		clear(taken)
		for range k {
			best := -1
			for j, v := range row {
				if !taken[j] && (best < 0 || v > row[best]) {
					best = j
				}
			}
			taken[best] = true
			r.Experts = append(r.Experts, best)
		}
	}
	return r
}

// moe is the mixture on the normalised rows x [N, H].
func (b Block) moe(tp *nn.Tape, x *nn.Var) *nn.Var {
	c, w := b.Config, b.Weights
	m := c.MoE
	n, ne := x.Shape()[0], m.Experts

	prec := tp.Precision // the router runs in float32 whatever the tape's precision
	tp.Precision = nn.PrecisionF32
	logits := w.Router.Forward(tp, x)
	tp.Precision = prec
	var probs *nn.Var
	if m.Renormalize { // the weights come from the logits; the probabilities only choose
		probs = nn.NoGrad(tp.B).Softmax(logits)
	} else {
		probs = tp.Softmax(logits)
	}
	if w.ExpertBias != nil {
		probs = tp.AddBias(probs, w.ExpertBias.Var)
	}
	route := Route(tp.B.ToHost(probs.Value).F32(), n, ne, m.TopK)

	// The assignments grouped by expert, rows ascending within each: the row
	// of each, its weight's place among the probabilities, and its place in
	// row-major choice order.
	counts := make([]int, ne)
	for _, e := range route.Experts {
		counts[e]++
	}
	next := make([]int, ne) // where expert e's next assignment goes
	for e := 1; e < ne; e++ {
		next[e] = next[e-1] + counts[e-1]
	}
	total := len(route.Experts)
	rows, flat, order := make([]int32, total), make([]int32, total), make([]int32, total)
	for i, e := range route.Experts { // i ascends, so rows ascend within each expert
		r, at := i/m.TopK, next[e]
		rows[at], flat[at], order[at] = int32(r), int32(r*ne+e), int32(i)
		next[e]++
	}
	up := func(v []int32) *tensor.Tensor { return tp.B.FromHost(tensor.FromI32(v, len(v))) }

	var weights *nn.Var // [M, 1] in the grouped order
	if m.Renormalize {
		// p_i / Σ_selected p_j = softmax of the selected router logits.
		sel := make([]int32, len(route.Experts))
		for i, ex := range route.Experts {
			sel[i] = int32(i/m.TopK*ne + ex)
		}
		chosen := tp.GatherRows(tp.Reshape(logits, n*ne, 1), up(sel))
		renorm := tp.Softmax(tp.Reshape(chosen, n, m.TopK))
		weights = tp.GatherRows(tp.Reshape(renorm, n*m.TopK, 1), up(order))
	} else {
		weights = tp.GatherRows(tp.Reshape(probs, n*ne, 1), up(flat))
	}

	var outs []*nn.Var
	at := 0
	for e, cnt := range counts {
		if cnt == 0 {
			continue
		}
		xe := tp.GatherRows(x, up(rows[at:at+cnt]))
		outs = append(outs, w.Experts[e].forward(tp, xe))
		at += cnt
	}
	y := outs[0]
	if len(outs) > 1 {
		y = tp.ConcatRows(outs...)
	}
	ones := tp.B.New(tensor.F32, c.Hidden, 1)
	tp.B.Fill(ones, 1)
	tp.Precision = nn.PrecisionF32
	y = tp.Mul(y, tp.Linear(weights, nn.Constant(ones))) // each row times its weight
	tp.Precision = prec
	out := tp.ScatterAddRows(y, up(rows), n)
	if w.Shared != nil {
		out = tp.Add(out, w.Shared.forward(tp, x))
	}
	return out
}
