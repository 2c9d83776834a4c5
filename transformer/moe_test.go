package transformer

import (
	"math"
	"math/rand/v2"
	"sort"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dllmgo/dllm/nn"
	"github.com/dllmgo/dllm/tensor"
)

var moeNames = Names{
	AttnNorm: "attn_norm", Q: "q", K: "k", V: "v", O: "o", MLPNorm: "mlp_norm",
	Router: "mlp.gate", ExpertBias: "mlp.gate.expert_bias", Experts: "mlp.experts.", Shared: "mlp.shared_expert.",
}

func moeConfig(m MoE) Config {
	c := llamaConfig()
	c.SeparateQKV, c.MoE = true, m
	return c
}

var moeCases = []struct {
	name string
	moe  MoE
	bias bool // MLP biases
}{
	{"top-2 of 4, shared expert, weights as selected (LLaDA-MoE)", MoE{Experts: 4, TopK: 2, Intermediate: 6, SharedIntermediate: 5}, false},
	{"top-3 of 5, renormalised (Qwen3-MoE, RND1)", MoE{Experts: 5, TopK: 3, Intermediate: 4, Renormalize: true}, false},
	{"top-1 of 3, expert bias, MLP biases", MoE{Experts: 3, TopK: 1, Intermediate: 4, ExpertBias: true}, true},
	{"every expert", MoE{Experts: 3, TopK: 3, Intermediate: 2, SharedIntermediate: 3}, false},
}

// randomMoE is a MoE block whose router is scaled up so that the top-k
// margins are wide (the gradient check moves values by its step).
func randomMoE(t *testing.T, c Config, rng *rand.Rand) Block {
	require.NoError(t, c.Validate())
	l := Layer{Theta: 10000, MoE: true}
	blk := Block{Config: c, Layer: l, Weights: NewWeights(tensor.CPU(), c, l, moeNames)}
	for _, p := range blk.Weights.Params() {
		v := p.Value.F32()
		for i := range v {
			v[i] = float32(rng.NormFloat64() * 0.5)
		}
	}
	w := blk.Weights.Router.W.Value.F32()
	for i := range w {
		w[i] *= 3
	}
	if b := blk.Weights.ExpertBias; b != nil {
		for i, v := range b.Value.F32() {
			b.Value.F32()[i] = v * 0.05
		}
	}
	return blk
}

// refMoE is the mixture in float64 from the formulas, and the smallest gap
// between a row's k-th and (k+1)-th score (∞ with k = E).
func refMoE(blk Block, x []float32) ([]float64, float64) {
	out, gap, _ := refMoEUsed(blk, x)
	return out, gap
}

// refMoEUsed is refMoE and the experts some row chose.
func refMoEUsed(blk Block, x []float32) ([]float64, float64, map[int]bool) {
	used := map[int]bool{}
	c, w := blk.Config, blk.Weights
	m, h := c.MoE, c.Hidden
	n := len(x) / h
	xs := make([][]float64, n)
	for i := range xs {
		xs[i] = f64(x[i*h : (i+1)*h])
	}
	expert := func(e *Expert, rows [][]float64) [][]float64 {
		g, u := refLinear(rows, e.Gate), refLinear(rows, e.Up)
		for i := range g {
			for j := range g[i] {
				g[i][j] = g[i][j] / (1 + math.Exp(-g[i][j])) * u[i][j]
			}
		}
		return refLinear(g, e.Down)
	}
	logits := refLinear(xs, w.Router)
	out := make([]float64, n*h)
	gap := math.Inf(1)
	for i, l := range logits {
		mx := l[0]
		for _, v := range l {
			mx = math.Max(mx, v)
		}
		p := make([]float64, len(l))
		var z float64
		for j, v := range l {
			p[j] = math.Exp(v - mx)
			z += p[j]
		}
		for j := range p {
			p[j] /= z
			if w.ExpertBias != nil {
				p[j] += float64(w.ExpertBias.Value.F32()[j])
			}
		}
		idx := make([]int, len(p))
		for j := range idx {
			idx[j] = j
		}
		sort.SliceStable(idx, func(a, b int) bool { return p[idx[a]] > p[idx[b]] })
		if m.TopK < m.Experts {
			gap = math.Min(gap, p[idx[m.TopK-1]]-p[idx[m.TopK]])
		}
		var sum float64
		for _, j := range idx[:m.TopK] {
			sum += p[j]
		}
		for _, j := range idx[:m.TopK] {
			used[j] = true
			wt := p[j]
			if m.Renormalize {
				wt /= sum
			}
			y := expert(w.Experts[j], xs[i:i+1])[0]
			for k := range h {
				out[i*h+k] += wt * y[k]
			}
		}
		if w.Shared != nil {
			y := expert(w.Shared, xs[i:i+1])[0]
			for k := range h {
				out[i*h+k] += y[k]
			}
		}
	}
	return out, gap, used
}

func TestMoEMatchesReference(t *testing.T) {
	for _, tc := range moeCases {
		t.Run(tc.name, func(t *testing.T) {
			c := moeConfig(tc.moe)
			c.MLPBias = tc.bias
			rng := rand.New(rand.NewPCG(11, 12))
			blk := randomMoE(t, c, rng)
			const n = 9
			x := randomF32(rng, n*c.Hidden)
			want, _ := refMoE(blk, x)
			got := blk.moe(nn.NoGrad(tensor.CPU()), nn.Constant(tensor.FromF32(x, n, c.Hidden)))
			require.Equal(t, []int{n, c.Hidden}, got.Shape())
			require.Less(t, relDiff(got.Value.F32(), want), 1e-5)
			require.NotZero(t, want[0])
		})
	}
}

func TestMoEGradients(t *testing.T) {
	for _, tc := range moeCases {
		t.Run(tc.name, func(t *testing.T) {
			c := moeConfig(tc.moe)
			c.MLPBias = tc.bias
			rng := rand.New(rand.NewPCG(21, 22))
			blk := randomMoE(t, c, rng)
			const n = 6
			// Spread routing: row i leans on feature i mod H, and the router
			// ranks the experts differently per feature, so that the top-k
			// margins are wide and rows choose different experts.
			x := randomF32(rng, n*c.Hidden)
			for i := range x {
				x[i] *= 0.1
			}
			for i := range n {
				x[i*c.Hidden+i%c.Hidden] += 1.5
			}
			rw := blk.Weights.Router.W.Value.F32()
			for e := range tc.moe.Experts {
				for j := range c.Hidden {
					rw[e*c.Hidden+j] = 0.1*rw[e*c.Hidden+j] + 0.8*float32((e*3+j*5)%tc.moe.Experts)
				}
			}
			_, gap, used := refMoEUsed(blk, x)
			require.Greater(t, gap, 0.01, "margins too narrow for finite differences")
			require.Greater(t, len(used), 1)
			xv := nn.Leaf(tensor.FromF32(x, n, c.Hidden))
			w := blk.Weights
			inputs := []*nn.Var{xv, w.Router.W.Var}
			if w.ExpertBias != nil {
				inputs = append(inputs, w.ExpertBias.Var)
			}
			if w.Shared != nil {
				for _, p := range w.Shared.Params() {
					inputs = append(inputs, p.Var)
				}
			}
			for e, ex := range w.Experts {
				if used[e] { // the others get no gradient
					for _, p := range ex.Params() {
						inputs = append(inputs, p.Var)
					}
				}
			}
			require.NoError(t, nn.GradCheck(inputs, func(tp *nn.Tape) *nn.Var {
				return blk.moe(tp, xv)
			}, 1e-2, 2e-2, 7))
		})
	}
}

// An expert no row chose gets no gradient.
func TestMoEUnselectedExpertNoGradient(t *testing.T) {
	c := moeConfig(MoE{Experts: 4, TopK: 1, Intermediate: 3})
	rng := rand.New(rand.NewPCG(3, 4))
	blk := randomMoE(t, c, rng)
	// Row 0 of the router dominates: every row picks expert 0.
	w := blk.Weights.Router.W.Value.F32()
	for i := range c.Hidden {
		w[i] = 0
	}
	const n = 4
	x := make([]float32, n*c.Hidden)
	for i := range x {
		x[i] = 0.1 * float32(i%5+1)
	}
	for i := range c.Hidden {
		w[i] = 5
	}
	tp := nn.NewTape(tensor.CPU())
	xv := nn.Leaf(tensor.FromF32(x, n, c.Hidden))
	tp.Backward(tp.Sum(blk.moe(tp, xv)))
	require.NotNil(t, blk.Weights.Experts[0].Down.W.Grad)
	for _, e := range blk.Weights.Experts[1:] {
		require.Nil(t, e.Down.W.Grad)
	}
	require.NotNil(t, blk.Weights.Router.W.Grad)
}

func TestMoEValidate(t *testing.T) {
	for _, m := range []MoE{
		{Experts: 4, TopK: 5, Intermediate: 2},
		{Experts: 0, TopK: 1, Intermediate: 2},
		{Experts: 4, TopK: 2, Intermediate: 2, Renormalize: true, ExpertBias: true},
	} {
		require.Error(t, moeConfig(m).Validate())
	}
	c := moeConfig(MoE{Experts: 4, TopK: 2, Intermediate: 2})
	c.MLP = GeGLU
	require.Error(t, c.Validate())
}

func TestRoute(t *testing.T) {
	r := Route([]float32{0.1, 0.4, 0.2, 0.3, 0.25, 0.25, 0.25, 0.25}, 2, 4, 2)
	require.Equal(t, []int{1, 3, 0, 1}, r.Experts)
}
