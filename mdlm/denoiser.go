package mdlm

import "math/rand/v2"

// Denoiser predicts the clean token at each requested position of a batch of
// noisy sequences. It is the only thing mdlm needs from a model.
//
// Asking for rows instead of the whole sequence matters: with a 50k-token
// vocabulary the output head dominates the cost of a step, and the samplers
// and the loss only ever need a small fraction of the positions.
type Denoiser interface {
	// Logits returns len(rows)×VocabSize() logits, row-major float32, for ids
	// (batch×seqLen token ids, row-major), at the flat positions rows
	// (b*seqLen + s), in the order given.
	//
	// keyMask is nil when no sequence is padded. Otherwise it holds
	// batch×seqLen flags, 1 for a real token and 0 for padding, and no
	// position may attend to the padding: the samplers pad prompts of
	// different lengths to one width, and a row's answer must not depend on
	// what else is in its batch.
	Logits(ids []int32, batch, seqLen int, keyMask, rows []int32) ([]float32, error)
	// VocabSize is the number of logits per row.
	VocabSize() int
}

// LogitsRecycler is a Denoiser that takes back the slices its Logits (and
// its block caches' Logits) returned once the caller has read them, so that
// the next step's logits reuse that memory instead of fresh memory the
// runtime must zero and collect: [rows, vocabulary] floats, megabytes a step
// with a 50k vocabulary. The samplers hand every slice back once they have
// copied it; nothing may use a slice after RecycleLogits.
type LogitsRecycler interface {
	RecycleLogits([]float32)
}

// NewRand returns the generator the samplers expect, seeded so that two runs
// with the same seed draw the same numbers. A sampler call takes one number
// from it (the base seed of its rows' streams).
func NewRand(seed uint64) *rand.Rand {
	return rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
}
