package mdlm

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dllmgo/dllm/data"
)

func TestSchedulesEndpointsAndWeight(t *testing.T) {
	for _, s := range []Schedule{Linear{}, Cosine{}} {
		t.Run(s.Name(), func(t *testing.T) {
			assert.InDelta(t, 1, s.Alpha(0), 1e-15)
			assert.InDelta(t, 0, s.Alpha(1), 1e-15)
			// The weight is -α'/(1-α); check it against a central difference.
			for _, tt := range []float64{1e-3, 0.01, 0.2, 0.5, 0.77, 0.99} {
				h := 1e-6 * min(tt, 1-tt)
				deriv := (s.Alpha(tt+h) - s.Alpha(tt-h)) / (2 * h)
				want := -deriv / (1 - s.Alpha(tt))
				assert.InEpsilon(t, want, s.Weight(tt), 1e-6, "t=%v", tt)
			}
			got, err := ScheduleByName(s.Name())
			require.NoError(t, err)
			assert.Equal(t, s, got)
		})
	}
	assert.InDelta(t, 1/0.3, Linear{}.Weight(0.3), 1e-12)
	_, err := ScheduleByName("quadratic")
	assert.Error(t, err)
}

func TestSampleTimes(t *testing.T) {
	rng := NewRand(1)
	const n, eps = 64, 1e-3
	for _, how := range []TimeSampling{TimeUniform, TimeStratified, TimeAntithetic} {
		ts := SampleTimes(n, eps, how, rng)
		require.Len(t, ts, n)
		for _, x := range ts {
			assert.GreaterOrEqual(t, x, eps)
			assert.LessOrEqual(t, x, 1.0)
		}
		parsed, err := ParseTimeSampling(how.String())
		require.NoError(t, err)
		assert.Equal(t, how, parsed)
	}
	// Stratified: exactly one t in each of the n strata of the u scale.
	ts := SampleTimes(n, eps, TimeStratified, rng)
	for i, x := range ts {
		u := (x - eps) / (1 - eps)
		assert.Equal(t, i, int(u*n), "t[%d]=%v", i, x)
	}
	// Antithetic: u and 1-u in pairs.
	ts = SampleTimes(n, eps, TimeAntithetic, rng)
	for i := 0; i < n; i += 2 {
		assert.InDelta(t, 1+eps, ts[i]+ts[i+1], 1e-12)
	}
}

// sftBatch builds a random SFT batch: prompt (label ignored), answer, then a
// [PAD] tail whose labels are [PAD].
func sftBatch(rng *rand.Rand, rows, seqLen int, vocab, pad int32) data.Batch {
	b := data.Batch{B: rows, S: seqLen}
	for range rows {
		prompt := 1 + rng.IntN(seqLen/2)
		answer := 1 + rng.IntN(seqLen-prompt)
		b.PromptLens = append(b.PromptLens, prompt)
		for s := range seqLen {
			id := rng.Int32N(vocab - 2) // ids below pad and mask
			switch {
			case s < prompt:
				b.InputIDs = append(b.InputIDs, id)
				b.Labels = append(b.Labels, data.IgnoreIndex)
			case s < prompt+answer:
				b.InputIDs = append(b.InputIDs, id)
				b.Labels = append(b.Labels, id)
			default:
				b.InputIDs = append(b.InputIDs, pad)
				b.Labels = append(b.Labels, pad)
			}
		}
	}
	return b
}

func TestCorruptSFT(t *testing.T) {
	const vocab, pad, mask = 50, 48, 49
	rng := NewRand(2)
	padMasked := 0
	for trial := range 200 {
		b := sftBatch(rng, 4, 24, vocab, pad)
		norm := Normalization(trial % 3)
		c, err := Corrupt(b, ObjectiveOptions{MaskID: mask, Normalization: norm, Times: TimeStratified}, rng)
		require.NoError(t, err)
		require.Len(t, c.T, 4)
		require.Len(t, c.Targets, len(c.Rows))
		require.Len(t, c.Weights, len(c.Rows))

		supervised, perRow := 0, make([]int, b.B)
		for r := range b.B {
			for s := range b.S {
				if b.Labels[r*b.S+s] != data.IgnoreIndex {
					perRow[r]++
				}
			}
			supervised += perRow[r]
		}
		assert.Equal(t, supervised, c.Supervised)

		// Rows are exactly the masked positions, increasing, never in a prompt.
		var want []int32
		for i, id := range c.Noisy {
			r, s := i/b.S, i%b.S
			if s < b.PromptLens[r] {
				require.Equal(t, b.InputIDs[i], id, "prompt position changed")
				continue
			}
			if id == mask {
				want = append(want, int32(i))
			} else {
				require.Equal(t, b.InputIDs[i], id)
			}
		}
		require.Equal(t, want, c.Rows)
		for i, flat := range c.Rows {
			r := int(flat) / b.S
			require.Equal(t, b.Labels[flat], c.Targets[i])
			if c.Targets[i] == pad {
				padMasked++
			}
			w := 1 / c.T[r]
			switch norm {
			case NormTokens:
				w /= float64(supervised)
			case NormSequences:
				w /= float64(perRow[r] * b.B)
			case NormBatch:
				w /= float64(b.B)
			}
			assert.InEpsilon(t, w, c.Weights[i], 1e-12)
		}
	}
	assert.Positive(t, padMasked, "the [PAD] tail is supervised and must be masked sometimes")
}

func TestCorruptNeverMasksPromptEvenIfLabelled(t *testing.T) {
	rng := NewRand(3)
	ids := make([]int32, 2*16)
	for i := range ids {
		ids[i] = rng.Int32N(10)
	}
	b := data.Batch{InputIDs: ids, PromptLens: []int{5, 9}, B: 2, S: 16} // labels nil: everything labelled
	c, err := Corrupt(b, ObjectiveOptions{MaskID: 99, FixedTimes: []float64{1, 1}}, rng)
	require.NoError(t, err)
	// At t = 1 every supervised token is masked, so the rows are exactly the non-prompt positions.
	var want []int32
	for s := 5; s < 16; s++ {
		want = append(want, int32(s))
	}
	for s := 9; s < 16; s++ {
		want = append(want, int32(16+s))
	}
	assert.Equal(t, want, c.Rows)
	assert.Equal(t, 11+7, c.Supervised)
}

func TestCorruptMaskRate(t *testing.T) {
	rng := NewRand(4)
	const n = 20000
	ids := make([]int32, n)
	for i := range ids {
		ids[i] = rng.Int32N(100)
	}
	for _, s := range []Schedule{Linear{}, Cosine{}} {
		for _, tt := range []float64{0.1, 0.35, 0.8} {
			c, err := Corrupt(data.Batch{InputIDs: ids, B: 1, S: n}, ObjectiveOptions{MaskID: 100, Schedule: s, FixedTimes: []float64{tt}}, rng)
			require.NoError(t, err)
			p := 1 - s.Alpha(tt)
			sd := math.Sqrt(p * (1 - p) / n)
			assert.InDelta(t, p, float64(len(c.Rows))/n, 5*sd, "%s t=%v", s.Name(), tt)
		}
	}
}

func TestCorruptRejectsBadInput(t *testing.T) {
	rng := NewRand(5)
	ok := data.Batch{InputIDs: make([]int32, 6), B: 2, S: 3}
	for name, b := range map[string]data.Batch{
		"shape":      {InputIDs: make([]int32, 5), B: 2, S: 3},
		"labels":     {InputIDs: make([]int32, 6), Labels: make([]int32, 5), B: 2, S: 3},
		"prompts":    {InputIDs: make([]int32, 6), PromptLens: []int{1}, B: 2, S: 3},
		"prompt len": {InputIDs: make([]int32, 6), PromptLens: []int{1, 4}, B: 2, S: 3},
		"label":      {InputIDs: make([]int32, 6), Labels: []int32{0, 0, -3, 0, 0, 0}, B: 2, S: 3},
		"empty":      {},
	} {
		_, err := Corrupt(b, ObjectiveOptions{}, rng)
		assert.Error(t, err, name)
	}
	_, err := Corrupt(ok, ObjectiveOptions{FixedTimes: []float64{0.5}}, rng)
	assert.Error(t, err)
	_, err = Corrupt(ok, ObjectiveOptions{FixedTimes: []float64{0.5, 0}}, rng)
	assert.Error(t, err)
	_, err = Corrupt(ok, ObjectiveOptions{Eps: 1.5}, rng)
	assert.Error(t, err)
}

// gather copies the given rows out of full-sequence logits.
func gather(full []float32, vocab int, rows []int32) []float32 {
	out := make([]float32, 0, len(rows)*vocab)
	for _, r := range rows {
		out = append(out, full[int(r)*vocab:int(r+1)*vocab]...)
	}
	return out
}

func randomLogits(rng *rand.Rand, n int) []float32 {
	l := make([]float32, n)
	for i := range l {
		l[i] = float32(rng.NormFloat64() * 2)
	}
	return l
}

// TestLossValue compares the Corrupt + LossFromLogits loss with a direct
// evaluation of the objective's formula over full-sequence logits.
func TestLossValue(t *testing.T) {
	const vocab, pad, mask = 30, 28, 29
	rng := NewRand(6)
	for trial := range 30 {
		b := sftBatch(rng, 3, 20, vocab, pad)
		opts := ObjectiveOptions{MaskID: mask, Normalization: Normalization(trial % 3), Weighting: Weighting(trial / 3 % 2)}
		if trial%4 == 0 {
			opts.Schedule = Cosine{}
		}
		c, err := Corrupt(b, opts, rng)
		require.NoError(t, err)
		full := randomLogits(rng, b.B*b.S*vocab)
		got, err := LossFromLogits(gather(full, vocab, c.Rows), c.Targets, c.Weights)
		require.NoError(t, err)

		sched := opts.Schedule
		if sched == nil {
			sched = Linear{}
		}
		want := 0.0
		for r := range b.B {
			sum, sup := 0.0, 0
			for s := range b.S {
				i := r*b.S + s
				if b.Labels[i] == data.IgnoreIndex {
					continue
				}
				sup++
				if c.Noisy[i] != mask {
					continue
				}
				// Cross-entropy from the softmax, written out.
				den := 0.0
				for v := range vocab {
					den += math.Exp(float64(full[i*vocab+v]))
				}
				ce := -math.Log(math.Exp(float64(full[i*vocab+int(b.Labels[i])])) / den)
				w := 1.0
				if opts.Weighting == WeightSchedule {
					w = sched.Weight(c.T[r])
				}
				sum += w * ce
			}
			switch opts.Normalization {
			case NormTokens:
				want += sum / float64(c.Supervised)
			case NormSequences:
				want += sum / float64(sup) / float64(b.B)
			case NormBatch:
				want += sum / float64(b.B)
			}
		}
		assert.InEpsilon(t, want, got, 1e-9, "trial %d", trial)
	}
}

// TestLossByHand checks one case small enough to work out on paper: at t = 1
// every supervised token is masked and the linear weight is 1.
func TestLossByHand(t *testing.T) {
	b := data.Batch{InputIDs: []int32{0, 1, 1}, Labels: []int32{data.IgnoreIndex, 1, 0}, B: 1, S: 3}
	c, err := Corrupt(b, ObjectiveOptions{MaskID: 2, FixedTimes: []float64{1}}, NewRand(7))
	require.NoError(t, err)
	assert.Equal(t, []int32{0, 2, 2}, c.Noisy)
	assert.Equal(t, []int32{1, 2}, c.Rows)
	ln3 := float32(math.Log(3))
	logits := []float32{
		0, ln3, 0, // row 1
		0, 0, 0, // row 2
	}
	loss, err := LossFromLogits(logits, c.Targets, c.Weights)
	require.NoError(t, err)
	// Row 1: softmax(0, ln3, 0)[1] = 3/5. Row 2: uniform, 1/3. Two supervised tokens.
	want := (math.Log(5.0/3) + math.Log(3)) / 2
	assert.InDelta(t, want, loss, 1e-7)
}

// TestGradientReachesOnlyMaskedRows perturbs every full-sequence logit and
// checks by finite differences that the loss moves only through the rows
// Corrupt returned, and there as w·(softmax - onehot).
func TestGradientReachesOnlyMaskedRows(t *testing.T) {
	const vocab, pad, mask = 7, 5, 6
	rng := NewRand(8)
	b := sftBatch(rng, 2, 10, vocab, pad)
	c, err := Corrupt(b, ObjectiveOptions{MaskID: mask, FixedTimes: []float64{0.6, 0.9}}, rng)
	require.NoError(t, err)
	require.NotEmpty(t, c.Rows)
	full := randomLogits(rng, b.B*b.S*vocab)
	loss := func() float64 {
		l, err := LossFromLogits(gather(full, vocab, c.Rows), c.Targets, c.Weights)
		require.NoError(t, err)
		return l
	}
	rowIndex := map[int]int{}
	for i, r := range c.Rows {
		rowIndex[int(r)] = i
	}
	const h = 1e-2
	for i := range full {
		orig := full[i]
		full[i] = orig + h
		up := loss()
		full[i] = orig - h
		down := loss()
		full[i] = orig
		grad := (up - down) / (2 * h)
		pos, v := i/vocab, i%vocab
		k, masked := rowIndex[pos]
		if !masked {
			require.Zero(t, grad, "gradient at unmasked position %d", pos)
			continue
		}
		row := full[pos*vocab : (pos+1)*vocab]
		p := math.Exp(float64(row[v]) - logSumExp32(row))
		if int32(v) == c.Targets[k] {
			p--
		}
		assert.InDelta(t, c.Weights[k]*p, grad, 1e-4*c.Weights[k], "position %d token %d", pos, v)
	}
}

// TestLossExpectationMatchesIntegral averages the loss over many draws of t
// and the masks on a two-token toy model whose probability of the true token
// is a at a masked position whose neighbour is visible and b when both are
// masked, and compares with the closed-form integral
//
//	E = 1/(1-eps) ∫_eps^1 w(t)·m(t)·[(1-m(t))·A + m(t)·B] dt,  A = -log a, B = -log b,
//
// (m the mask probability, w the weight, normalised by the 2 supervised
// tokens). With u = m(t) and w·m·dt = du for both schedules this is
// A·[(1-u0) - (1-u0²)/2] + B·(1-u0²)/2, divided by (1-eps), u0 = m(eps).
func TestLossExpectationMatchesIntegral(t *testing.T) {
	if testing.Short() {
		t.Skip("a Monte Carlo loop: runs without -short (make test)")
	}
	const a, b, eps = 0.7, 0.2, 1e-3
	const vocab, mask = 4, 3
	toy := &fakeModel{vocab: vocab, quiet: true, fn: func(seq []int32, pos int) []float32 {
		p := a
		if seq[1-pos] == mask {
			p = b
		}
		// Log-probabilities: p on the true token (0 at position 0, 1 at position 1).
		l := make([]float32, vocab)
		for v := range l {
			l[v] = float32(math.Log((1 - p) / (vocab - 1)))
		}
		l[pos] = float32(math.Log(p))
		return l
	}}
	A, B := -math.Log(a), -math.Log(b)
	for _, sched := range []Schedule{Linear{}, Cosine{}} {
		t.Run(sched.Name(), func(t *testing.T) {
			u0 := 1 - sched.Alpha(eps)
			want := (A*((1-u0)-(1-u0*u0)/2) + B*(1-u0*u0)/2) / (1 - eps)
			rng := NewRand(9)
			// 1000 batches of 64 rows: a standard error of 0.006 to 0.008
			// (under 1% of the loss), so the 4-sigma bound below catches any
			// error of the weighting or the normalisation larger than 3%.
			const rows, batches = 64, 1000
			ids := make([]int32, rows*2)
			for r := range rows {
				ids[2*r], ids[2*r+1] = 0, 1
			}
			var sum, sumSq float64
			for range batches {
				c, err := Corrupt(data.Batch{InputIDs: ids, B: rows, S: 2}, ObjectiveOptions{MaskID: mask, Schedule: sched, Times: TimeStratified}, rng)
				require.NoError(t, err)
				logits, err := toy.Logits(c.Noisy, rows, 2, nil, c.Rows)
				require.NoError(t, err)
				l, err := LossFromLogits(logits, c.Targets, c.Weights)
				require.NoError(t, err)
				sum += l
				sumSq += l * l
			}
			mean := sum / batches
			se := math.Sqrt((sumSq/batches - mean*mean) / batches)
			t.Logf("MC %.5f ± %.5f, closed form %.5f", mean, se, want)
			assert.InDelta(t, want, mean, 4*se+1e-9)
		})
	}
}

func TestLossFromLogitsErrors(t *testing.T) {
	_, err := LossFromLogits([]float32{1, 2, 3}, []int32{0, 1}, []float64{1, 1})
	assert.Error(t, err)
	_, err = LossFromLogits([]float32{1, 2}, []int32{0}, nil)
	assert.Error(t, err)
	_, err = LossFromLogits([]float32{1, 2}, []int32{2}, []float64{1})
	assert.Error(t, err)
	l, err := LossFromLogits(nil, nil, nil)
	assert.NoError(t, err)
	assert.Zero(t, l)
}
