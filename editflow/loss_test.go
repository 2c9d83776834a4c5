package editflow

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dllmgo/dllm/data"
	"github.com/dllmgo/dllm/nn"
	"github.com/dllmgo/dllm/tensor"
)

// randomHeads makes heads with random weights (not copies of one another,
// so a test can tell the substitution head from the insertion head).
func randomHeads(rng *rand.Rand, h, v int) *Heads {
	hd := NewHeads(tensor.CPU(), h, v, true)
	for _, p := range hd.Params() {
		uniform(p, rng, 0.8)
	}
	return hd
}

func randomLeaf(rng *rand.Rand, shape ...int) *nn.Var {
	v := make([]float32, shape[0]*shape[1])
	for i := range v {
		v[i] = float32(rng.NormFloat64())
	}
	return nn.Leaf(tensor.FromF32(v, shape...))
}

// testPlan is two rows of lengths 4 and 2 (padded to 4), with every kind of
// edit, two insertions into one gap, and an edit at a first row.
func testPlan() Plan {
	xs := [][]int32{{1, 4, 5, 6}, {1, 3}}
	edits := [][]Edit{
		{{Sub, 1, 2}, {Ins, 1, 5}, {Ins, 1, 6}, {Del, 3, NoToken}, {Ins, 0, 3}},
		{{Sub, 1, 4}, {Del, 0, NoToken}, {Ins, 1, 2}},
	}
	return PlanOf(xs, edits, []float64{0.7, 1.9}, 0)
}

// headLoss64 is the loss written out in float64 from the formula, with the
// weights read back from the heads.
func headLoss64(hd *Heads, h []float32, hidden int, p Plan, shifted bool) float64 {
	lin := func(l *nn.Linear, row int) []float64 {
		w, b := l.W.Value.F32(), l.B.Value.F32()
		out := make([]float64, l.W.Value.Dim(0))
		for o := range out {
			s := float64(b[o])
			for k := range hidden {
				s += float64(w[o*hidden+k]) * float64(h[row*hidden+k])
			}
			out[o] = s
		}
		return out
	}
	logSoftmax := func(x []float64, tok int32) float64 {
		m := math.Inf(-1)
		for _, v := range x {
			m = math.Max(m, v)
		}
		z := 0.0
		for _, v := range x {
			z += math.Exp(v - m)
		}
		return x[tok] - m - math.Log(z)
	}
	vocab := hd.Sub.W.Value.Dim(0)
	// rate(r, k): row r's rate of kind k, 0 at a shifted model's first row.
	rate := func(r, k int) float64 {
		s := r
		if shifted && k != RateIns {
			if r%p.S == 0 {
				return 0
			}
			s = r - 1
		}
		return math.Log1p(math.Exp(lin(hd.Rate, s)[k]))
	}
	logits := func(l *nn.Linear, r int, shift bool) []float64 {
		if shift {
			if r%p.S == 0 {
				return make([]float64, vocab)
			}
			r--
		}
		return lin(l, r)
	}
	loss := 0.0
	for r, c := range p.Survival {
		loss += c * (rate(r, RateSub) + rate(r, RateDel) + rate(r, RateIns))
	}
	for _, e := range p.Edits {
		switch e.Kind {
		case Sub:
			loss -= e.Weight * (logSoftmax(logits(hd.Sub, e.Row, shifted), e.Token) + math.Log(math.Max(rate(e.Row, RateSub), 1e-12)))
		case Ins:
			loss -= e.Weight * (logSoftmax(logits(hd.Ins, e.Row, false), e.Token) + math.Log(math.Max(rate(e.Row, RateIns), 1e-12)))
		case Del:
			loss -= e.Weight * math.Log(math.Max(rate(e.Row, RateDel), 1e-12))
		}
	}
	return loss
}

func TestHeadLossMatchesFloat64(t *testing.T) {
	const hidden, vocab = 6, 9
	for _, shifted := range []bool{false, true} {
		rng := rand.New(rand.NewPCG(1, 2))
		hd := randomHeads(rng, hidden, vocab)
		p := testPlan()
		h := randomLeaf(rng, p.B*p.S, hidden)
		got := HeadLoss(nn.NoGrad(tensor.CPU()), hd, h, p, shifted).Value.F32()[0]
		want := headLoss64(hd, h.Value.F32(), hidden, p, shifted)
		require.Greater(t, math.Abs(want), 1.0)
		require.InDelta(t, want, float64(got), 1e-5*math.Abs(want), "shifted=%v", shifted)
	}
}

// A rate below the floor enters the logarithm as 1e-12 and passes no
// gradient, as the reference's clamp does.
func TestHeadLossFloorsTheRates(t *testing.T) {
	hd := NewHeads(tensor.CPU(), 1, 3, true)
	copyInto(hd.Rate.B, []float32{-40, -40, -40})
	p := PlanOf([][]int32{{1}}, [][]Edit{{{Del, 0, NoToken}}}, []float64{1}, 0)
	h := nn.Leaf(tensor.FromF32([]float32{0}, 1, 1))
	got := HeadLoss(nn.NoGrad(tensor.CPU()), hd, h, p, false).Value.F32()[0]
	require.InDelta(t, -math.Log(1e-12), float64(got), 1e-4)
}

func TestHeadLossGradients(t *testing.T) {
	const hidden, vocab = 5, 7
	for _, shifted := range []bool{false, true} {
		rng := rand.New(rand.NewPCG(3, 4))
		hd := randomHeads(rng, hidden, vocab)
		p := testPlan()
		h := randomLeaf(rng, p.B*p.S, hidden)
		inputs := []*nn.Var{h, hd.Rate.W.Var, hd.Rate.B.Var, hd.Sub.W.Var, hd.Sub.B.Var, hd.Ins.W.Var, hd.Ins.B.Var}
		err := nn.GradCheck(inputs, func(tp *nn.Tape) *nn.Var { return HeadLoss(tp, hd, h, p, shifted) }, 1e-2, 2e-2, 5)
		require.NoError(t, err, "shifted=%v", shifted)
	}
}

func TestDrawIsAPathFromX0ToX1(t *testing.T) {
	const bos, mask, pad = 1, 3, 0
	spec := testSpec()
	b := data.Batch{B: 3, S: 6, InputIDs: []int32{
		1, 9, 10, 11, 12, 13, // a prompt of 2 tokens, an answer of 4
		1, 9, 14, pad, pad, pad, // a prompt of 2 tokens, an answer of 1
		7, 8, 9, 10, pad, pad, // no prompt and no BOS: BOS is prepended
	}, PromptLens: []int{2, 2, 0}}
	x1 := [][]int32{{1, 9, 10, 11, 12, 13}, {1, 9, 14}, {bos, 7, 8, 9, 10}}
	o := NewObjective(Options{MaskLength: 3})
	for seed := range uint64(20) {
		p, err := o.Draw(spec, b, rand.New(rand.NewPCG(seed, 0)), 2)
		require.NoError(t, err)
		require.Equal(t, 3, p.B)
		for r := range p.B {
			var x []int32
			var edits []Edit
			for i := range p.S {
				if p.KeyMask[r*p.S+i] == 1 {
					x = append(x, p.IDs[r*p.S+i])
				}
			}
			for _, e := range p.Edits {
				if e.Row/p.S == r {
					w := 2 * 20 / float64(len(x1[r])*3)
					require.Greater(t, e.Weight, 0.0)
					require.LessOrEqual(t, e.Weight, w+1e-12, "w is clamped at 20")
					e.Edit.Row -= r * p.S
					edits = append(edits, e.Edit)
				}
			}
			require.Equal(t, x1[r], Apply(x, edits), "seed %d row %d: x_t %v edits %v", seed, r, x, edits)
			if r < 2 {
				require.Equal(t, x1[r][:2], x[:2], "x_t starts with the prompt")
			}
		}
	}
	p1, err := o.Draw(spec, b, rand.New(rand.NewPCG(7, 0)), 1)
	require.NoError(t, err)
	p2, err := o.Draw(spec, b, rand.New(rand.NewPCG(7, 0)), 1)
	require.NoError(t, err)
	require.Equal(t, p1, p2)
}
