package a2d

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dllmgo/dllm/internal/decoder"
	"github.com/dllmgo/dllm/lm"
	"github.com/dllmgo/dllm/nn"
	"github.com/dllmgo/dllm/tensor"
)

// This file checks the A2D models against an independent float64
// reference of A2D.md §3 (transformers' Llama/Qwen2/Qwen3 forward without
// the causal mask), written with plain loops from the formulas: logits at
// the real positions to 1e-4 relative, and the gradient of the mean
// cross-entropy (no shift) against central differences of the reference's
// loss.

// refParams are float64 weights by checkpoint name.
type refParams map[string][]float64

// randomParams draws weights for every tensor the config implies: norms
// 1 ± 0.2, biases N(0, 0.2²), the rest N(0, 0.3²).
func randomParams(c Config, seed uint64) refParams {
	rng := rand.New(rand.NewPCG(seed, 7))
	ps := refParams{}
	for _, s := range Arch(c).ParamShapes() {
		n := 1
		for _, d := range s.Shape {
			n *= d
		}
		v := make([]float64, n)
		for i := range v {
			switch {
			case strings.HasSuffix(s.Name, "norm.weight"):
				v[i] = 1 + 0.2*(2*rng.Float64()-1)
			case strings.HasSuffix(s.Name, ".bias"):
				v[i] = 0.2 * rng.NormFloat64()
			default:
				v[i] = 0.3 * rng.NormFloat64()
			}
		}
		ps[s.Name] = v
	}
	return ps
}

// model is a Model on the CPU holding ps (as float32).
func (ps refParams) model(t *testing.T, c Config) *Model {
	t.Helper()
	require.NoError(t, Validate(c))
	m := New(c, tensor.CPU())
	for _, p := range m.Params() {
		v, ok := ps[p.Name]
		require.True(t, ok, p.Name)
		dst := p.Value.F32()
		require.Len(t, dst, len(v), p.Name)
		for i, x := range v {
			dst[i] = float32(x)
		}
	}
	return m
}

// invFreq is the rotary inverse frequencies of a head of size d, with
// Llama 3's scaling when the config asks for it.
func invFreq(c Config, d int) []float64 {
	inv := make([]float64, d/2)
	for j := range inv {
		inv[j] = math.Pow(c.RopeTheta, -float64(2*j)/float64(d))
	}
	if c.RopeScaling.Kind() != "llama3" {
		return inv
	}
	r := c.RopeScaling
	orig := float64(r.OriginalMaxPositionEmbeddings)
	loWL, hiWL := orig/r.LowFreqFactor, orig/r.HighFreqFactor
	for j, f := range inv {
		wl := 2 * math.Pi / f
		switch {
		case wl > loWL:
			inv[j] = f / r.Factor
		case wl < hiWL:
		default:
			smooth := (orig/wl - r.LowFreqFactor) / (r.HighFreqFactor - r.LowFreqFactor)
			inv[j] = (1-smooth)*f/r.Factor + smooth*f
		}
	}
	return inv
}

func rmsNorm(x, w []float64, eps float64) []float64 {
	s := 0.0
	for _, v := range x {
		s += v * v
	}
	r := 1 / math.Sqrt(s/float64(len(x))+eps)
	out := make([]float64, len(x))
	for i, v := range x {
		out[i] = v * r * w[i]
	}
	return out
}

// linear is x·Wᵀ + b for W [out, in] (b may be nil).
func linear(x, w, b []float64, out int) []float64 {
	in := len(x)
	y := make([]float64, out)
	for o := range out {
		s := 0.0
		for i := range in {
			s += x[i] * w[o*in+i]
		}
		if b != nil {
			s += b[o]
		}
		y[o] = s
	}
	return y
}

// refLogits is the reference forward pass: ids [B·S], keyMask (nil: all
// real), positions [B·S] (nil: 0..S−1). It returns [B·S][V].
func refLogits(c Config, ps refParams, ids, keyMask, positions []int32, bsz, seq int) [][]float64 {
	a := Arch(c)
	D, H, K, d, F, V := a.Hidden, a.Heads, a.KVHeads, a.HeadDim, a.Intermediate, a.Vocab
	n := bsz * seq
	x := make([][]float64, n)
	for i, id := range ids {
		x[i] = append([]float64(nil), ps["model.embed_tokens.weight"][int(id)*D:(int(id)+1)*D]...)
	}
	inv := invFreq(c, d)
	rope := func(v []float64, pos float64) {
		for t := range d / 2 {
			cs, sn := math.Cos(pos*inv[t]), math.Sin(pos*inv[t])
			a, b := v[t], v[t+d/2]
			v[t], v[t+d/2] = a*cs-b*sn, b*cs+a*sn
		}
	}
	bias := func(name string) []float64 { return ps[name] } // nil when absent
	for l := range a.Layers {
		p := fmt.Sprintf("model.layers.%d.", l)
		q, k, v := make([][]float64, n), make([][]float64, n), make([][]float64, n)
		for i := range n {
			h := rmsNorm(x[i], ps[p+"input_layernorm.weight"], a.Eps)
			q[i] = linear(h, ps[p+"self_attn.q_proj.weight"], bias(p+"self_attn.q_proj.bias"), H*d)
			k[i] = linear(h, ps[p+"self_attn.k_proj.weight"], bias(p+"self_attn.k_proj.bias"), K*d)
			v[i] = linear(h, ps[p+"self_attn.v_proj.weight"], bias(p+"self_attn.v_proj.bias"), K*d)
			pos := float64(i % seq)
			if positions != nil {
				pos = float64(positions[i])
			}
			for hd := range H {
				head := q[i][hd*d : (hd+1)*d]
				if a.QKNorm {
					copy(head, rmsNorm(head, ps[p+"self_attn.q_norm.weight"], a.Eps))
				}
				rope(head, pos)
			}
			for hd := range K {
				head := k[i][hd*d : (hd+1)*d]
				if a.QKNorm {
					copy(head, rmsNorm(head, ps[p+"self_attn.k_norm.weight"], a.Eps))
				}
				rope(head, pos)
			}
		}
		for i := range n {
			b := i / seq
			att := make([]float64, H*d)
			for hd := range H {
				g := hd / (H / K)
				var scores []float64
				var keys []int
				for j := b * seq; j < (b+1)*seq; j++ {
					if keyMask != nil && keyMask[j] == 0 {
						continue
					}
					s := 0.0
					for t := range d {
						s += q[i][hd*d+t] * k[j][g*d+t]
					}
					scores, keys = append(scores, s/math.Sqrt(float64(d))), append(keys, j)
				}
				m := math.Inf(-1)
				for _, s := range scores {
					m = math.Max(m, s)
				}
				z := 0.0
				for si := range scores {
					scores[si] = math.Exp(scores[si] - m)
					z += scores[si]
				}
				for si, j := range keys {
					for t := range d {
						att[hd*d+t] += scores[si] / z * v[j][g*d+t]
					}
				}
			}
			o := linear(att, ps[p+"self_attn.o_proj.weight"], bias(p+"self_attn.o_proj.bias"), D)
			for t := range D {
				x[i][t] += o[t]
			}
			h := rmsNorm(x[i], ps[p+"post_attention_layernorm.weight"], a.Eps)
			gate := linear(h, ps[p+"mlp.gate_proj.weight"], bias(p+"mlp.gate_proj.bias"), F)
			up := linear(h, ps[p+"mlp.up_proj.weight"], bias(p+"mlp.up_proj.bias"), F)
			for t := range F {
				gate[t] = gate[t] / (1 + math.Exp(-gate[t])) * up[t]
			}
			down := linear(gate, ps[p+"mlp.down_proj.weight"], bias(p+"mlp.down_proj.bias"), D)
			for t := range D {
				x[i][t] += down[t]
			}
		}
	}
	head := ps["lm_head.weight"]
	if a.Tied {
		head = ps["model.embed_tokens.weight"]
	}
	out := make([][]float64, n)
	for i := range n {
		out[i] = linear(rmsNorm(x[i], ps["model.norm.weight"], a.Eps), head, nil, V)
	}
	return out
}

// refLoss is the mean cross-entropy of the logits at the labelled
// positions (label ≥ 0) against their labels, unshifted.
func refLoss(logits [][]float64, labels []int32) float64 {
	sum, count := 0.0, 0
	for i, l := range labels {
		if l < 0 {
			continue
		}
		m := math.Inf(-1)
		for _, v := range logits[i] {
			m = math.Max(m, v)
		}
		z := 0.0
		for _, v := range logits[i] {
			z += math.Exp(v - m)
		}
		sum += m + math.Log(z) - logits[i][l]
		count++
	}
	return sum / float64(count)
}

// refCase is one configuration and batch.
type refCase struct {
	name       string
	cfg        Config
	bsz, seq   int
	lengths    []int // real tokens per row
	leftPad    bool  // padding before the real tokens, positions from 0 at the first real token
	gradChecks []string
}

func refCases() []refCase {
	qwen3Cfg := qwen3(32, 4, 2, 12, 2, 40, 64) // head size 12 ≠ 32/4, tied
	qwen3Cfg.VocabSize, qwen3Cfg.MaskTokenID, qwen3Cfg.EOSTokenID = 50, ptr(49), decoder.TokenIDs{3}
	qwen3Cfg.RopeTheta, qwen3Cfg.RMSNormEps = 10000, 1e-5

	llamaCfg := defaults(Llama)
	llamaCfg.VocabSize, llamaCfg.HiddenSize, llamaCfg.IntermediateSize, llamaCfg.NumHiddenLayers = 40, 32, 48, 2
	llamaCfg.NumAttentionHeads, llamaCfg.NumKeyValueHeads = 4, ptr(1)
	llamaCfg.AttentionBias, llamaCfg.MLPBias = ptr(true), ptr(true)
	llamaCfg.RopeTheta, llamaCfg.MaxPositionEmbeddings = 10000, 256
	// head size 8: wavelengths 6.3, 63, 628, 6283 against the bounds 16 and
	// 64, so one pair is kept, one smoothed and two divided by the factor.
	llamaCfg.RopeScaling = &decoder.RopeConfig{RopeType: "llama3", Factor: 8, LowFreqFactor: 1, HighFreqFactor: 4, OriginalMaxPositionEmbeddings: 64}

	qwen2Cfg := defaults(Qwen2)
	qwen2Cfg.VocabSize, qwen2Cfg.HiddenSize, qwen2Cfg.IntermediateSize, qwen2Cfg.NumHiddenLayers = 45, 24, 36, 2
	qwen2Cfg.NumAttentionHeads, qwen2Cfg.NumKeyValueHeads = 3, ptr(3)
	qwen2Cfg.RopeTheta, qwen2Cfg.RMSNormEps, qwen2Cfg.PadTokenID = 1e6, 1e-6, ptr(2)

	return []refCase{
		{name: "qwen3 GQA, head_dim 12, q/k norms, tied", cfg: qwen3Cfg, bsz: 2, seq: 7, lengths: []int{7, 5},
			gradChecks: []string{"model.embed_tokens.weight", "model.layers.0.self_attn.q_norm.weight", "model.layers.1.self_attn.k_norm.weight", "model.layers.0.self_attn.k_proj.weight", "model.layers.1.mlp.gate_proj.weight"}},
		{name: "llama one KV head, biases, llama3 rope scaling", cfg: llamaCfg, bsz: 1, seq: 9, lengths: []int{9},
			gradChecks: []string{"model.layers.0.self_attn.o_proj.bias", "model.layers.1.mlp.down_proj.bias", "model.layers.0.self_attn.q_proj.weight", "lm_head.weight"}},
		{name: "qwen2 left padding with position ids, pad row", cfg: qwen2Cfg, bsz: 2, seq: 8, lengths: []int{8, 5}, leftPad: true,
			gradChecks: []string{"model.layers.0.self_attn.v_proj.bias", "model.layers.1.self_attn.q_proj.bias", "model.norm.weight", "model.embed_tokens.weight"}},
	}
}

// batch draws ids, key mask, positions (nil unless left-padded) and labels
// (about half of the real positions) for a case.
func (rc refCase) batch(seed uint64) (ids, mask, pos, labels []int32) {
	rng := rand.New(rand.NewPCG(seed, 11))
	for _, l := range rc.lengths {
		for s := range rc.seq {
			real := s < l
			if rc.leftPad {
				real = s >= rc.seq-l
			}
			if !real {
				ids, mask, labels = append(ids, 0), append(mask, 0), append(labels, -100)
				pos = append(pos, 1)
				continue
			}
			ids, mask = append(ids, int32(rng.IntN(rc.cfg.VocabSize))), append(mask, 1)
			p := int32(s)
			if rc.leftPad {
				p = int32(s - (rc.seq - l))
			}
			pos = append(pos, p)
			if rng.IntN(2) == 0 {
				labels = append(labels, int32(rng.IntN(rc.cfg.VocabSize)))
			} else {
				labels = append(labels, -100)
			}
		}
	}
	if !rc.leftPad {
		pos = nil
		if scaled := rc.cfg.RopeScaling.Kind() == "llama3"; scaled {
			// positions far apart, so that the scaled frequencies matter
			for i := range ids {
				pos = append(pos, int32(i*13%200))
			}
		}
	}
	return ids, mask, pos, labels
}

func TestAgainstReference(t *testing.T) {
	for ci, rc := range refCases() {
		t.Run(rc.name, func(t *testing.T) {
			ps := randomParams(rc.cfg, uint64(ci+1))
			m := ps.model(t, rc.cfg)
			ids, mask, pos, labels := rc.batch(uint64(ci + 5))
			if pad := rc.cfg.PadTokenID; pad != nil { // the padding_idx row is read but gets no gradient (untied)
				ids[0], ids[1] = int32(*pad+1), int32(*pad)
			}
			n := rc.bsz * rc.seq
			count := 0
			for _, l := range labels {
				if l >= 0 {
					count++
				}
			}
			require.Positive(t, count)
			tp := nn.NewTape(tensor.CPU())
			in := lm.Input{IDs: tensor.FromI32(ids, rc.bsz, rc.seq), KeyMask: tensor.FromI32(mask, rc.bsz, rc.seq)}
			if pos != nil {
				in.Positions = tensor.FromI32(pos, n)
			}
			out := m.Forward(tp, in)
			w := make([]float32, n)
			for i := range w {
				w[i] = 1 / float32(count)
			}
			loss := tp.CrossEntropy(out.Logits, tensor.FromI32(labels, n), tensor.FromF32(w, n), -100)
			tp.Backward(loss)

			want := refLogits(rc.cfg, ps, ids, mask, pos, rc.bsz, rc.seq)
			got := out.Logits.Value.F32()
			V := m.VocabSize()
			var maxErr, maxAbs float64
			for i := range n {
				if mask[i] == 0 {
					continue
				}
				for j := range V {
					maxErr = math.Max(maxErr, math.Abs(float64(got[i*V+j])-want[i][j]))
					maxAbs = math.Max(maxAbs, math.Abs(want[i][j]))
				}
			}
			refL := refLoss(want, labels)
			t.Logf("logits relative error %.2e; loss %.7f vs %.7f", maxErr/maxAbs, loss.Value.F32()[0], refL)
			require.Less(t, maxErr/maxAbs, 1e-4)
			require.InDelta(t, refL, float64(loss.Value.F32()[0]), 1e-5)

			if pad := rc.cfg.PadTokenID; pad != nil {
				D := rc.cfg.HiddenSize
				row := m.Embed.Weight.Grad.F32()[*pad*D : (*pad+1)*D]
				require.Equal(t, make([]float32, D), row, "pad_token_id's row gets no gradient")
			}
			grads := map[string]*nn.Param{}
			for _, p := range m.Params() {
				grads[p.Name] = p
			}
			rng := rand.New(rand.NewPCG(uint64(ci), 3))
			for _, name := range rc.gradChecks {
				p, ok := grads[name]
				require.True(t, ok, name)
				require.NotNil(t, p.Grad, name)
				g := p.Grad.F32()
				gmax := 0.0
				for _, v := range g {
					gmax = math.Max(gmax, math.Abs(float64(v)))
				}
				require.Positive(t, gmax, name)
				for range 4 {
					k := rng.IntN(len(g))
					if name == "model.embed_tokens.weight" { // a row that is read
						k = int(ids[0])*rc.cfg.HiddenSize + rng.IntN(rc.cfg.HiddenSize)
					}
					orig := ps[name][k]
					const h = 1e-5
					ps[name][k] = orig + h
					up := refLoss(refLogits(rc.cfg, ps, ids, mask, pos, rc.bsz, rc.seq), labels)
					ps[name][k] = orig - h
					down := refLoss(refLogits(rc.cfg, ps, ids, mask, pos, rc.bsz, rc.seq), labels)
					ps[name][k] = orig
					fd := (up - down) / (2 * h)
					require.InDelta(t, fd, float64(g[k]), 1e-3*gmax, "%s[%d]", name, k)
				}
			}
		})
	}
}
