package bd3lm

import (
	"fmt"
	"math/rand/v2"
	"slices"

	"github.com/dllmgo/dllm/lm"
	"github.com/dllmgo/dllm/mdlm"
	"github.com/dllmgo/dllm/tensor"
)

// LikelihoodOptions configures LogLikelihood.
type LikelihoodOptions struct {
	// Samples is the number of Monte Carlo samples per block (32).
	Samples int
	// BatchSize is the number of samples per forward pass (32).
	BatchSize int
	// BlockSize is the model's training block size (DefaultBlockSize).
	BlockSize int
	// MaskID and PadID are the model's mask and padding tokens.
	MaskID, PadID int32
}

// Defaults of LikelihoodOptions.
const DefaultLikelihoodSamples = 32

// LogLikelihood estimates log p(continuation | prompt) under a
// block-diffusion model by its Monte Carlo ELBO, block by block (the
// reference's BD3LM harness scores nothing). The continuation is laid out as
// Generate lays out an answer: the prompt left-padded to a block boundary,
// the continuation in blocks from there. Block diffusion's bound is a sum
// over blocks of MDLM's bound for a block given the clean blocks before it,
// so each block j of n_j tokens contributes, per sample, LLaDA's estimator
//
//	(n_j / k) · Σ_{i masked} log p(x_i | the prompt, blocks < j, block j with k of its tokens masked)
//
// with k uniform on 1..n_j and the k masked positions a uniform subset;
// the block's term is the mean over Samples such draws. The estimate is
// unbiased for the bound (its expectation is the bound exactly; the tests
// enumerate it), which is at most the log-likelihood. Each forward pass is
// the sampler's: block-causal attention, the block's rows only.
func LogLikelihood(m lm.Model, prompt, continuation []int32, opts LikelihoodOptions, rng *rand.Rand) (float64, error) {
	if opts.Samples == 0 {
		opts.Samples = DefaultLikelihoodSamples
	}
	if opts.BatchSize == 0 {
		opts.BatchSize = mdlm.DefaultLikelihoodBatch
	}
	if opts.BlockSize == 0 {
		opts.BlockSize = DefaultBlockSize
	}
	vocab := m.VocabSize()
	switch {
	case len(continuation) == 0:
		return 0, fmt.Errorf("bd3lm: empty continuation")
	case opts.Samples < 0 || opts.BatchSize < 0 || opts.BlockSize < 0:
		return 0, fmt.Errorf("bd3lm: samples %d, batch size %d, block size %d", opts.Samples, opts.BatchSize, opts.BlockSize)
	case opts.MaskID < 0 || int(opts.MaskID) >= vocab:
		return 0, fmt.Errorf("bd3lm: mask id %d outside the vocabulary of %d", opts.MaskID, vocab)
	case m.Spec().ShiftLogits:
		return 0, fmt.Errorf("bd3lm: scoring does not shift logits yet (a %s model predicts the next position)", m.Spec().Family)
	}
	if _, ok := m.(lm.MaskAttender); !ok {
		return 0, fmt.Errorf("bd3lm: the %s model takes no attention mask", m.Spec().Family)
	}
	for _, id := range slices.Concat(prompt, continuation) {
		if id < 0 || int(id) >= vocab {
			return 0, fmt.Errorf("bd3lm: token %d outside the vocabulary of %d", id, vocab)
		}
	}
	bs := opts.BlockSize
	start := Blocks(len(prompt), bs) * bs
	canvas := append(slices.Repeat([]int32{opts.PadID}, start-len(prompt)), prompt...)
	canvas = append(canvas, continuation...)
	total := 0.0
	for lo := start; lo < len(canvas); lo += bs {
		hi := min(lo+bs, len(canvas))
		sum, err := blockBound(m, canvas[:hi], lo, start-len(prompt), opts, rng)
		if err != nil {
			return 0, err
		}
		total += sum / float64(opts.Samples)
	}
	return total, nil
}

// blockBound sums the estimates of opts.Samples draws for the block
// [lo, len(seq)) of seq (the clean prefix before it, real tokens from
// first on).
func blockBound(m lm.Model, seq []int32, lo, first int, opts LikelihoodOptions, rng *rand.Rand) (float64, error) {
	n, w, vocab := len(seq), len(seq)-lo, m.VocabSize()
	sum := 0.0
	for done := 0; done < opts.Samples; {
		b := min(opts.BatchSize, opts.Samples-done)
		ids := make([]int32, 0, b*n)
		var rows []int32
		var targets []int32
		var weights []float64
		for r := range b {
			k := 1 + rng.IntN(w)
			row := slices.Clone(seq)
			for _, i := range rng.Perm(w)[:k] {
				row[lo+i] = opts.MaskID
				rows = append(rows, int32(r*n+lo+i))
				targets = append(targets, seq[lo+i])
				weights = append(weights, float64(w)/float64(k))
			}
			ids = append(ids, row...)
		}
		mask := &lm.AttentionMask{Blocks: tensor.BlockPattern{Size: opts.BlockSize}, Rows: b}
		logits, err := forward(m, ids, b, n, mask, scoringKeys(b, n, first), rows)
		if err != nil {
			return 0, err
		}
		for i, tgt := range targets {
			sum -= weights[i] * mdlm.CrossEntropy(logits[i*vocab:(i+1)*vocab], tgt)
		}
		done += b
	}
	return sum, nil
}

// scoringKeys is the key mask of b rows of n tokens whose first real token
// is at first (the left padding before it hidden).
func scoringKeys(b, n, first int) []int32 {
	keys := make([]int32, b*n)
	for r := range b {
		for k := first; k < n; k++ {
			keys[r*n+k] = 1
		}
	}
	return keys
}
