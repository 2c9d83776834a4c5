package mdlm

import (
	"fmt"
	"math"
	"runtime"
	"slices"
	"sort"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// peakedModel ignores the canvas: at position pos it puts probability
// conf(pos) on token tok(pos) and spreads the rest evenly, so its logits are
// log-probabilities with a known top token and confidence.
func peakedModel(vocab int, tok func(pos int) int, conf func(pos int) float64) *fakeModel {
	return &fakeModel{vocab: vocab, fn: func(_ []int32, pos int) []float32 {
		p := conf(pos)
		l := make([]float32, vocab)
		for v := range l {
			l[v] = float32(math.Log((1 - p) / float64(vocab-1)))
		}
		l[tok(pos)] = float32(math.Log(p))
		return l
	}}
}

// recorder collects trace frames.
type recorder struct{ frames []Frame }

func (r *recorder) trace(f Frame) { r.frames = append(r.frames, f) }

func TestTransferCounts(t *testing.T) {
	for _, tc := range []struct {
		n, steps int
		want     []int
	}{
		// Linear: step j reveals round(left/(steps-j)), halves to even.
		{10, 4, []int{2, 3, 2, 3}},
		{4, 8, []int{1, 1, 1, 1}}, // 0.5→0, 4/7→1, 0.5→0, 0.6→1, ... zero steps dropped
		{32, 32, slices.Repeat([]int{1}, 32)},
		{32, 8, slices.Repeat([]int{4}, 8)},
		{5, 1, []int{5}},
		{0, 6, nil},
	} {
		got := transferCounts(tc.n, tc.steps, Linear{}, false, nil)
		assert.Equal(t, tc.want, got, "n=%d steps=%d", tc.n, tc.steps)
	}
	rng := NewRand(10)
	first := 0.0
	const trials = 1000
	for range trials {
		for _, sched := range []Schedule{Linear{}, Cosine{}} {
			c := transferCounts(32, 8, sched, true, rng)
			sum := 0
			for _, k := range c {
				assert.Positive(t, k)
				sum += k
			}
			assert.Equal(t, 32, sum)
			assert.LessOrEqual(t, len(c), 8)
		}
		if c := transferCounts(32, 8, Linear{}, true, rng); len(c) > 0 {
			first += float64(c[0]) // the first step is never dropped unless it drew 0
		}
	}
	// Binomial(32, 1/8) on the first step, mean 4, sigma of the mean
	// sqrt(32/8*7/8/trials) = 0.059; a zero draw (probability (7/8)^32 =
	// 0.014) shifts the next count, mean 32/7, into slot 0, which raises the
	// mean by 0.064. Bound: that bias plus 4 sigma (0.30 in all), inside the
	// 0.57 by which a first step of 1/7 (steps off by one) would move it.
	sigma := math.Sqrt(32.0 / 8 * 7 / 8 / trials)
	assert.InDelta(t, 4.0, first/trials, 0.064+4*sigma)
	cos := transferCounts(32, 8, Cosine{}, false, nil)
	assert.Equal(t, 32, sumInts(cos))
	assert.NotEqual(t, slices.Repeat([]int{4}, 8), cos, "the cosine schedule front-loads differently")
}

func sumInts(x []int) int {
	s := 0
	for _, v := range x {
		s += v
	}
	return s
}

// expectedBlockCommits replays the block sampler by hand for a model whose
// confidences do not depend on the canvas: per block, the planned counts,
// each step taking the most confident remaining positions.
func expectedBlockCommits(promptLen, maxNew, block, steps int, conf func(int) float64) [][]int {
	blocks := (maxNew + block - 1) / block
	perBlock := (steps + blocks - 1) / blocks
	var out [][]int
	for b := range blocks {
		lo, hi := promptLen+b*block, min(promptLen+(b+1)*block, promptLen+maxNew)
		var left []int
		for s := lo; s < hi; s++ {
			left = append(left, s)
		}
		for _, k := range transferCounts(len(left), perBlock, Linear{}, false, nil) {
			sort.SliceStable(left, func(i, j int) bool { return conf(left[i]) > conf(left[j]) })
			step := slices.Clone(left[:k])
			slices.Sort(step)
			out = append(out, step)
			left = left[k:]
		}
	}
	return out
}

func TestGenerateBlockSchedule(t *testing.T) {
	const vocab, mask, pad = 40, 39, 38
	rng := NewRand(11)
	confs := make([]float64, 200)
	for i := range confs {
		confs[i] = 0.2 + 0.75*rng.Float64()
	}
	tok := func(pos int) int { return pos % 30 } // never pad or mask
	for _, tc := range []struct{ prompt, maxNew, block, steps int }{
		{5, 32, 8, 32}, {3, 24, 8, 12}, {7, 20, 8, 9}, {1, 16, 16, 16}, {4, 12, 4, 30},
	} {
		m := peakedModel(vocab, tok, func(p int) float64 { return confs[p] })
		prompt := make([]int32, tc.prompt)
		for i := range prompt {
			prompt[i] = int32(i + 1)
		}
		rec := &recorder{}
		cfg := SamplerConfig{MaxNewTokens: tc.maxNew, Steps: tc.steps, BlockSize: tc.block, MaskID: mask, PadID: pad, Trace: rec.trace}
		out, err := Generate(m, [][]int32{prompt}, cfg, NewRand(1))
		require.NoError(t, err)

		want := expectedBlockCommits(tc.prompt, tc.maxNew, tc.block, tc.steps, func(p int) float64 { return confs[p] })
		var got [][]int
		for _, f := range rec.frames[1:] {
			got = append(got, f.Revealed)
		}
		assert.Equal(t, want, got, "%+v", tc)
		assert.Equal(t, len(want), out.Steps)
		assert.Equal(t, len(want), out.ForwardPasses)
		assert.Equal(t, len(want), rec.frames[0].MaxSteps)

		// The model was only ever asked about masked positions of the current
		// block, and tokens are the model's argmax.
		for i, c := range m.calls {
			lo := tc.prompt + (want[i][0]-tc.prompt)/tc.block*tc.block
			hi := min(lo+tc.block, tc.prompt+tc.maxNew)
			var masked []int32
			for s := lo; s < hi; s++ {
				if c.ids[s] == mask {
					masked = append(masked, int32(s))
				}
			}
			assert.Equal(t, masked, c.rows, "call %d", i)
		}
		s := out.Samples[0]
		assert.Equal(t, prompt, s.Canvas[:tc.prompt])
		for p := tc.prompt; p < len(s.Canvas); p++ {
			assert.Equal(t, int32(tok(p)), s.Canvas[p])
		}
		assert.Equal(t, s.Canvas[tc.prompt:], s.Answer)
		assert.False(t, s.Stopped)
	}
}

// TestGenerateNeverLeavesTheBlock uses a model that is most confident far to
// the right of the current block: those positions must still wait their turn.
func TestGenerateNeverLeavesTheBlock(t *testing.T) {
	const vocab, mask, pad = 20, 19, 18
	m := peakedModel(vocab, func(p int) int { return p % 10 }, func(p int) float64 { return 0.1 + 0.008*float64(p) })
	rec := &recorder{}
	cfg := SamplerConfig{MaxNewTokens: 32, Steps: 16, BlockSize: 8, MaskID: mask, PadID: pad, Trace: rec.trace, Temperature: 0.7}
	_, err := Generate(m, [][]int32{{1, 2, 3}}, cfg, NewRand(2))
	require.NoError(t, err)
	for _, f := range rec.frames[1:] {
		require.NotEmpty(t, f.Revealed)
		b := (f.Revealed[0] - 3) / 8
		for _, p := range f.Revealed {
			assert.Equal(t, b, (p-3)/8, "step %d revealed %v across blocks", f.Step, f.Revealed)
		}
		for p := 3; p < 3+8*b; p++ {
			assert.NotEqual(t, int32(mask), f.Canvas[p], "earlier block not finished at step %d", f.Step)
		}
		for p := 3 + 8*(b+1); p < len(f.Canvas); p++ {
			assert.Equal(t, int32(mask), f.Canvas[p], "later block touched at step %d", f.Step)
		}
	}
}

func TestGenerateThreshold(t *testing.T) {
	const vocab, mask, pad = 12, 11, 10
	// Block 1 (positions 2..5): two above 0.9, two below. Block 2 (6..9): none above.
	confs := map[int]float64{2: 0.95, 3: 0.5, 4: 0.92, 5: 0.3, 6: 0.6, 7: 0.7, 8: 0.4, 9: 0.5}
	m := peakedModel(vocab, func(p int) int { return p % 8 }, func(p int) float64 { return confs[p] })
	rec := &recorder{}
	cfg := SamplerConfig{MaxNewTokens: 8, BlockSize: 4, Threshold: 0.9, MaskID: mask, PadID: pad, Trace: rec.trace}
	out, err := Generate(m, [][]int32{{1, 2}}, cfg, NewRand(3))
	require.NoError(t, err)
	var got [][]int
	for _, f := range rec.frames[1:] {
		got = append(got, f.Revealed)
	}
	// Ties in confidence (3 and 9 at 0.5 are in different blocks) do not arise here.
	assert.Equal(t, [][]int{{2, 4}, {3}, {5}, {7}, {6}, {9}, {8}}, got)
	assert.Equal(t, 7, out.Steps)
	assert.Equal(t, 8, rec.frames[0].MaxSteps)

	// A canvas-dependent model: confident everywhere once position 2 is set.
	m2 := &fakeModel{vocab: vocab, fn: func(seq []int32, pos int) []float32 {
		p := 0.3 + 0.01*float64(pos)
		if seq[2] != mask {
			p = 0.99
		}
		l := make([]float32, vocab)
		l[pos%8] = float32(math.Log(p / ((1 - p) / (vocab - 1))))
		return l
	}}
	out, err = Generate(m2, [][]int32{{1, 2}}, cfg, NewRand(3))
	require.NoError(t, err)
	// Block 1: nothing reaches 0.9 while position 2 is masked, so one token
	// per step (5, 4, 3, 2). Block 2: everything is at 0.99, one step.
	assert.Equal(t, 5, out.Steps)
	assert.Equal(t, []int32{2, 3, 4, 5, 6, 7, 0, 1}, out.Samples[0].Answer)
}

// TestGenerateCFG checks the guidance arithmetic: the model gives different
// logits when the prompt is hidden, and both the chosen tokens and the
// commit order must follow un + (s+1)(cond - un).
func TestGenerateCFG(t *testing.T) {
	const vocab, mask, pad, scale = 9, 8, 7, 1.5
	rng := NewRand(12)
	cond := make([][]float32, 16)
	un := make([][]float32, 16)
	for p := range cond {
		cond[p] = randomLogits(rng, vocab)
		un[p] = randomLogits(rng, vocab)
	}
	m := &fakeModel{vocab: vocab, fn: func(seq []int32, pos int) []float32 {
		if seq[0] == mask {
			return un[pos]
		}
		return cond[pos]
	}}
	prompt := []int32{3, 4, 5}
	rec := &recorder{}
	cfg := SamplerConfig{MaxNewTokens: 8, Steps: 8, BlockSize: 8, CFGScale: scale, MaskID: mask, PadID: pad, Trace: rec.trace, FullCanvas: true}
	out, err := Generate(m, [][]int32{prompt}, cfg, NewRand(1))
	require.NoError(t, err)

	type scored struct {
		pos  int
		tok  int32
		conf float64
	}
	var want []scored
	differs := 0
	for p := 3; p < 11; p++ {
		g := make([]float64, vocab)
		for v := range g {
			u := float64(un[p][v])
			g[v] = u + (scale+1)*(float64(cond[p][v])-u)
		}
		g[mask] = math.Inf(-1)
		best := 0
		for v := range g {
			if g[v] > g[best] {
				best = v
			}
		}
		if best != argmax32(cond[p], mask) {
			differs++
		}
		want = append(want, scored{p, int32(best), math.Exp(g[best] - logSumExp(g))})
	}
	require.Positive(t, differs, "test data should make guidance matter")
	sort.SliceStable(want, func(i, j int) bool { return want[i].conf > want[j].conf })
	for i, f := range rec.frames[1:] {
		assert.Equal(t, []int{want[i].pos}, f.Revealed)
		assert.Equal(t, want[i].tok, out.Samples[0].Canvas[want[i].pos])
	}
	assert.Equal(t, 8, out.Steps)
	assert.Equal(t, 16, out.ForwardPasses)
	for _, c := range m.calls {
		require.Equal(t, 2, c.batch)
		condIDs, unIDs := c.ids[:c.seqLen], c.ids[c.seqLen:]
		assert.Equal(t, []int32{mask, mask, mask}, unIDs[:3])
		assert.Equal(t, condIDs[3:], unIDs[3:])
		half := len(c.rows) / 2
		for i := range half {
			assert.Equal(t, c.rows[i]+int32(c.seqLen), c.rows[half+i])
		}
	}
}

func argmax32(l []float32, banned int) int {
	best := -1
	for v := range l {
		if v != banned && (best < 0 || l[v] > l[best]) {
			best = v
		}
	}
	return best
}

func TestGenerateSuppressesTokensAndMask(t *testing.T) {
	const vocab, mask, pad = 6, 5, 4
	// The model's favourite is the mask id, then token 2.
	m := &fakeModel{vocab: vocab, fn: func(_ []int32, pos int) []float32 {
		return []float32{0, 0.5, 3, 1, 0.2, 9}
	}}
	cfg := SamplerConfig{MaxNewTokens: 4, Steps: 4, BlockSize: 4, MaskID: mask, PadID: pad}
	out, err := Generate(m, [][]int32{{0}}, cfg, NewRand(1))
	require.NoError(t, err)
	assert.Equal(t, []int32{2, 2, 2, 2}, out.Samples[0].Answer)
	cfg.SuppressTokens = []int32{2}
	out, err = Generate(m, [][]int32{{0}}, cfg, NewRand(1))
	require.NoError(t, err)
	assert.Equal(t, []int32{3, 3, 3, 3}, out.Samples[0].Answer)
	cfg.SuppressTokens = []int32{0, 1, 2, 3, 4}
	_, err = Generate(m, [][]int32{{0}}, cfg, NewRand(1))
	assert.Error(t, err, "nothing left to choose")
}

// TestGenerateTemperature checks that Gumbel-max samples from softmax(l/T).
func TestGenerateTemperature(t *testing.T) {
	const vocab, mask, pad = 5, 4, 3
	l := []float32{0.3, -0.4, 1.1, 0.2, 0}
	m := &fakeModel{vocab: vocab, fn: func(_ []int32, _ int) []float32 { return l }}
	for _, temp := range []float64{1, 0.5, 2} {
		rng := NewRand(uint64(temp * 100))
		// sigma = sqrt(p(1-p)/n) <= 0.011 at n = 2000, so the 5-sigma bound
		// (<= 0.056) is well inside the 0.12 by which token 2's probability
		// moves between T = 1 and T = 2 (0.48, 0.36; 0.71 at T = 0.5).
		const n = 2000
		counts := make([]float64, vocab)
		cfg := SamplerConfig{MaxNewTokens: 1, Steps: 1, BlockSize: 1, Temperature: temp, MaskID: mask, PadID: pad, FullCanvas: true}
		for range n {
			out, err := Generate(m, [][]int32{{0}}, cfg, rng)
			require.NoError(t, err)
			counts[out.Samples[0].Canvas[1]]++
		}
		assert.Zero(t, counts[mask])
		z := 0.0
		for v := range 4 {
			z += math.Exp(float64(l[v]) / temp)
		}
		for v := range 4 {
			p := math.Exp(float64(l[v])/temp) / z
			assert.InDelta(t, p, counts[v]/n, 5*math.Sqrt(p*(1-p)/n), "T=%v token %d", temp, v)
		}
	}
}

func TestGenerateDeterministicBySeed(t *testing.T) {
	const vocab, mask, pad = 50, 49, 48
	rng := NewRand(13)
	table := make([][]float32, 64)
	for i := range table {
		table[i] = randomLogits(rng, vocab)
	}
	m := &fakeModel{vocab: vocab, fn: func(seq []int32, pos int) []float32 {
		// Depend on the canvas so that different draws diverge.
		l := slices.Clone(table[pos])
		for s, id := range seq {
			if id != mask {
				l[(int(id)+s)%vocab] += 0.1
			}
		}
		return l
	}}
	prompts := [][]int32{{1, 2, 3}, {4, 5}}
	for _, cfg := range []SamplerConfig{
		{Temperature: 1, Remasking: RandomRemasking, StochasticTransfer: true},
		{Temperature: 0.8, CFGScale: 0.5},
		{Temperature: 1, Threshold: 0.3},
	} {
		cfg.MaxNewTokens, cfg.Steps, cfg.BlockSize, cfg.MaskID, cfg.PadID, cfg.FullCanvas = 24, 12, 8, mask, pad, true
		run := func(seed uint64) (*Output, []Frame) {
			rec := &recorder{}
			c := cfg
			c.Trace = rec.trace
			out, err := Generate(m, prompts, c, NewRand(seed))
			require.NoError(t, err)
			return out, rec.frames
		}
		a, fa := run(7)
		b, fb := run(7)
		c, _ := run(8)
		assert.Equal(t, a, b)
		assert.Equal(t, fa, fb)
		assert.NotEqual(t, a.Samples, c.Samples)
	}
}

// TestGenerateBatchMatchesSingleRows runs prompts of different lengths in one
// batch and one at a time: with a model that sees each row alone, the
// answers must agree, each row taking its own top-k.
func TestGenerateBatchMatchesSingleRows(t *testing.T) {
	const vocab, mask, pad = 30, 29, 28
	m := &fakeModel{vocab: vocab, fn: func(seq []int32, pos int) []float32 {
		// A deterministic function of the row's own committed tokens.
		l := make([]float32, vocab)
		h := uint64(pos)
		for _, id := range seq {
			if id != mask && id != pad {
				h = h*31 + uint64(id)
			}
		}
		r := NewRand(h)
		for v := range l {
			l[v] = float32(r.NormFloat64())
		}
		return l
	}}
	prompts := [][]int32{{1, 2, 3, 4, 5}, {6}, {7, 8, 9}}
	cfg := SamplerConfig{MaxNewTokens: 16, Steps: 8, BlockSize: 4, MaskID: mask, PadID: pad}
	batch, err := Generate(m, prompts, cfg, NewRand(1))
	require.NoError(t, err)
	for i, p := range prompts {
		single, err := Generate(m, [][]int32{p}, cfg, NewRand(1))
		require.NoError(t, err)
		assert.Equal(t, single.Samples[0], batch.Samples[i], "row %d", i)
	}
	// The padded canvas is rectangular: 5 + 16 wide.
	for _, c := range m.calls[:1] {
		assert.Equal(t, 21, c.seqLen)
		assert.Equal(t, 3, c.batch)
	}
}

func TestGenerateStops(t *testing.T) {
	const vocab, mask, pad = 20, 19, 18
	// Answer: 1 2 3 4 5 [PAD]... so the answer ends at offset 5.
	tok := func(pos int) int {
		if off := pos - 2; off < 5 {
			return off + 1
		}
		return pad
	}
	m := peakedModel(vocab, tok, func(p int) float64 { return 0.9 - 0.01*float64(p) })
	cfg := SamplerConfig{MaxNewTokens: 32, Steps: 32, BlockSize: 4, MaskID: mask, PadID: pad}
	out, err := Generate(m, [][]int32{{7, 7}}, cfg, NewRand(1))
	require.NoError(t, err)
	s := out.Samples[0]
	assert.Equal(t, []int32{1, 2, 3, 4, 5}, s.Answer)
	assert.True(t, s.Stopped)
	// One token per step, most confident (leftmost) first: the answer has
	// ended once offset 5 ([PAD], position 7) is in, two steps into block 2.
	assert.Equal(t, 6, out.Steps)
	assert.Equal(t, int32(mask), s.Canvas[2+8], "third block never sampled")

	cfg.FullCanvas = true
	full, err := Generate(m, [][]int32{{7, 7}}, cfg, NewRand(1))
	require.NoError(t, err)
	assert.Equal(t, s.Answer, full.Samples[0].Answer)
	assert.Equal(t, 32, full.Steps)

	// A stop sequence "3 4" cuts earlier; early stop needs the block with 4.
	cfg.FullCanvas = false
	cfg.StopSequences = [][]int32{{9, 9, 9}, {3, 4}}
	out, err = Generate(m, [][]int32{{7, 7}}, cfg, NewRand(1))
	require.NoError(t, err)
	assert.Equal(t, []int32{1, 2}, out.Samples[0].Answer)
	assert.Equal(t, 4, out.Steps)
}

func TestCutAnswer(t *testing.T) {
	stops := [][]int32{{5, 6}, {9}}
	for _, tc := range []struct {
		in, want []int32
		cut      bool
	}{
		{[]int32{1, 2, 3}, []int32{1, 2, 3}, false},
		{[]int32{1, 0, 3}, []int32{1}, true},
		{[]int32{1, 5, 6, 0}, []int32{1}, true},
		{[]int32{1, 5, 7, 0}, []int32{1, 5, 7}, true},
		{[]int32{1, 2, 5}, []int32{1, 2, 5}, false},
		{[]int32{9}, []int32{}, true},
		{nil, nil, false},
	} {
		got, cut := CutAnswer(tc.in, 0, stops)
		assert.Equal(t, tc.cut, cut, "%v", tc.in)
		assert.Equal(t, len(tc.want), len(got), "%v", tc.in)
		assert.Equal(t, tc.want, got[:len(tc.want):len(tc.want)], "%v", tc.in)
	}
}

func TestInfill(t *testing.T) {
	const vocab, mask, pad = 20, 19, 18
	m := peakedModel(vocab, func(p int) int { return 10 + p%5 }, func(p int) float64 { return 0.5 + 0.02*float64(p) })
	texts := [][]int32{
		{1, mask, 2, mask, mask, 3, mask},
		{mask, 4, 5, mask},
	}
	rec := &recorder{}
	cfg := SamplerConfig{Steps: 16, MaskID: mask, PadID: pad, Trace: rec.trace}
	out, err := Infill(m, texts, cfg, NewRand(1))
	require.NoError(t, err)
	for i, text := range texts {
		s := out.Samples[i]
		require.Len(t, s.Canvas, len(text))
		assert.Nil(t, s.Answer)
		for p, id := range text {
			if id == mask {
				assert.Equal(t, int32(10+p%5), s.Canvas[p])
			} else {
				assert.Equal(t, id, s.Canvas[p])
			}
		}
	}
	// Four masks in row 0 over 16 steps: one per step, most confident first.
	assert.Equal(t, 4, out.Steps)
	var row0 [][]int
	for _, f := range rec.frames {
		if f.Row == 0 && f.Step > 0 {
			row0 = append(row0, f.Revealed)
		}
	}
	assert.Equal(t, [][]int{{6}, {4}, {3}, {1}}, row0)
	for _, c := range m.calls {
		for _, r := range c.rows {
			assert.Equal(t, int32(mask), c.ids[r], "asked for a given position")
		}
	}
}

func TestAncestral(t *testing.T) {
	const vocab, mask, pad = 16, 15, 14
	m := peakedModel(vocab, func(p int) int { return p % 10 }, func(p int) float64 { return 0.6 })
	rec := &recorder{}
	cfg := SamplerConfig{MaxNewTokens: 24, Steps: 10, MaskID: mask, PadID: pad, Trace: rec.trace}
	out, err := Ancestral(m, [][]int32{{1, 2}}, cfg, NewRand(1))
	require.NoError(t, err)
	s := out.Samples[0]
	for p := 2; p < 26; p++ {
		assert.Equal(t, int32(p%10), s.Canvas[p])
	}
	assert.LessOrEqual(t, out.ForwardPasses, 11)
	assert.Equal(t, len(m.calls), out.ForwardPasses)
	for _, c := range m.calls {
		for _, r := range c.rows {
			assert.Equal(t, int32(mask), c.ids[r])
		}
	}
	revealed := 0
	for _, f := range rec.frames {
		revealed += len(f.Revealed)
	}
	assert.Equal(t, 24, revealed)

	// From t to s each mask is revealed with probability 1 - s/t: 1/4 on the
	// first of four steps.
	first := 0.0
	const trials = 400
	rng := NewRand(2)
	for range trials {
		rec := &recorder{}
		cfg := SamplerConfig{MaxNewTokens: 64, Steps: 4, MaskID: mask, PadID: pad, Trace: rec.trace}
		_, err := Ancestral(m, [][]int32{{1}}, cfg, rng)
		require.NoError(t, err)
		for _, f := range rec.frames {
			if f.Step == 1 {
				first += float64(len(f.Revealed))
			}
		}
	}
	p := 1 - (1-0.25*(1-ancestralTMin))/1.0
	sd := math.Sqrt(64 * p * (1 - p) / trials)
	assert.InDelta(t, 64*p, first/trials, 5*sd)
}

func TestAncestralSamplesFromModel(t *testing.T) {
	const vocab, mask, pad = 5, 4, 3
	l := []float32{0.5, -0.2, 0.9, 0.1, 2} // the mask logit must be ignored
	m := &fakeModel{vocab: vocab, fn: func(_ []int32, _ int) []float32 { return l }}
	rng := NewRand(3)
	// sigma = sqrt(p(1-p)/n) <= 0.011 at n = 2000: the 5-sigma bound (<= 0.056)
	// is well inside the 0.22 by which token 2's probability would drop (0.41
	// to 0.18) if the mask logit were not ignored.
	const n = 2000
	counts := make([]float64, vocab)
	cfg := SamplerConfig{MaxNewTokens: 1, Steps: 1, Temperature: 1, MaskID: mask, PadID: pad, FullCanvas: true}
	for range n {
		out, err := Ancestral(m, [][]int32{{0}}, cfg, rng)
		require.NoError(t, err)
		counts[out.Samples[0].Canvas[1]]++
	}
	z := 0.0
	for v := range 4 {
		z += math.Exp(float64(l[v]))
	}
	for v := range 4 {
		p := math.Exp(float64(l[v])) / z
		assert.InDelta(t, p, counts[v]/n, 5*math.Sqrt(p*(1-p)/n), "token %d", v)
	}
}

func TestTraceFrames(t *testing.T) {
	const vocab, mask, pad = 12, 11, 10
	m := peakedModel(vocab, func(p int) int { return p % 8 }, func(p int) float64 { return 0.3 + 0.05*float64(p%7) })
	rec := &recorder{}
	cfg := SamplerConfig{MaxNewTokens: 12, Steps: 6, BlockSize: 4, MaskID: mask, PadID: pad, Trace: rec.trace, FullCanvas: true}
	out, err := Generate(m, [][]int32{{1, 2, 3}, {4}}, cfg, NewRand(1))
	require.NoError(t, err)
	require.Len(t, rec.frames, 2*(out.Steps+1))
	prev := map[int]Frame{}
	for _, f := range rec.frames {
		assert.Equal(t, 12, f.Total)
		assert.Equal(t, int32(mask), f.MaskID)
		masked := 0
		for _, id := range f.Canvas[f.PromptLen:] {
			if id == mask {
				masked++
			}
		}
		assert.Equal(t, masked, f.Masked)
		if p, ok := prev[f.Row]; ok {
			assert.Equal(t, p.Step+1, f.Step)
			var changed []int
			for i := range f.Canvas {
				if f.Canvas[i] != p.Canvas[i] {
					changed = append(changed, i)
				}
			}
			assert.Equal(t, changed, f.Revealed)
			assert.Equal(t, p.Masked-len(f.Revealed), f.Masked)
		} else {
			assert.Zero(t, f.Step)
			assert.Equal(t, 12, f.Masked)
		}
		prev[f.Row] = f
	}
	assert.Zero(t, prev[0].Masked)
	assert.Zero(t, prev[1].Masked)
}

func TestSamplerConfigErrors(t *testing.T) {
	m := &fakeModel{vocab: 8, fn: func(_ []int32, _ int) []float32 { return make([]float32, 8) }}
	base := SamplerConfig{MaskID: 7, PadID: 6}
	for name, mod := range map[string]func(*SamplerConfig){
		"mask out of vocab": func(c *SamplerConfig) { c.MaskID = 8 },
		"mask is pad":       func(c *SamplerConfig) { c.PadID = 7 },
		"temperature":       func(c *SamplerConfig) { c.Temperature = -1 },
		"threshold":         func(c *SamplerConfig) { c.Threshold = 1.5 },
		"threshold random":  func(c *SamplerConfig) { c.Threshold = 0.5; c.Remasking = RandomRemasking },
		"cfg":               func(c *SamplerConfig) { c.CFGScale = math.NaN() },
		"suppress":          func(c *SamplerConfig) { c.SuppressTokens = []int32{-1} },
		"stop":              func(c *SamplerConfig) { c.StopSequences = [][]int32{{}} },
		"steps":             func(c *SamplerConfig) { c.Steps = -2 },
	} {
		c := base
		mod(&c)
		_, err := Generate(m, [][]int32{{1}}, c, NewRand(1))
		assert.Error(t, err, name)
	}
	_, err := Generate(m, nil, base, NewRand(1))
	assert.Error(t, err)
	_, err = Generate(m, [][]int32{{1, 7}}, base, NewRand(1))
	assert.Error(t, err, "mask in prompt")
	_, err = Infill(m, [][]int32{{}}, base, NewRand(1))
	assert.Error(t, err)
	for _, name := range []string{"low_confidence", "random"} {
		r, err := ParseRemasking(name)
		require.NoError(t, err)
		assert.Equal(t, name, r.String())
	}
	_, err = ParseRemasking("high_confidence")
	assert.Error(t, err)
}

// TestPickAllIndependentOfScheduling: per-position generators make the
// result the same however many threads score the positions.
func TestPickAllIndependentOfScheduling(t *testing.T) {
	rng := NewRand(30)
	const n, vocab = 23, 300
	logits := make([]float64, n*vocab)
	for i := range logits {
		logits[i] = rng.NormFloat64()
	}
	seeds := make([][2]uint64, n)
	for i := range seeds {
		seeds[i] = [2]uint64{rng.Uint64(), rng.Uint64()}
	}
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	var results [][]choice
	for _, procs := range []int{1, 2, 7} {
		runtime.GOMAXPROCS(procs)
		got, err := pickAll(logits, n, vocab, 0.9, RandomRemasking, seeds)
		require.NoError(t, err)
		results = append(results, got)
	}
	assert.Equal(t, results[0], results[1])
	assert.Equal(t, results[0], results[2])
}

func TestRandomRemasking(t *testing.T) {
	const vocab, mask, pad = 20, 19, 18
	conf := func(p int) float64 { return 0.2 + 0.03*float64(p) } // rightmost is most confident
	orders := map[string]bool{}
	for seed := range uint64(20) {
		m := peakedModel(vocab, func(p int) int { return p % 10 }, conf)
		rec := &recorder{}
		cfg := SamplerConfig{MaxNewTokens: 8, Steps: 4, BlockSize: 8, Remasking: RandomRemasking, MaskID: mask, PadID: pad, Trace: rec.trace}
		out, err := Generate(m, [][]int32{{1}}, cfg, NewRand(seed))
		require.NoError(t, err)
		var order []int
		for _, f := range rec.frames[1:] {
			assert.Len(t, f.Revealed, 2, "8 masks over 4 steps")
			order = append(order, f.Revealed...)
		}
		orders[fmt.Sprint(order)] = true
		for p := 1; p < 9; p++ {
			assert.Equal(t, int32(p%10), out.Samples[0].Canvas[p], "tokens are still the model's argmax")
		}
	}
	assert.Greater(t, len(orders), 10, "the order is random, not by confidence")
}

func TestAncestralStopsAtPad(t *testing.T) {
	const vocab, mask, pad = 12, 11, 10
	tok := func(p int) int {
		if p < 4 {
			return p
		}
		return pad
	}
	m := peakedModel(vocab, tok, func(int) float64 { return 0.9 })
	cfg := SamplerConfig{MaxNewTokens: 40, Steps: 40, MaskID: mask, PadID: pad}
	out, err := Ancestral(m, [][]int32{{5}}, cfg, NewRand(1))
	require.NoError(t, err)
	assert.Equal(t, []int32{1, 2, 3}, out.Samples[0].Answer)
	assert.True(t, out.Samples[0].Stopped)
	assert.Less(t, out.Steps, 40, "stops once 1 2 3 [PAD] are committed")
}

func TestInfillGuidanceMasksGivenTokens(t *testing.T) {
	const vocab, mask, pad = 10, 9, 8
	m := peakedModel(vocab, func(p int) int { return p }, func(int) float64 { return 0.5 })
	text := []int32{1, mask, 3, mask}
	_, err := Infill(m, [][]int32{text}, SamplerConfig{CFGScale: 1, MaskID: mask, PadID: pad}, NewRand(1))
	require.NoError(t, err)
	for _, c := range m.calls {
		require.Equal(t, 2, c.batch)
		cond, un := c.ids[:4], c.ids[4:]
		// Given tokens are hidden; what the sampler committed is kept.
		assert.Equal(t, []int32{mask, cond[1], mask, cond[3]}, un)
	}
}
