package transformer

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dllmgo/dllm/nn"
	"github.com/dllmgo/dllm/tensor"
)

// smallConfig is a ModernBERT-like block of width 8 with two heads of 4 and
// a GeGLU of 6.
func smallConfig() Config {
	return Config{Hidden: 8, Heads: 2, Intermediate: 6, Norm: LayerNorm, NormEps: 1e-5, MLP: GeGLU, Rotary: RotateQK}
}

// llamaConfig is smallConfig as Llama's blocks are: RMSNorm and SwiGLU.
func llamaConfig() Config {
	c := smallConfig()
	c.Norm, c.MLP, c.NormEps = RMSNorm, SwiGLU, 1e-6
	return c
}

// qwen3Config is a block with everything the Llama-style families add:
// grouped-query attention (4 query heads on 2 key/value heads), a head size
// of 6 that is not H/nh, separate q/k/v and gate/up tensors with a q/k/v
// bias, per-head q/k norms, and partial rotary over 4 of the 6 coordinates.
func qwen3Config() Config {
	c := llamaConfig()
	c.Heads, c.KVHeads, c.HeadSize, c.RotaryDim = 4, 2, 6, 4
	c.SeparateQKV, c.SeparateGateUp, c.QKNorm, c.QKVBias = true, true, true, true
	return c
}

// llama3Config is a Llama 3.1 block: GQA (2 heads on 1), separate tensors
// and its frequency scaling (whose band edges the small test positions and
// large theta reach).
func llama3Config() Config {
	c := llamaConfig()
	c.KVHeads, c.SeparateQKV, c.SeparateGateUp = 1, true, true
	c.RopeScaling = tensor.RoPELlama3{Factor: 8, LowFreqFactor: 1, HighFreqFactor: 4, OriginalMaxPositions: 64}
	return c
}

func TestConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(*Config)
		err  string // "" when valid
	}{
		{"ModernBERT's", func(*Config) {}, ""},
		{"with biases", func(c *Config) { c.QKVBias, c.OBias, c.MLPBias, c.NormBias = true, true, true, true }, ""},
		{"no width", func(c *Config) { c.Hidden = 0 }, "must be positive"},
		{"no MLP", func(c *Config) { c.Intermediate = 0 }, "must be positive"},
		{"heads do not divide", func(c *Config) { c.Heads = 3 }, "do not divide"},
		{"odd head", func(c *Config) { c.Heads = 8 }, "odd"},
		{"no eps", func(c *Config) { c.NormEps = 0 }, "eps"},
		{"RMSNorm and SwiGLU", func(c *Config) { *c = llamaConfig() }, ""},
		{"Gemma's RMSNorm", func(c *Config) { *c = llamaConfig(); c.NormWeightOffset = 1 }, ""},
		{"RMSNorm with bias", func(c *Config) { *c = llamaConfig(); c.NormBias = true }, "RMSNorm has no bias"},
		{"LayerNorm with an offset", func(c *Config) { c.NormWeightOffset = 1 }, "offset of 1 for LayerNorm"},
		{"unknown norm", func(c *Config) { c.Norm = NormKind(7) }, "unknown norm NormKind(7)"},
		{"unknown MLP", func(c *Config) { c.MLP = MLPKind(7) }, "unknown MLP MLPKind(7)"},
		{"unknown rotary", func(c *Config) { c.Rotary = RotaryLayout(7) }, "unknown rotary layout RotaryLayout(7)"},
		{"Qwen3's", func(c *Config) { *c = qwen3Config() }, ""},
		{"Llama 3's", func(c *Config) { *c = llama3Config() }, ""},
		{"head size free of the width", func(c *Config) { c.Heads, c.HeadSize = 3, 4 }, ""},
		{"kv heads do not divide", func(c *Config) { c.KVHeads = 3 }, "3 key/value heads do not divide the 2 query heads"},
		{"negative kv heads", func(c *Config) { c.KVHeads = -1 }, "negative"},
		{"odd rotary", func(c *Config) { c.RotaryDim = 3 }, "rotary size 3"},
		{"rotary beyond the head", func(c *Config) { c.RotaryDim = 6 }, "at most the head size 4"},
		{"q/k norm with LayerNorm", func(c *Config) { c.QKNorm = true }, "per-head q/k norms are RMSNorms"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := smallConfig()
			tc.edit(&c)
			err := c.Validate()
			if tc.err == "" {
				require.NoError(t, err)
			} else {
				require.ErrorContains(t, err, tc.err)
			}
		})
	}
}

// TestNewWeights: the parameters a config and a layer ask for, by name and
// shape, in Params order; biases only where the config asks for them.
func TestNewWeights(t *testing.T) {
	names := testNames
	type p struct {
		name  string
		shape []int
	}
	for _, tc := range []struct {
		name  string
		edit  func(*Config)
		layer Layer
		want  []p
	}{
		{"Llama's layer with q/k/v bias (Qwen2)", func(c *Config) { *c = llamaConfig(); c.QKVBias = true }, Layer{}, []p{
			{"an.weight", []int{8}}, {"qkv.weight", []int{24, 8}}, {"qkv.bias", []int{24}}, {"o.weight", []int{8, 8}},
			{"mn.weight", []int{8}}, {"up.weight", []int{12, 8}}, {"down.weight", []int{8, 6}},
		}},
		{"Qwen3's layer", func(c *Config) { *c = qwen3Config() }, Layer{}, []p{
			{"an.weight", []int{8}}, {"q.weight", []int{24, 8}}, {"q.bias", []int{24}}, {"k.weight", []int{12, 8}},
			{"k.bias", []int{12}}, {"v.weight", []int{12, 8}}, {"v.bias", []int{12}}, {"qn.weight", []int{6}},
			{"kn.weight", []int{6}}, {"o.weight", []int{8, 24}}, {"mn.weight", []int{8}}, {"gate.weight", []int{6, 8}},
			{"up.weight", []int{6, 8}}, {"down.weight", []int{8, 6}},
		}},
		{"packed GQA", func(c *Config) { *c = llamaConfig(); c.KVHeads = 1 }, Layer{}, []p{
			{"an.weight", []int{8}}, {"qkv.weight", []int{16, 8}}, {"o.weight", []int{8, 8}},
			{"mn.weight", []int{8}}, {"up.weight", []int{12, 8}}, {"down.weight", []int{8, 6}},
		}},
		{"first ModernBERT layer", func(*Config) {}, Layer{NoAttnNorm: true}, []p{
			{"qkv.weight", []int{24, 8}}, {"o.weight", []int{8, 8}}, {"mn.weight", []int{8}},
			{"up.weight", []int{12, 8}}, {"down.weight", []int{8, 6}},
		}},
		{"later ModernBERT layer", func(*Config) {}, Layer{}, []p{
			{"an.weight", []int{8}}, {"qkv.weight", []int{24, 8}}, {"o.weight", []int{8, 8}}, {"mn.weight", []int{8}},
			{"up.weight", []int{12, 8}}, {"down.weight", []int{8, 6}},
		}},
		{"q/k/v bias only", func(c *Config) { c.QKVBias = true }, Layer{NoAttnNorm: true}, []p{
			{"qkv.weight", []int{24, 8}}, {"qkv.bias", []int{24}}, {"o.weight", []int{8, 8}}, {"mn.weight", []int{8}},
			{"up.weight", []int{12, 8}}, {"down.weight", []int{8, 6}},
		}},
		{"every bias", func(c *Config) { c.QKVBias, c.OBias, c.MLPBias, c.NormBias = true, true, true, true }, Layer{}, []p{
			{"an.weight", []int{8}}, {"an.bias", []int{8}}, {"qkv.weight", []int{24, 8}}, {"qkv.bias", []int{24}},
			{"o.weight", []int{8, 8}}, {"o.bias", []int{8}}, {"mn.weight", []int{8}}, {"mn.bias", []int{8}},
			{"up.weight", []int{12, 8}}, {"up.bias", []int{12}}, {"down.weight", []int{8, 6}}, {"down.bias", []int{8}},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := smallConfig()
			tc.edit(&c)
			w := NewWeights(tensor.CPU(), c, tc.layer, names)
			require.Equal(t, tc.layer.NoAttnNorm, w.AttnNorm == nil)
			var got []p
			for _, q := range w.Params() {
				got = append(got, p{q.Name, q.Value.Shape()})
			}
			require.Equal(t, tc.want, got)
		})
	}
}

var testNames = Names{
	AttnNorm: "an", QKV: "qkv", O: "o", MLPNorm: "mn", Up: "up", Down: "down",
	Q: "q", K: "k", V: "v", QNorm: "qn", KNorm: "kn", Gate: "gate",
}

// randomBlock is a block of c with random weights and norms.
func randomBlock(c Config, l Layer, rng *rand.Rand) Block {
	w := NewWeights(tensor.CPU(), c, l, testNames)
	for _, p := range w.Params() {
		v := p.Value.F32()
		for i := range v {
			v[i] = float32(rng.NormFloat64() * 0.5)
			if p.Value.Rank() == 1 && p.Name[len(p.Name)-6:] == "weight" {
				v[i] += 1 // norm weights around one
			}
		}
	}
	return Block{Config: c, Layer: l, Weights: w}
}

func randomF32(rng *rand.Rand, n int) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(rng.NormFloat64())
	}
	return v
}

// blockCase is a batch of sequences through one block.
type blockCase struct {
	name       string
	batch, seq int
	layer      Layer
	lengths    []int // real tokens per sequence; nil: no key mask
	positions  bool  // explicit positions, shifted per row
}

var blockCases = []blockCase{
	{"global, first layer", 1, 7, Layer{Theta: 10000, NoAttnNorm: true}, nil, false},
	{"global", 2, 6, Layer{Theta: 160000}, nil, false},
	{"sliding window", 2, 9, Layer{Theta: 10000, Window: 4}, nil, false},
	{"padded batch", 3, 8, Layer{Theta: 10000, Window: 6}, []int{8, 5, 2}, false},
	{"left-padded positions", 2, 6, Layer{Theta: 10000}, nil, true},
}

func (bc blockCase) inputs(rng *rand.Rand, h int) (x []float32, pos []int32, mask []int32) {
	x = randomF32(rng, bc.batch*bc.seq*h)
	for b := range bc.batch {
		for s := range bc.seq {
			p := s
			if bc.positions {
				p = max(0, s-b) // sequence b starts b tokens late
			}
			pos = append(pos, int32(p))
			if bc.lengths != nil {
				mask = append(mask, int32(min(1, max(0, bc.lengths[b]-s))))
			}
		}
	}
	return x, pos, mask
}

// TestBlockForwardMatchesReference runs the block with FullAttention
// against the block written out in float64 from its definition (doc.go).
func TestBlockForwardMatchesReference(t *testing.T) {
	gemma := llamaConfig()
	gemma.NormWeightOffset = 1
	for _, cfg := range []struct {
		name string
		c    Config
	}{{"ModernBERT", smallConfig()}, {"Llama", llamaConfig()}, {"Gemma's norm", gemma},
		{"Qwen3", qwen3Config()}, {"Llama 3", llama3Config()}} {
		for _, bc := range blockCases {
			t.Run(cfg.name+"/"+bc.name, func(t *testing.T) { testBlockForward(t, cfg.c, bc) })
		}
	}
}

func testBlockForward(t *testing.T, c Config, bc blockCase) {
	rng := rand.New(rand.NewPCG(3, 4))
	blk := randomBlock(c, bc.layer, rng)
	x, pos, mask := bc.inputs(rng, c.Hidden)
	var maskT *tensor.Tensor
	if mask != nil {
		maskT = tensor.FromI32(mask, bc.batch, bc.seq)
	}
	n := bc.batch * bc.seq
	got := blk.Forward(nn.NoGrad(tensor.CPU()), nn.Constant(tensor.FromF32(x, n, c.Hidden)),
		tensor.FromI32(pos, n), FullAttention(maskT, bc.batch, bc.seq)).Value.F32()
	want := refBlock(blk, x, pos, mask, bc.batch, bc.seq)
	require.Less(t, relDiff(got, want), 1e-5)
}

// TestBlockGradients checks the block's backward pass, through every
// weight and the input, against finite differences.
func TestBlockGradients(t *testing.T) {
	bert := smallConfig()
	bert.QKVBias, bert.OBias, bert.MLPBias, bert.NormBias = true, true, true, true
	llama := llamaConfig()
	llama.QKVBias, llama.OBias, llama.MLPBias = true, true, true
	for _, tc := range []struct {
		name string
		c    Config
		bc   blockCase
	}{
		{"LayerNorm, GeGLU, padded batch, sliding window", bert, blockCases[3]},
		{"RMSNorm, SwiGLU, moved positions", llama, blockCases[4]},
		{"GQA, q/k norm, biases, partial rotary, padded batch", qwen3Config(), blockCases[3]},
	} {
		c, bc := tc.c, tc.bc
		t.Run(tc.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(5, 6))
			blk := randomBlock(c, bc.layer, rng)
			x, pos, mask := bc.inputs(rng, c.Hidden)
			var maskT *tensor.Tensor
			if mask != nil {
				maskT = tensor.FromI32(mask, bc.batch, bc.seq)
			}
			n := bc.batch * bc.seq
			xv := nn.Leaf(tensor.FromF32(x, n, c.Hidden))
			inputs := []*nn.Var{xv}
			for _, p := range blk.Weights.Params() {
				inputs = append(inputs, p.Var)
			}
			require.NoError(t, nn.GradCheck(inputs, func(tp *nn.Tape) *nn.Var {
				return blk.Forward(tp, xv, tensor.FromI32(pos, n), FullAttention(maskT, bc.batch, bc.seq))
			}, 1e-2, 2e-2, 7))
		})
	}
}

func relDiff(got []float32, want []float64) float64 {
	var d, a float64
	for i := range want {
		d = math.Max(d, math.Abs(float64(got[i])-want[i]))
		a = math.Max(a, math.Abs(want[i]))
	}
	return d / a
}

// refBlock is the block in float64: x [N·H] at positions pos, key mask as
// FullAttention takes it.
func refBlock(blk Block, x []float32, pos, mask []int32, batch, seq int) []float64 {
	c, w := blk.Config, blk.Weights
	nh, nkv, d, n := c.Heads, c.KV(), c.HeadDim(), batch*seq
	h := c.Hidden
	xs := make([][]float64, n)
	for i := range xs {
		xs[i] = f64(x[i*h : (i+1)*h])
	}
	a := xs
	if !blk.Layer.NoAttnNorm {
		a = refNormOf(xs, w.AttnNorm)
	}
	var qkv [][]float64
	if c.SeparateQKV {
		qkv = refCat(refLinear(a, w.Q), refLinear(a, w.K), refLinear(a, w.V))
	} else {
		qkv = refLinear(a, w.QKV)
	}
	if c.QKNorm { // each query head by QNorm, each key head by KNorm
		for _, row := range qkv {
			for head := range nh + nkv {
				norm := w.QNorm
				if head >= nh {
					norm = w.KNorm
				}
				copy(row[head*d:(head+1)*d], refNormOf([][]float64{row[head*d : (head+1)*d]}, norm)[0])
			}
		}
	}
	r := d // the rotated prefix of each head
	if c.RotaryDim > 0 {
		r = c.RotaryDim
	}
	inv := make([]float64, r/2)
	for k := range inv {
		inv[k] = math.Pow(blk.Layer.Theta, -2*float64(k)/float64(r))
	}
	if c.RopeScaling.Factor != 0 { // the scaled table is the tensor package's (tested there)
		inv = f64(tensor.RoPEParams{Theta: blk.Layer.Theta, RotaryDim: c.RotaryDim, Llama3: c.RopeScaling}.InvFreq(d))
	}
	for i, row := range qkv {
		for head := range nh + nkv {
			v := row[head*d : (head+1)*d]
			for k := range r / 2 {
				phi := float64(pos[i]) * inv[k]
				cs, sn := math.Cos(phi), math.Sin(phi)
				v[k], v[k+r/2] = v[k]*cs-v[k+r/2]*sn, v[k+r/2]*cs+v[k]*sn
			}
		}
	}
	att := make([][]float64, n)
	for i := range att {
		att[i] = make([]float64, nh*d)
	}
	p := blk.AttentionParams()
	for b := range batch {
		for head := range nh {
			kh := nh + head*nkv/nh       // its key head in the packed row
			vh := nh + nkv + head*nkv/nh // and its value head
			for i := range seq {
				q := qkv[b*seq+i][head*d : (head+1)*d]
				var js []int
				var scores []float64
				for j := range seq {
					if !p.Visible(i, j) || (mask != nil && mask[b*seq+j] == 0) {
						continue
					}
					k := qkv[b*seq+j][kh*d : (kh+1)*d]
					s := 0.0
					for e := range q {
						s += q[e] * k[e]
					}
					js, scores = append(js, j), append(scores, s/math.Sqrt(float64(d)))
				}
				if len(scores) == 0 {
					continue
				}
				mx, sum := slices.Max(scores), 0.0
				for k := range scores {
					scores[k] = math.Exp(scores[k] - mx)
					sum += scores[k]
				}
				out := att[b*seq+i][head*d : (head+1)*d]
				for k, j := range js {
					v := qkv[b*seq+j][vh*d : (vh+1)*d]
					for e := range out {
						out[e] += scores[k] / sum * v[e]
					}
				}
			}
		}
	}
	xs = refAdd(xs, refLinear(att, w.O))
	mn := refNormOf(xs, w.MLPNorm)
	var up [][]float64
	if c.SeparateGateUp {
		up = refCat(refLinear(mn, w.Gate), refLinear(mn, w.Up))
	} else {
		up = refLinear(mn, w.Up)
	}
	inter := c.Intermediate
	g := make([][]float64, n)
	for i, row := range up {
		g[i] = make([]float64, inter)
		for k := range inter {
			a, b := row[k], row[inter+k]
			switch c.MLP {
			case GeGLU: // GELU(first half) ⊙ second half
				g[i][k] = 0.5 * a * (1 + math.Erf(a/math.Sqrt2)) * b
			case SwiGLU: // SiLU(gate, the first half) ⊙ up
				g[i][k] = a / (1 + math.Exp(-a)) * b
			}
		}
	}
	xs = refAdd(xs, refLinear(g, w.Down))
	var out []float64
	for _, row := range xs {
		out = append(out, row...)
	}
	return out
}

func f64(v []float32) []float64 {
	out := make([]float64, len(v))
	for i, x := range v {
		out[i] = float64(x)
	}
	return out
}

func refLinear(x [][]float64, l *nn.Linear) [][]float64 {
	w := f64(l.W.Value.F32())
	out, in := l.W.Value.Dim(0), l.W.Value.Dim(1)
	var bias []float64
	if l.B != nil {
		bias = f64(l.B.Value.F32())
	}
	y := make([][]float64, len(x))
	for i, row := range x {
		y[i] = make([]float64, out)
		for o := range out {
			for k := range in {
				y[i][o] += row[k] * w[o*in+k]
			}
			if bias != nil {
				y[i][o] += bias[o]
			}
		}
	}
	return y
}

// refNormOf is the norm of either kind.
func refNormOf(x [][]float64, n Norm) [][]float64 {
	switch n := n.(type) {
	case *nn.LayerNorm:
		return refNorm(x, n)
	case *nn.RMSNorm:
		gamma := f64(n.Weight.Value.F32())
		y := make([][]float64, len(x))
		for i, row := range x {
			sq := 0.0
			for _, v := range row {
				sq += v * v
			}
			r := 1 / math.Sqrt(sq/float64(len(row))+float64(n.Eps))
			y[i] = make([]float64, len(row))
			for k, v := range row {
				y[i][k] = v * r * (gamma[k] + float64(n.WeightOffset))
			}
		}
		return y
	}
	panic("unknown norm")
}

func refNorm(x [][]float64, ln *nn.LayerNorm) [][]float64 {
	gamma := f64(ln.Weight.Value.F32())
	var beta []float64
	if ln.Bias != nil {
		beta = f64(ln.Bias.Value.F32())
	}
	y := make([][]float64, len(x))
	for i, row := range x {
		mean, sq := 0.0, 0.0
		for _, v := range row {
			mean += v
		}
		mean /= float64(len(row))
		for _, v := range row {
			sq += (v - mean) * (v - mean)
		}
		r := 1 / math.Sqrt(sq/float64(len(row))+float64(ln.Eps))
		y[i] = make([]float64, len(row))
		for k, v := range row {
			y[i][k] = (v - mean) * r * gamma[k]
			if beta != nil {
				y[i][k] += beta[k]
			}
		}
	}
	return y
}

// refCat puts the rows of its arguments side by side.
func refCat(parts ...[][]float64) [][]float64 {
	out := make([][]float64, len(parts[0]))
	for i := range out {
		for _, p := range parts {
			out[i] = append(out[i], p[i]...)
		}
	}
	return out
}

func refAdd(a, b [][]float64) [][]float64 {
	out := make([][]float64, len(a))
	for i := range a {
		out[i] = make([]float64, len(a[i]))
		for k := range a[i] {
			out[i][k] = a[i][k] + b[i][k]
		}
	}
	return out
}

// TestStackedViews: NewWeights makes separate q/k/v and gate/up weights as
// views of one packed tensor (writing a view writes the stack); Linears
// replaced by hand are stacked by copying, with the same result.
func TestStackedViews(t *testing.T) {
	c := qwen3Config()
	rng := rand.New(rand.NewPCG(30, 31))
	blk := randomBlock(c, Layer{Theta: 10000}, rng)
	w := blk.Weights
	require.True(t, w.qkvStack.holds([]*nn.Linear{w.Q, w.K, w.V}))
	require.Equal(t, w.K.W.Value.F32(), w.qkvStack.w.F32()[24*8:36*8], "K's rows follow Q's")
	require.Equal(t, w.Up.W.Value.F32(), w.gateUpStack.w.F32()[6*8:], "up's rows follow the gate's")

	bc := blockCases[3]
	x, pos, mask := bc.inputs(rng, c.Hidden)
	n := bc.batch * bc.seq
	run := func(b Block) []float32 {
		return b.Forward(nn.NoGrad(tensor.CPU()), nn.Constant(tensor.FromF32(x, n, c.Hidden)),
			tensor.FromI32(pos, n), FullAttention(tensor.FromI32(mask, bc.batch, bc.seq), bc.batch, bc.seq)).Value.F32()
	}
	want := run(blk)
	own := func(l *nn.Linear) *nn.Linear { // the same weights in storage of their own
		m := nn.NewLinear(tensor.CPU(), "copy", l.W.Value.Dim(1), l.W.Value.Dim(0), l.B != nil)
		copy(m.W.Value.F32(), l.W.Value.F32())
		if l.B != nil {
			copy(m.B.Value.F32(), l.B.Value.F32())
		}
		return m
	}
	blk.Weights.K, blk.Weights.Gate = own(w.K), own(w.Gate)
	require.False(t, blk.Weights.qkvStack.holds([]*nn.Linear{blk.Weights.Q, blk.Weights.K, blk.Weights.V}))
	require.Equal(t, want, run(blk))
}
