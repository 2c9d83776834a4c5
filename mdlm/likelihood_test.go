package mdlm

import (
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fixedModel returns per-position logits that ignore the canvas, except that
// with guided tables it answers from un when position 0 is masked.
func fixedModel(vocab, mask int, cond, un [][]float32) *fakeModel {
	return &fakeModel{vocab: vocab, fn: func(seq []int32, pos int) []float32 {
		if un != nil && seq[0] == int32(mask) {
			return un[pos]
		}
		return cond[pos]
	}}
}

// replayEstimate recomputes the estimate from the calls the model received:
// every masked continuation position of every copy adds its cross-entropy
// (of the guided logits when scale > 0), scaled by L/k.
func replayEstimate(t *testing.T, m *fakeModel, seq []int32, promptLen int, mask int32, scale float64, cond, un [][]float32) float64 {
	l := len(seq) - promptLen
	total, samples := 0.0, 0
	for _, c := range m.calls {
		copies := c.batch
		if scale > 0 {
			copies /= 2
		}
		for b := range copies {
			row := c.ids[b*c.seqLen : (b+1)*c.seqLen]
			k := 0
			ce := 0.0
			for s, id := range row {
				if s < promptLen {
					require.Equal(t, seq[s], id, "prompt position %d masked", s)
					continue
				}
				if id != mask {
					require.Equal(t, seq[s], id)
					continue
				}
				k++
				g := make([]float64, len(cond[s]))
				for v := range g {
					g[v] = float64(cond[s][v])
					if scale > 0 {
						u := float64(un[s][v])
						g[v] = u + (scale+1)*(g[v]-u)
					}
				}
				ce += logSumExp(g) - g[seq[s]]
			}
			require.Positive(t, k)
			total += ce * float64(l) / float64(k)
			samples++
		}
	}
	return -total / float64(samples)
}

func TestLogLikelihoodArithmetic(t *testing.T) {
	const vocab, mask = 11, 10
	rng := NewRand(20)
	prompt := []int32{1, 2, 3, 4}
	cont := []int32{5, 6, 7, 8, 9, 0, 1}
	seq := append(append([]int32(nil), prompt...), cont...)
	cond := make([][]float32, len(seq))
	un := make([][]float32, len(seq))
	for i := range cond {
		cond[i] = randomLogits(rng, vocab)
		un[i] = randomLogits(rng, vocab)
	}
	for _, scale := range []float64{0, 0.7} {
		m := fixedModel(vocab, mask, cond, un)
		opts := LikelihoodOptions{Samples: 40, BatchSize: 16, MaskID: mask, CFGScale: scale}
		got, err := LogLikelihood(m, prompt, cont, opts, NewRand(1))
		require.NoError(t, err)
		want := replayEstimate(t, m, seq, len(prompt), mask, scale, cond, un)
		assert.InDelta(t, want, got, 1e-9*math.Abs(want))
		// 40 samples in batches of 16: 16, 16, 8.
		require.Len(t, m.calls, 3)
		copies := []int{16, 16, 8}
		for i, c := range m.calls {
			if scale > 0 {
				assert.Equal(t, 2*copies[i], c.batch)
			} else {
				assert.Equal(t, copies[i], c.batch)
			}
		}
	}
}

// TestLogLikelihoodStratifiesK checks each batch's mask counts: one random
// start, then evenly spaced over 1..L (LLaDA's linspace), wrapped.
func TestLogLikelihoodStratifiesK(t *testing.T) {
	const vocab, mask = 8, 7
	cont := make([]int32, 10)
	cond := make([][]float32, 12)
	for i := range cond {
		cond[i] = make([]float32, vocab)
	}
	m := fixedModel(vocab, mask, cond, nil)
	_, err := LogLikelihood(m, []int32{1, 2}, cont, LikelihoodOptions{Samples: 64, BatchSize: 4, MaskID: mask}, NewRand(2))
	require.NoError(t, err)
	starts := map[int]bool{}
	for _, c := range m.calls {
		var ks []int
		for b := range c.batch {
			k := 0
			for _, id := range c.ids[b*c.seqLen : (b+1)*c.seqLen] {
				if id == mask {
					k++
				}
			}
			ks = append(ks, k)
		}
		start := ks[0]
		starts[start] = true
		for i, k := range ks {
			// L = 10, b = 4: spacing 2.5, rounded half to even.
			want := int(math.RoundToEven(float64(start)+2.5*float64(i))-1)%10 + 1
			assert.Equal(t, want, k, "batch %v", ks)
		}
	}
	assert.Greater(t, len(starts), 5, "the start should vary between batches")
}

// TestLogLikelihoodUnbiased uses a model whose prediction at a masked
// position does not depend on the context. The ELBO is then exact: its
// expectation is Σ log q_s(x_s). With equal cross-entropies every sample is
// exact; with unequal ones the average converges.
func TestLogLikelihoodUnbiased(t *testing.T) {
	const vocab, mask = 6, 5
	rng := NewRand(21)
	cont := []int32{0, 1, 2, 3, 4, 0, 1}
	prompt := []int32{2, 2}
	n := len(prompt) + len(cont)

	same := make([][]float32, n)
	for i := range same {
		same[i] = make([]float32, vocab)
		same[i][cont[max(i-2, 0)]] = 1.3 // the true token gets the same margin everywhere
	}
	exact := 0.0
	for s, id := range cont {
		exact -= CrossEntropy(same[s+2], id)
	}
	got, err := LogLikelihood(fixedModel(vocab, mask, same, nil), prompt, cont, LikelihoodOptions{Samples: 8, BatchSize: 3, MaskID: mask}, rng)
	require.NoError(t, err)
	assert.InDelta(t, exact, got, 1e-12)

	varied := make([][]float32, n)
	exact = 0
	for i := range varied {
		varied[i] = randomLogits(rng, vocab)
		if i >= 2 {
			exact -= CrossEntropy(varied[i], cont[i-2])
		}
	}
	m := fixedModel(vocab, mask, varied, nil)
	m.quiet = true
	var sum, sumSq float64
	const reps = 1000
	for range reps {
		x, err := LogLikelihood(m, prompt, cont, LikelihoodOptions{Samples: 16, MaskID: mask}, rng)
		require.NoError(t, err)
		sum += x
		sumSq += x * x
	}
	mean := sum / reps
	se := math.Sqrt((sumSq/reps - mean*mean) / reps)
	t.Logf("estimate %.4f ± %.4f, exact %.4f", mean, se, exact)
	assert.InDelta(t, exact, mean, 4*se)
}

func TestLogLikelihoodDeterministicAndErrors(t *testing.T) {
	const vocab, mask = 6, 5
	rng := NewRand(22)
	tables := make([][]float32, 8)
	for i := range tables {
		tables[i] = randomLogits(rng, vocab)
	}
	m := &fakeModel{vocab: vocab, fn: func(seq []int32, pos int) []float32 {
		l := append([]float32(nil), tables[pos]...)
		for _, id := range seq {
			if id != mask {
				l[id] += 0.3 // context matters, so different masks give different scores
			}
		}
		return l
	}}
	opts := LikelihoodOptions{Samples: 24, BatchSize: 8, MaskID: mask}
	a, err := LogLikelihood(m, []int32{1, 2}, []int32{3, 4, 0, 1}, opts, NewRand(5))
	require.NoError(t, err)
	b, err := LogLikelihood(m, []int32{1, 2}, []int32{3, 4, 0, 1}, opts, NewRand(5))
	require.NoError(t, err)
	c, err := LogLikelihood(m, []int32{1, 2}, []int32{3, 4, 0, 1}, opts, NewRand(6))
	require.NoError(t, err)
	assert.Equal(t, a, b)
	assert.NotEqual(t, a, c)
	assert.Negative(t, a)

	scores, err := LogLikelihoods(m, []int32{1, 2}, [][]int32{{3, 4}, {0, 1, 2}}, opts, NewRand(5))
	require.NoError(t, err)
	assert.Len(t, scores, 2)

	_, err = LogLikelihood(m, []int32{1}, nil, opts, NewRand(1))
	assert.Error(t, err)
	_, err = LogLikelihood(m, []int32{1}, []int32{9}, opts, NewRand(1))
	assert.Error(t, err)
	_, err = LogLikelihood(m, []int32{1}, []int32{1}, LikelihoodOptions{MaskID: 6}, NewRand(1))
	assert.Error(t, err)
	_, err = LogLikelihoods(m, []int32{1}, [][]int32{{1}, {}}, opts, NewRand(1))
	assert.ErrorContains(t, err, "choice 1")
}
