package mdlm

import (
	"fmt"
	"math"
	"math/rand/v2"
)

// LikelihoodOptions configures LogLikelihood.
type LikelihoodOptions struct {
	// Samples is the number of Monte Carlo samples (LLaDA's mc_num; 128).
	Samples int
	// BatchSize is the number of samples per forward pass (32). The
	// stratification of k runs over each batch.
	BatchSize int
	// MaskID is the [MASK] token.
	MaskID int32
	// CFGScale > 0 scores with guided logits (the prompt masked in the
	// unconditional copy), as LLaDA's evaluation allows.
	CFGScale float64
	// Weighting is the weight of a sample's cross-entropy sum: the ELBO's
	// L/k (WeightSchedule, the zero value: the linear schedule's 1/t at
	// t = k/L), or 1 (WeightUniform: not a bound on anything; there so that
	// tests can show what dropping the weight does to a choice).
	Weighting Weighting
}

// Defaults for LikelihoodOptions.
const (
	DefaultLikelihoodSamples = 128
	DefaultLikelihoodBatch   = 32
)

// LogLikelihood estimates log p(continuation | prompt) by the Monte Carlo
// ELBO of LLaDA's evaluation: each sample masks k of the L continuation
// tokens (the prompt is never masked) and scores -Σ CE / (k/L) over the
// masked positions. Within a batch the k are stratified: one random start,
// then evenly spaced over 1..L and wrapped, so every batch covers the range
// of noise levels. The estimate is a lower bound on the log-likelihood in
// expectation; comparing it across the choices of a question is how
// multiple-choice tasks are scored.
func LogLikelihood(d Denoiser, prompt, continuation []int32, opts LikelihoodOptions, rng *rand.Rand) (float64, error) {
	if opts.Samples == 0 {
		opts.Samples = DefaultLikelihoodSamples
	}
	if opts.BatchSize == 0 {
		opts.BatchSize = DefaultLikelihoodBatch
	}
	vocab := d.VocabSize()
	switch {
	case len(continuation) == 0:
		return 0, fmt.Errorf("mdlm: empty continuation")
	case opts.Samples < 0 || opts.BatchSize < 0:
		return 0, fmt.Errorf("mdlm: samples %d, batch size %d", opts.Samples, opts.BatchSize)
	case !(opts.CFGScale >= 0) || math.IsInf(opts.CFGScale, 0):
		return 0, fmt.Errorf("mdlm: cfg scale %v", opts.CFGScale)
	case opts.Weighting != WeightSchedule && opts.Weighting != WeightUniform:
		return 0, fmt.Errorf("mdlm: likelihood weighting %s (want schedule or uniform)", opts.Weighting)
	case vocab <= 0 || opts.MaskID < 0 || int(opts.MaskID) >= vocab:
		return 0, fmt.Errorf("mdlm: mask id %d outside vocabulary of %d", opts.MaskID, vocab)
	}
	for _, id := range continuation {
		if id < 0 || int(id) >= vocab {
			return 0, fmt.Errorf("mdlm: continuation token %d outside vocabulary of %d", id, vocab)
		}
	}

	p, l := len(prompt), len(continuation)
	seq := append(append([]int32(nil), prompt...), continuation...)
	given := make([]bool, len(seq))
	for s := range p {
		given[s] = true
	}
	// Only guidance and the forward-pass count of logitSource are used here:
	// the likelihood scores the model's plain distribution, nothing banned.
	ls := &logitSource{d: d, vocab: vocab, maskID: opts.MaskID, cfg: opts.CFGScale}
	defer ls.release() // the last step's logits go back to the model

	total := 0.0
	for done := 0; done < opts.Samples; {
		b := min(opts.BatchSize, opts.Samples-done)
		cv := &canvas{width: len(seq)}
		var q request
		start := 1 + rng.IntN(l)
		ks := make([]int, b)
		for i := range b {
			// torch.linspace(k, k+(b-1)·L/b, b), rounded half to even, wrapped into 1..L.
			k := int(math.RoundToEven(float64(start) + float64(i)*float64(l)/float64(b)))
			ks[i] = (k-1)%l + 1
			row := append([]int32(nil), seq...)
			perm := rng.Perm(l)
			pos := make([]int, 0, ks[i])
			for s := range l {
				// The first k entries of a random permutation: k distinct
				// positions, in increasing order.
				if perm[s] < ks[i] {
					row[p+s] = opts.MaskID
					pos = append(pos, p+s)
				}
			}
			cv.rows = append(cv.rows, row)
			cv.hi = append(cv.hi, len(seq)) // no padding: every row is the whole sequence
			cv.given = append(cv.given, given)
			q.add(i, pos)
		}
		logits, err := ls.eval(cv, &q)
		if err != nil {
			return 0, err
		}
		buf := make([]float64, vocab)
		off := 0
		for i := range b {
			ce := 0.0
			for _, s := range q.pos[i] {
				row := logits.row(off, buf)
				off++
				ce += logSumExp(row) - row[seq[s]]
			}
			if opts.Weighting == WeightSchedule {
				ce *= float64(l) / float64(ks[i])
			}
			total += ce
		}
		done += b
	}
	return -total / float64(opts.Samples), nil
}

// LogLikelihoods scores several continuations of one prompt (the choices of
// a multiple-choice question), each with LogLikelihood.
func LogLikelihoods(d Denoiser, prompt []int32, continuations [][]int32, opts LikelihoodOptions, rng *rand.Rand) ([]float64, error) {
	out := make([]float64, len(continuations))
	for i, cont := range continuations {
		ll, err := LogLikelihood(d, prompt, cont, opts, rng)
		if err != nil {
			return nil, fmt.Errorf("choice %d: %w", i, err)
		}
		out[i] = ll
	}
	return out, nil
}
