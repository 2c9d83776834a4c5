package bert

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dllmgo/dllm/mdlm"
	"github.com/dllmgo/dllm/nn"
	"github.com/dllmgo/dllm/tensor"
)

// newCacheTestModel is a small random ModernBERT: vocabulary 97, width 64,
// two heads of 32, GeGLU 96, layers global every third (one global, then
// sliding windows of 8 each side, narrower than the canvases below). The init
// is wider than Hugging Face's so that the logits spread out.
func newCacheTestModel(t *testing.T, layers int, seed uint64) *Model {
	t.Helper()
	cfg, err := Preset("tiny")
	require.NoError(t, err)
	cfg.VocabSize, cfg.HiddenSize, cfg.NumHeads, cfg.IntermediateSize = 97, 64, 2, 96
	cfg.NumLayers, cfg.LayerTypes, cfg.LocalAttention = layers, LayersEvery(layers, 3), 16
	cfg.MaxPositions = 128
	cfg.PadTokenID, cfg.BOSTokenID, cfg.EOSTokenID, cfg.CLSTokenID, cfg.SEPTokenID, cfg.MaskTokenID = 0, 1, 2, 1, 2, 3
	cfg.InitializerRange = 0.2
	require.NoError(t, cfg.Validate())
	m := New(cfg, tensor.CPU())
	m.Init(rand.New(rand.NewPCG(seed, 99)))
	return m
}

// cacheCase is a batch with one block per sequence: sequence b holds
// lengths[b] real tokens and padding up to seq; its block starts at starts[b].
type cacheCase struct {
	name    string
	lengths []int
	seq     int
	starts  []int
	width   int
}

var cacheCases = []cacheCase{
	{"one sequence", []int{40}, 40, []int{8}, 8},
	{"block at the end", []int{30}, 30, []int{22}, 8},
	{"block at the start", []int{30}, 30, []int{0}, 6},
	{"padded batch", []int{24, 40, 33}, 40, []int{10, 3, 25}, 8},
	{"wide block", []int{20, 20}, 20, []int{2, 4}, 16},
}

// draw returns random ids and, when some sequence is padded, the key mask.
func (cc cacheCase) draw(rng *rand.Rand, vocab int) (ids, keyMask []int32) {
	padded := false
	for _, n := range cc.lengths {
		padded = padded || n < cc.seq
	}
	for _, n := range cc.lengths {
		for s := range cc.seq {
			id, real := int32(0), int32(0)
			if s < n {
				id, real = int32(4+rng.IntN(vocab-4)), 1
			}
			ids = append(ids, id)
			if padded {
				keyMask = append(keyMask, real)
			}
		}
	}
	return ids, keyMask
}

// blockRows lists every block position as a flat row, and inBlock tells
// whether a flat position is in its sequence's block.
func (cc cacheCase) blockRows() []int32 {
	var rows []int32
	for b, s := range cc.starts {
		for t := range cc.width {
			rows = append(rows, int32(b*cc.seq+s+t))
		}
	}
	return rows
}

func (cc cacheCase) inBlock(flat int) bool {
	b, s := flat/cc.seq, flat%cc.seq
	return s >= cc.starts[b] && s < cc.starts[b]+cc.width
}

// changeBlocks redraws about half of the block tokens.
func (cc cacheCase) changeBlocks(rng *rand.Rand, ids []int32, vocab int) []int32 {
	out := slices.Clone(ids)
	for _, r := range cc.blockRows() {
		if rng.IntN(2) == 0 {
			out[r] = int32(4 + rng.IntN(vocab-4))
		}
	}
	return out
}

// maxRelDiff is max|got−want| / max|want|.
func maxRelDiff[T float32 | float64](got []float32, want []T) float64 {
	var d, a float64
	for i := range want {
		d = math.Max(d, math.Abs(float64(got[i])-float64(want[i])))
		a = math.Max(a, math.Abs(float64(want[i])))
	}
	return d / a
}

// TestBeginBlockMatchesLogits: BeginBlock's logits are Logits' bit for bit
// (the same ops in the same order), and a cached step on unchanged ids, whose
// cached keys and values are all current, agrees with Logits to f32
// rounding: this checks the composed attention (gathers, window, key mask,
// per-sequence block starts) against the fused one.
func TestBeginBlockMatchesLogits(t *testing.T) {
	for _, prec := range []nn.Precision{nn.PrecisionF32, nn.PrecisionBF16} {
		for _, cc := range cacheCases {
			t.Run(prec.String()+"/"+cc.name, func(t *testing.T) {
				m := newCacheTestModel(t, 3, 1)
				m.Precision = prec
				rng := rand.New(rand.NewPCG(2, uint64(len(cc.name))))
				ids, keyMask := cc.draw(rng, m.Config.VocabSize)
				var all []int32 // every real position
				for i := range ids {
					if keyMask == nil || keyMask[i] == 1 {
						all = append(all, int32(i))
					}
				}
				batch := len(cc.lengths)
				want, err := m.Logits(ids, batch, cc.seq, keyMask, all)
				require.NoError(t, err)
				cache, got, err := m.BeginBlock(ids, batch, cc.seq, keyMask, cc.starts, cc.width, all)
				require.NoError(t, err)
				defer cache.Release()
				require.Equal(t, want, got)

				rows := cc.blockRows()
				want, err = m.Logits(ids, batch, cc.seq, keyMask, rows)
				require.NoError(t, err)
				for range 2 { // the second call reads the rows the first wrote
					got, err = cache.Logits(ids, rows)
					require.NoError(t, err)
					assert.Less(t, maxRelDiff(got, want), 1e-5)
				}
			})
		}
	}
}

// TestBlockCacheOneLayerIsExact: with one layer, a position's keys and
// values depend only on its own token, so the keys outside the blocks never
// go stale and cached steps equal Logits after any change inside the blocks.
func TestBlockCacheOneLayerIsExact(t *testing.T) {
	for _, cc := range cacheCases {
		t.Run(cc.name, func(t *testing.T) {
			m := newCacheTestModel(t, 1, 3)
			rng := rand.New(rand.NewPCG(4, uint64(len(cc.name))))
			ids, keyMask := cc.draw(rng, m.Config.VocabSize)
			batch := len(cc.lengths)
			rows := cc.blockRows()
			cache, _, err := m.BeginBlock(ids, batch, cc.seq, keyMask, cc.starts, cc.width, nil)
			require.NoError(t, err)
			defer cache.Release()
			for step := range 3 {
				ids = cc.changeBlocks(rng, ids, m.Config.VocabSize)
				want, err := m.Logits(ids, batch, cc.seq, keyMask, rows)
				require.NoError(t, err)
				got, err := cache.Logits(ids, rows[step:]) // any subset, in any order
				require.NoError(t, err)
				assert.Less(t, maxRelDiff(got, want[step*m.Config.VocabSize:]), 1e-5, "step %d", step)
			}
		})
	}
}

// TestBlockCacheIsDualCache: on three layers, after the blocks change, a
// cached step equals a float64 forward pass in which every layer's keys and
// values outside the blocks are those of the ids BeginBlock saw (DualCache's
// definition), and differs from the exact logits. Tokens changed outside the
// blocks are not read.
func TestBlockCacheIsDualCache(t *testing.T) {
	for _, cc := range cacheCases {
		t.Run(cc.name, func(t *testing.T) {
			m := newCacheTestModel(t, 3, 5)
			vocab := m.Config.VocabSize
			rng := rand.New(rand.NewPCG(6, uint64(len(cc.name))))
			ids, keyMask := cc.draw(rng, vocab)
			batch := len(cc.lengths)
			rows := cc.blockRows()

			// The reference itself: without freezing it is the model.
			exact, frozen := refForward(m, ids, batch, cc.seq, keyMask, nil, nil)
			want, err := m.Logits(ids, batch, cc.seq, keyMask, rows)
			require.NoError(t, err)
			assert.Less(t, maxRelDiff(want, pickRows(exact, rows, vocab)), 1e-4, "float64 reference against Logits")

			cache, _, err := m.BeginBlock(ids, batch, cc.seq, keyMask, cc.starts, cc.width, nil)
			require.NoError(t, err)
			defer cache.Release()
			for step := range 3 {
				next := cc.changeBlocks(rng, ids, vocab)
				dual, _ := refForward(m, next, batch, cc.seq, keyMask, frozen, cc.inBlock)
				// Tokens outside the blocks are the cache's business: change
				// some, and the cached step must not notice.
				shown := slices.Clone(next)
				for i := range shown {
					if !cc.inBlock(i) && (keyMask == nil || keyMask[i] == 1) && rng.IntN(3) == 0 {
						shown[i] = int32(4 + rng.IntN(vocab-4))
					}
				}
				got, err := cache.Logits(shown, rows)
				require.NoError(t, err)
				assert.Less(t, maxRelDiff(got, pickRows(dual, rows, vocab)), 1e-4, "step %d: against DualCache", step)
				exactNow, err := m.Logits(next, batch, cc.seq, keyMask, rows)
				require.NoError(t, err)
				assert.Greater(t, maxRelDiff(got, exactNow), 1e-3, "step %d: stale keys should show", step)
				ids = next
			}
		})
	}
}

func pickRows(all [][]float64, rows []int32, vocab int) []float64 {
	out := make([]float64, 0, len(rows)*vocab)
	for _, r := range rows {
		out = append(out, all[r]...)
	}
	return out
}

// TestBlockCacheErrors: bad blocks, rows outside the blocks, ids outside
// the vocabulary and use after Release are errors.
func TestBlockCacheErrors(t *testing.T) {
	m := newCacheTestModel(t, 2, 7)
	cc := cacheCases[3]
	ids, keyMask := cc.draw(rand.New(rand.NewPCG(8, 9)), m.Config.VocabSize)
	batch := len(cc.lengths)
	for _, tc := range []struct {
		name   string
		starts []int
		width  int
		want   string
	}{
		{"too few starts", []int{1, 2}, 4, "block starts"},
		{"zero width", []int{1, 2, 3}, 0, "block starts"},
		{"past the end", []int{1, 35, 3}, 8, "outside"},
		{"negative", []int{-1, 2, 3}, 4, "outside"},
		{"over padding", []int{20, 2, 3}, 8, "padding"},
	} {
		_, _, err := m.BeginBlock(ids, batch, cc.seq, keyMask, tc.starts, tc.width, nil)
		assert.ErrorContains(t, err, tc.want, tc.name)
	}
	_, _, err := m.BeginBlock(ids[1:], batch, cc.seq, keyMask, cc.starts, cc.width, nil)
	assert.ErrorContains(t, err, "ids")

	cache, _, err := m.BeginBlock(ids, batch, cc.seq, keyMask, cc.starts, cc.width, nil)
	require.NoError(t, err)
	_, err = cache.Logits(ids, []int32{int32(cc.starts[0] - 1)})
	assert.ErrorContains(t, err, "outside the cached blocks")
	_, err = cache.Logits(ids, []int32{int32(cc.seq + cc.starts[1] + cc.width)})
	assert.ErrorContains(t, err, "outside the cached blocks")
	_, err = cache.Logits(ids[1:], cc.blockRows())
	assert.ErrorContains(t, err, "ids")
	bad := slices.Clone(ids)
	bad[cc.starts[0]] = int32(m.Config.VocabSize)
	_, err = cache.Logits(bad, cc.blockRows())
	assert.ErrorContains(t, err, "vocabulary")
	cache.Release()
	_, err = cache.Logits(ids, cc.blockRows())
	assert.ErrorContains(t, err, "after Release")
}

// TestGenerateWithCache: the block sampler over a real model. On one layer
// the cache is exact, so the samples equal the uncached ones; on three it
// runs one full pass per block and the rest from the cache.
func TestGenerateWithCache(t *testing.T) {
	prompts := [][]int32{{5, 6, 7, 8, 9, 10, 11}, {12, 13, 14}}
	for _, layers := range []int{1, 3} {
		m := newCacheTestModel(t, layers, 11)
		c := mdlm.SamplerConfig{MaxNewTokens: 24, Steps: 24, BlockSize: 8, MaskID: 3, PadID: 0, FullCanvas: true}
		plain, err := mdlm.Generate(m, prompts, c, mdlm.NewRand(1))
		require.NoError(t, err)
		c.Cache = true
		cached, err := mdlm.Generate(m, prompts, c, mdlm.NewRand(1))
		require.NoError(t, err)
		assert.Equal(t, plain.Steps, cached.Steps)
		assert.Equal(t, cached.ForwardPasses-3, cached.CachedPasses, "one full pass per block")
		if layers == 1 {
			assert.Equal(t, plain.Samples, cached.Samples)
		}
	}
}

// refForward is ModernBERT's forward pass in float64, written from the
// definition (SPEC section 1) rather than from the model's code, returning
// the logits at every position and every layer's post-RoPE qkv [B·S][3H].
// With frozen, the keys and values of every position outside the blocks
// (inBlock false) are replaced by frozen's at each layer before attention:
// DualCache's view of the sequence.
func refForward(m *Model, ids []int32, batch, seq int, keyMask []int32, frozen [][][]float64, inBlock func(int) bool) ([][]float64, [][][]float64) {
	cfg := m.Config
	h, nh := cfg.HiddenSize, cfg.NumHeads
	d := h / nh
	n := batch * seq
	emb := f64(m.Embed.Weight)
	x := make([][]float64, n)
	for i, id := range ids {
		x[i] = slices.Clone(emb[int(id)*h : (int(id)+1)*h])
	}
	x = refNorm(x, m.EmbedNorm)
	var kept [][][]float64
	for li, l := range m.Layers {
		a := x
		if l.AttnNorm != nil {
			a = refNorm(x, l.AttnNorm)
		}
		qkv := refLinear(a, l.Wqkv.W)
		theta := cfg.LocalRopeTheta
		if l.Global {
			theta = cfg.GlobalRopeTheta
		}
		for i, row := range qkv {
			p := float64(i % seq)
			for head := range 2 * nh { // Q and K heads; V passes through
				v := row[head*d : (head+1)*d]
				for k := range d / 2 {
					phi := p * math.Pow(theta, -2*float64(k)/float64(d))
					c, s := math.Cos(phi), math.Sin(phi)
					v[k], v[k+d/2] = v[k]*c-v[k+d/2]*s, v[k+d/2]*c+v[k]*s
				}
			}
		}
		if frozen != nil {
			for i := range qkv {
				if !inBlock(i) {
					copy(qkv[i][h:], frozen[li][i][h:])
				}
			}
		}
		kept = append(kept, qkv)
		window := 0
		if !l.Global {
			window = cfg.LocalAttention
		}
		att := make([][]float64, n)
		for i := range att {
			att[i] = make([]float64, h)
		}
		for b := range batch {
			for head := range nh {
				for i := range seq {
					q := qkv[b*seq+i][head*d : (head+1)*d]
					var js []int
					var scores []float64
					for j := range seq {
						if (window > 0 && abs(i-j) > window/2) || (keyMask != nil && keyMask[b*seq+j] == 0) {
							continue
						}
						k := qkv[b*seq+j][h+head*d : h+(head+1)*d]
						js, scores = append(js, j), append(scores, dot(q, k)/math.Sqrt(float64(d)))
					}
					if len(scores) == 0 {
						continue // a padding query beyond the window of any real key: zeros
					}
					mx := slices.Max(scores)
					sum := 0.0
					for k := range scores {
						scores[k] = math.Exp(scores[k] - mx)
						sum += scores[k]
					}
					out := att[b*seq+i][head*d : (head+1)*d]
					for k, j := range js {
						v := qkv[b*seq+j][2*h+head*d : 2*h+(head+1)*d]
						for e := range out {
							out[e] += scores[k] / sum * v[e]
						}
					}
				}
			}
		}
		x = refAdd(x, refLinear(att, l.Wo.W))
		wi := refLinear(refNorm(x, l.MLPNorm), l.Wi.W)
		inter := cfg.IntermediateSize
		g := make([][]float64, n)
		for i, row := range wi {
			g[i] = make([]float64, inter)
			for k := range inter {
				g[i][k] = gelu64(row[k]) * row[inter+k]
			}
		}
		x = refAdd(x, refLinear(g, l.MLPWo.W))
	}
	z := refLinear(refNorm(x, m.FinalNorm), m.HeadDense.W)
	for _, row := range z {
		for k := range row {
			row[k] = gelu64(row[k])
		}
	}
	logits := refLinear(refNorm(z, m.HeadNorm), m.Embed.Weight)
	bias := f64(m.DecoderBias)
	for _, row := range logits {
		for v := range row {
			row[v] += bias[v]
		}
	}
	return logits, kept
}

func f64(p *nn.Param) []float64 {
	v := p.Value.ToCPU().F32()
	out := make([]float64, len(v))
	for i, x := range v {
		out[i] = float64(x)
	}
	return out
}

// refLinear is x·Wᵀ for W [out, in].
func refLinear(x [][]float64, w *nn.Param) [][]float64 {
	wt := f64(w)
	out, in := w.Value.Dim(0), w.Value.Dim(1)
	y := make([][]float64, len(x))
	for i, row := range x {
		y[i] = make([]float64, out)
		for o := range out {
			y[i][o] = dot(row, wt[o*in:(o+1)*in])
		}
	}
	return y
}

// refNorm is LayerNorm without bias: biased variance, eps inside the root.
func refNorm(x [][]float64, ln *nn.LayerNorm) [][]float64 {
	gamma := f64(ln.Weight)
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
		}
	}
	return y
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

func dot(a, b []float64) float64 {
	s := 0.0
	for i := range a {
		s += a[i] * b[i]
	}
	return s
}

func gelu64(x float64) float64 { return 0.5 * x * (1 + math.Erf(x/math.Sqrt2)) }

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

// TestCachedStepFreesOnlyDeadActivations: BeginBlock frees the head's
// activations and a cached step (BlockCache.Logits) every layer's and the
// head's; with freed buffers poisoned with NaN and never reused, their logits
// equal bit for bit those of the same calls with the pool working normally,
// over three cached steps whose ids change inside the blocks.
func TestCachedStepFreesOnlyDeadActivations(t *testing.T) {
	for _, cc := range cacheCases {
		t.Run(cc.name, func(t *testing.T) {
			m := newCacheTestModel(t, 3, 1)
			rng := rand.New(rand.NewPCG(6, uint64(len(cc.name))))
			ids, keyMask := cc.draw(rng, m.Config.VocabSize)
			batch, rows := len(cc.lengths), cc.blockRows()
			run := func() [][]float32 {
				steps := append([]int32(nil), ids...)
				cache, first, err := m.BeginBlock(steps, batch, cc.seq, keyMask, cc.starts, cc.width, rows)
				require.NoError(t, err)
				defer cache.Release()
				out := [][]float32{first}
				for s := range 3 {
					steps[rows[s%len(rows)]] = int32(s + 1) // a token inside a block changes
					got, err := cache.Logits(steps, rows)
					require.NoError(t, err)
					out = append(out, got)
				}
				return out
			}
			want := run()
			was := tensor.DebugPoisonFreed(true)
			defer tensor.DebugPoisonFreed(was)
			got := run()
			require.Len(t, got, len(want))
			for s := range want {
				require.Len(t, got[s], len(want[s]))
				for i := range want[s] {
					require.False(t, math.IsNaN(float64(want[s][i])), "step %d logit %d is NaN", s, i)
					require.Equal(t, math.Float32bits(want[s][i]), math.Float32bits(got[s][i]), "step %d logit %d", s, i)
				}
			}
		})
	}
}

// TestGenerateRecyclesLogitsOnceRead: the sampler hands each step's logits
// back (RecycleLogits) and the model frees the head's and a cached step's
// activations; with every freed buffer poisoned with NaN and never reused,
// Generate with and without the cache samples exactly what it samples with
// the pool working normally.
func TestGenerateRecyclesLogitsOnceRead(t *testing.T) {
	prompts := [][]int32{{5, 6, 7, 8, 9, 10, 11}, {12, 13, 14}}
	m := newCacheTestModel(t, 3, 12)
	for _, cache := range []bool{false, true} {
		c := mdlm.SamplerConfig{MaxNewTokens: 16, Steps: 16, BlockSize: 8, MaskID: 3, PadID: 0, FullCanvas: true, Cache: cache}
		want, err := mdlm.Generate(m, prompts, c, mdlm.NewRand(2))
		require.NoError(t, err)
		was := tensor.DebugPoisonFreed(true)
		got, err := mdlm.Generate(m, prompts, c, mdlm.NewRand(2))
		tensor.DebugPoisonFreed(was)
		require.NoError(t, err)
		require.Equal(t, want.Samples, got.Samples, "cache %t", cache)
	}
	logits, err := m.Logits([]int32{5, 6, 7}, 1, 3, nil, []int32{1})
	require.NoError(t, err)
	m.RecycleLogits(logits[:1]) // not the slice lent: ignored
	m.RecycleLogits(append([]float32(nil), logits...))
	require.NotNil(t, m.lent)
	m.RecycleLogits(logits)
	require.Nil(t, m.lent)
}
