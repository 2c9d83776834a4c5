package lladamoe

import (
	"math"
	"math/rand/v2"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dllmgo/dllm/internal/fixture"
	"github.com/dllmgo/dllm/lm"
	"github.com/dllmgo/dllm/mdlm"
	"github.com/dllmgo/dllm/nn"
	"github.com/dllmgo/dllm/tensor"
)

// The float64 reference below is written from the formulas of LLaDA.md §6
// and §7 (and Qwen3-MoE's, which RND1 is), not from this package's code: it
// is RND1's fixture, and a second check of LLaDA-MoE on shapes the
// reference fixture has not.

type ref struct {
	m *Model
	p map[string][]float64
}

func newRef(m *Model) ref {
	r := ref{m: m, p: map[string][]float64{}}
	for _, p := range m.Params() {
		v := p.Value.ToCPU().F32()
		f := make([]float64, len(v))
		for i, x := range v {
			f[i] = float64(x)
		}
		r.p[p.Name] = f
	}
	return r
}

// linear is x·Wᵀ (+ b) for W [out, in] named name.
func (r ref) linear(x []float64, name string, out int) []float64 {
	w := r.p[name+".weight"]
	in := len(w) / out
	y := make([]float64, out)
	for o := range out {
		for k := range in {
			y[o] += x[k] * w[o*in+k]
		}
		if b, ok := r.p[name+".bias"]; ok {
			y[o] += b[o]
		}
	}
	return y
}

func (r ref) rms(x []float64, name string) []float64 {
	w := r.p[name+".weight"]
	var ms float64
	for _, v := range x {
		ms += v * v
	}
	s := 1 / math.Sqrt(ms/float64(len(x))+r.m.Config.RMSNormEps)
	y := make([]float64, len(x))
	for i, v := range x {
		y[i] = v * s * w[i]
	}
	return y
}

func silu(x float64) float64 { return x / (1 + math.Exp(-x)) }

func (r ref) swiglu(x []float64, pre string, width int) []float64 {
	g, u := r.linear(x, pre+"gate_proj", width), r.linear(x, pre+"up_proj", width)
	for i := range g {
		g[i] = silu(g[i]) * u[i]
	}
	return r.linear(g, pre+"down_proj", len(x))
}

// rope turns the first rot coordinates of a head at position pos
// (rotate-half, inverse frequencies θ^(−2i/rot)).
func rope(x []float64, pos int, rot int, theta float64) {
	half := rot / 2
	for i := range half {
		a := float64(pos) * math.Pow(theta, -2*float64(i)/float64(rot))
		c, s := math.Cos(a), math.Sin(a)
		x0, x1 := x[i], x[i+half]
		x[i], x[i+half] = x0*c-x1*s, x1*c+x0*s
	}
}

// forward returns the logits [B·S·V] and the last hidden state [B·S·H].
func (r ref) forward(ids, mask []int32, bsz, seq int) (logits, hidden []float64) {
	c := r.m.Config
	h, d, nh, nkv := c.HiddenSize, c.HeadDim(), c.NumAttentionHeads, c.KVHeads()
	n := bsz * seq
	emb := r.p["model.embed_tokens.weight"]
	x := make([][]float64, n)
	for i, id := range ids {
		x[i] = append([]float64(nil), emb[int(id)*h:(int(id)+1)*h]...)
	}
	for l := range c.NumHiddenLayers {
		pre := "model.layers." + itoa(l) + "."
		q := make([][]float64, n)
		k := make([][]float64, n)
		v := make([][]float64, n)
		for i := range n {
			a := r.rms(x[i], pre+"input_layernorm")
			q[i] = r.linear(a, pre+"self_attn.q_proj", nh*d)
			k[i] = r.linear(a, pre+"self_attn.k_proj", nkv*d)
			v[i] = r.linear(a, pre+"self_attn.v_proj", nkv*d)
			pos := i % seq
			for hd := range nh {
				head := q[i][hd*d : (hd+1)*d]
				if c.QKNorm() {
					copy(head, r.rms(head, pre+"self_attn.q_norm"))
				}
				rope(head, pos, c.RotaryDim(), c.RopeTheta)
			}
			for hd := range nkv {
				head := k[i][hd*d : (hd+1)*d]
				if c.QKNorm() {
					copy(head, r.rms(head, pre+"self_attn.k_norm"))
				}
				rope(head, pos, c.RotaryDim(), c.RopeTheta)
			}
		}
		for i := range n {
			b := i / seq
			att := make([]float64, nh*d)
			for hd := range nh {
				kh := hd / (nh / nkv)
				scores := make([]float64, seq)
				mx := math.Inf(-1)
				for j := range seq {
					if mask != nil && mask[b*seq+j] == 0 {
						scores[j] = math.Inf(-1)
						continue
					}
					var s float64
					for t := range d {
						s += q[i][hd*d+t] * k[b*seq+j][kh*d+t]
					}
					scores[j] = s / math.Sqrt(float64(d))
					mx = math.Max(mx, scores[j])
				}
				var z float64
				for j := range scores {
					scores[j] = math.Exp(scores[j] - mx)
					z += scores[j]
				}
				for j := range seq {
					for t := range d {
						att[hd*d+t] += scores[j] / z * v[b*seq+j][kh*d+t]
					}
				}
			}
			o := r.linear(att, pre+"self_attn.o_proj", h)
			for t := range h {
				x[i][t] += o[t]
			}
		}
		for i := range n {
			a := r.rms(x[i], pre+"post_attention_layernorm")
			var y []float64
			if c.IsMoE(l) {
				y = r.moe(a, pre)
			} else {
				y = r.swiglu(a, pre+"mlp.", c.DenseWidth())
			}
			for t := range h {
				x[i][t] += y[t]
			}
		}
	}
	for i := range n {
		z := r.rms(x[i], "model.norm")
		hidden = append(hidden, z...)
		head := "lm_head"
		if c.TieWordEmbeddings {
			head = "model.embed_tokens"
		}
		logits = append(logits, r.linear(z, head, c.VocabSize)...)
	}
	return logits, hidden
}

func (r ref) moe(a []float64, pre string) []float64 {
	c := r.m.Config
	lg := r.linear(a, pre+"mlp.gate", c.NumExperts)
	mx := math.Inf(-1)
	for _, v := range lg {
		mx = math.Max(mx, v)
	}
	p := make([]float64, len(lg))
	var z float64
	for e, v := range lg {
		p[e] = math.Exp(v - mx)
		z += p[e]
	}
	for e := range p {
		p[e] /= z
		if b, ok := r.p[pre+expertBiasName]; ok {
			p[e] += b[e]
		}
	}
	order := make([]int, len(p))
	for e := range order {
		order[e] = e
	}
	sort.SliceStable(order, func(i, j int) bool { return p[order[i]] > p[order[j]] })
	top := order[:c.NumExpertsPerTok]
	var sum float64
	for _, e := range top {
		sum += p[e]
	}
	y := make([]float64, len(a))
	for _, e := range top {
		w := p[e]
		if c.Variant == RND1 && c.NormTopKProb {
			w /= sum
		}
		ye := r.swiglu(a, pre+"mlp.experts."+itoa(e)+".", c.ExpertWidth())
		for t := range y {
			y[t] += w * ye[t]
		}
	}
	if c.SharedWidth() > 0 {
		ys := r.swiglu(a, pre+"shared_expert.", c.SharedWidth())
		for t := range y {
			y[t] += ys[t]
		}
	}
	return y
}

func itoa(i int) string { return strconv.Itoa(i) }

// rnd1Config is a small RND1: head_dim 12 apart from hidden/heads (32/4),
// partial rotary 0.5, 6 heads on 2, 6 experts top 3 renormalised, every
// layer a mixture but layer 1 (mlp_only_layers), untied head.
func rnd1Config() Config {
	c := rnd1Shape(32, 6, 2, 12, 3, 6, 3, 16, 64)
	c.PartialRotaryFactor = ptr(0.5)
	c.MLPOnlyLayers = []int{1}
	c.IntermediateSize = 40
	c.VocabSize = 50
	c.PadTokenID, c.MaskTokenID, c.EOSTokenID = ptr(49), ptr(48), ptr(47)
	return c
}

// lladaMoEConfig is LLaDA-MoE unlike the fixture: MoE, MoE, dense, 6
// experts top 3, tied head, no shared expert, attention bias, multi-head.
func lladaMoEConfig() Config {
	c := lladaMoEShape(32, 4, 4, []int{1, 1, 0}, 48, 6, 3, 16, 0, 64)
	c.SharedExpertIntermediateSize = nil
	c.TieWordEmbeddings, c.AttentionBias = true, true
	c.NormTopKProb = true // ignored: LLaDA-MoE never renormalises
	c.VocabSize = 50
	c.PadTokenID, c.MaskTokenID, c.EOSTokenID = ptr(49), ptr(48), ptr(47)
	return c
}

func randomModel(t *testing.T, c Config, seed uint64) *Model {
	t.Helper()
	require.NoError(t, c.Validate())
	m := New(c, tensor.CPU())
	rng := rand.New(rand.NewPCG(seed, 1))
	for _, p := range m.Params() {
		v := p.Value.F32()
		for i := range v {
			v[i] = float32(rng.NormFloat64() * 0.3)
			if strings.HasSuffix(p.Name, "norm.weight") {
				v[i] += 1
			}
		}
	}
	return m
}

func TestMatchesFloat64Reference(t *testing.T) {
	for _, tc := range []struct {
		name string
		c    Config
	}{
		{"RND1: renormalised, head_dim 12, partial rotary, a dense layer", rnd1Config()},
		{"LLaDA-MoE: tied, attention bias, no shared expert, norm_topk_prob ignored", lladaMoEConfig()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := randomModel(t, tc.c, 9)
			rng := rand.New(rand.NewPCG(4, 5))
			const bsz, seq = 2, 7
			ids := make([]int32, bsz*seq)
			for i := range ids {
				ids[i] = int32(rng.IntN(tc.c.VocabSize))
			}
			mask := []int32{1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0}
			wantLogits, wantHidden := newRef(m).forward(ids, mask, bsz, seq)
			out := m.Forward(nn.NoGrad(tensor.CPU()), lm.Input{IDs: tensor.FromI32(ids, bsz, seq), KeyMask: tensor.FromI32(mask, bsz, seq)})
			keep := make([]bool, len(mask))
			for i, k := range mask {
				keep[i] = k == 1
			}
			le := fixture.RelErrRows(out.Logits.Value.F32(), f32(wantLogits), tc.c.VocabSize, keep)
			he := fixture.RelErrRows(out.Hidden.Value.F32(), f32(wantHidden), tc.c.HiddenSize, keep)
			t.Logf("relative error: logits %.2e, hidden %.2e", le, he)
			require.Less(t, le, 1e-5)
			require.Less(t, he, 1e-5)
		})
	}
}

func f32(v []float64) []float32 {
	out := make([]float32, len(v))
	for i, x := range v {
		out[i] = float32(x)
	}
	return out
}

// Gradients of a whole tiny model of each variant by finite differences
// (the inputs' routing is fixed: the step is small against the margins).
func TestModelGradients(t *testing.T) {
	if testing.Short() {
		t.Skip("finite differences of every parameter (about 4 s): runs without -short (make test)")
	}
	for _, tc := range []struct {
		c   Config
		moe string // a mixture layer
	}{{rnd1Config(), "layers.2."}, {lladaMoEConfig(), "layers.1."}} {
		c := tc.c
		t.Run(c.Variant.String(), func(t *testing.T) {
			m := randomModel(t, c, 3)
			ids := tensor.FromI32([]int32{3, 17, 8, 30, 2, 11}, 1, 6)
			var inputs []*nn.Var
			for _, p := range m.Params() {
				n := p.Name
				if strings.HasSuffix(n, tc.moe+"mlp.gate.weight") || strings.HasSuffix(n, "layers.0.self_attn.q_norm.weight") ||
					strings.HasSuffix(n, "layers.0.self_attn.k_norm.weight") || n == "model.norm.weight" ||
					strings.Contains(n, tc.moe+"mlp.experts.") && strings.HasSuffix(n, "down_proj.weight") {
					inputs = append(inputs, p.Var)
				}
			}
			// keep the experts that were chosen: the others get no gradient
			tp := nn.NewTape(tensor.CPU())
			tp.Backward(tp.Sum(m.Forward(tp, lm.Input{IDs: ids}).Logits))
			var used []*nn.Var
			experts := 0
			for _, v := range inputs {
				if v.Grad != nil && v.Value.Dim(0) == c.HiddenSize && v.Value.Rank() == 2 { // an expert's down_proj
					if experts++; experts > 1 {
						continue
					}
				}
				if v.Grad != nil {
					used = append(used, v)
				}
			}
			for _, p := range m.Params() {
				p.Grad = nil
			}
			require.Len(t, used, 5)
			require.NoError(t, nn.GradCheck(used, func(tp *nn.Tape) *nn.Var {
				return m.Forward(tp, lm.Input{IDs: ids}).Logits
			}, 1e-2, 3e-2, 1))
		})
	}
}

// RND1's logits are shifted: the MDLM objective asks for the row before
// each masked position (position 0 for itself); LLaDA-MoE's are not.
func TestShift(t *testing.T) {
	require.True(t, New(rnd1Config(), tensor.CPU()).Spec().ShiftLogits)
	require.False(t, New(lladaMoEConfig(), tensor.CPU()).Spec().ShiftLogits)
	require.Equal(t, []int32{0, 0, 4, 7, 7}, mdlm.ShiftRows([]int32{0, 1, 5, 7, 8}, 7))
}
