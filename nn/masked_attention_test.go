package nn

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dllmgo/dllm/tensor"
)

// refMaskedAttention is MaskedAttention in float64, written straight from
// its formula: per sequence b and query head h, softmax over keys of
// scale·q·k + bias, times the values.
func refMaskedAttention(qkv []float32, allow []bool, r, batch, seq, nh, nkv, d int, scale float64) []float64 {
	slots := nh + 2*nkv
	at := func(b, s, slot, i int) float64 { return float64(qkv[((b*seq+s)*slots+slot)*d+i]) }
	out := make([]float64, batch*seq*nh*d)
	for b := range batch {
		pat := allow[:seq*seq]
		if r > 1 {
			pat = allow[b*seq*seq:][:seq*seq]
		}
		for h := range nh {
			g := h / (nh / nkv)
			for q := range seq {
				w := make([]float64, seq)
				m := math.Inf(-1)
				for k := range seq {
					if !pat[q*seq+k] {
						continue
					}
					dot := 0.0
					for i := range d {
						dot += at(b, q, h, i) * at(b, k, nh+g, i)
					}
					w[k] = dot * scale
					m = math.Max(m, w[k])
				}
				z := 0.0
				for k := range seq {
					if pat[q*seq+k] {
						w[k] = math.Exp(w[k] - m)
						z += w[k]
					} else {
						w[k] = 0
					}
				}
				for k := range seq {
					for i := range d {
						out[((b*seq+q)*nh+h)*d+i] += w[k] / z * at(b, k, nh+nkv+g, i)
					}
				}
			}
		}
	}
	return out
}

// biasOf turns an allow pattern into MaskedAttention's additive bias.
func biasOf(allow []bool, r, seq int) *tensor.Tensor {
	b := make([]float32, len(allow))
	for i, ok := range allow {
		if !ok {
			b[i] = MaskedScore
		}
	}
	return tensor.FromF32(b, r, seq, seq)
}

func TestMaskedAttention(t *testing.T) {
	cases := []struct {
		name                   string
		batch, seq, nh, nkv, d int
		shared                 bool
	}{
		{"shared pattern", 2, 6, 2, 2, 4, true},
		{"pattern per row", 3, 5, 2, 2, 2, false},
		{"grouped KV heads", 2, 4, 4, 2, 2, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(7, uint64(c.seq)))
			r := c.batch
			if c.shared {
				r = 1
			}
			// A random pattern in which every query sees at least itself.
			allow := make([]bool, r*c.seq*c.seq)
			for i := range allow {
				allow[i] = rng.Float64() < 0.5 || (i/c.seq)%c.seq == i%c.seq
			}
			slots := c.nh + 2*c.nkv
			x := make([]float32, c.batch*c.seq*slots*c.d)
			for i := range x {
				x[i] = float32(rng.NormFloat64())
			}
			p := tensor.AttentionParams{Heads: c.nh, KVHeads: c.nkv, Scale: 0.7}
			bias := biasOf(allow, r, c.seq)
			qkv := Leaf(tensor.FromF32(append([]float32(nil), x...), c.batch*c.seq, slots, c.d))
			got := NoGrad(tensor.CPU()).MaskedAttention(qkv, bias, c.batch, c.seq, p).Value.F32()
			want := refMaskedAttention(x, allow, r, c.batch, c.seq, c.nh, c.nkv, c.d, 0.7)
			require.Len(t, got, len(want))
			for i := range want {
				require.InDelta(t, want[i], float64(got[i]), 1e-5, "output %d", i)
			}
			require.NoError(t, GradCheck([]*Var{qkv}, func(tp *Tape) *Var {
				return tp.MaskedAttention(qkv, bias, c.batch, c.seq, p)
			}, 1e-2, 2e-2, 3))
		})
	}
}

// With a pattern that lets every query see every key, MaskedAttention is the
// fused Attention.
func TestMaskedAttentionMatchesFused(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	batch, seq, nh, d := 2, 5, 2, 4
	x := make([]float32, batch*seq*3*nh*d)
	for i := range x {
		x[i] = float32(rng.NormFloat64())
	}
	p := tensor.AttentionParams{Heads: nh, Scale: 0.5}
	qkv := Constant(tensor.FromF32(x, batch, seq, 3, nh, d))
	tp := NoGrad(tensor.CPU())
	want := tp.Attention(qkv, nil, p).Value.F32()
	got := tp.MaskedAttention(qkv, tensor.FromF32(make([]float32, seq*seq), 1, seq, seq), batch, seq, p).Value.F32()
	require.InDeltaSlice(t, want, got, 1e-5)
}
