// Package mdlm is masked discrete diffusion for language: the MDLM training
// objective, the samplers that turn a canvas of [MASK] tokens into text, and the
// Monte Carlo likelihood estimate used for multiple-choice evaluation.
//
// The forward (noising) process replaces each token independently by [MASK]
// with probability 1-α(t); the model is trained to predict the clean token at
// every masked position. Generation runs the process backwards: start from an
// all-[MASK] answer and commit a few predicted tokens per step until none are
// left. Committed tokens are never masked again.
//
// The package never sees a network. It talks to the model through Denoiser
// (token ids in, logits at requested positions out), so the same code drives
// ModernBERT, any other backbone, and the small fake models of the tests.
// Prompts of different lengths share a canvas padded on the right; the
// padding is handed to the model as a key mask, so a row's result does not
// depend on the rest of its batch.
// Training is split the same way: Corrupt draws the noise and returns the rows
// whose logits the loss needs and one weight per row, so that
//
//	loss = Σ_i Weights[i] · CE(logits[Rows[i]], Targets[i])
//
// and the caller computes the cross-entropies with its own autograd.
// LossFromLogits evaluates the same sum in float64 from plain logits.
// Objective wraps the two as an lm.Objective for the trainer; for a model
// whose Spec says ShiftLogits (Dream) it asks for the logits of the row
// before each masked position (ShiftRows).
//
// Samplers (Generate, Infill, Ancestral) and LogLikelihood are deterministic
// for a given *rand.Rand seed (math/rand/v2; see NewRand). Gumbel noise is
// drawn and applied in float64, and argmax ties go to the lowest token id.
// Every sampler can report its canvas after each step through a TraceFunc;
// package mdlm/live draws those frames in a terminal.
//
// Each row of a sampler call has a random stream of its own. The call takes
// exactly one number from the caller's generator, the base seed, and row r
// draws all its randomness (transfer counts, Gumbel noise, random-remasking
// scores, ancestral coin flips) from stream StreamOffset+r of that seed
// (SamplerConfig.StreamOffset, 0 by default). A row's sample is therefore a
// function of the generator's state, its stream number and its own input,
// never of the other rows, their number or their lengths:
//
//	row r of a call  ==  the same input alone, same generator state,
//	                     StreamOffset increased by r
//
// In particular row 0 of a batch samples what its prompt samples alone. Two
// copies of one prompt in a batch are independent samples. Guidance draws
// nothing of its own: the unguided copy only changes the logits a row's
// noise is applied to. The contract needs a model that gives a padded row
// the logits it gives the row alone (the key mask of Denoiser); ModernBERT
// does, bit for bit, on the CPU.
//
// Sequence is Generate's block sampler for one prompt, advanced a step at a
// time; StepSequences advances many independent sequences (each with its own
// prompt length, settings, schedule and stream) in one model call, and each
// samples exactly what Generate samples for its prompt alone. Package serve
// batches concurrent requests with it.
//
// Generate can run from Fast-dLLM's DualCache (SamplerConfig.Cache): a model
// that implements BlockCacher runs one full pass at each block's first step,
// keeping every layer's keys and values, and the block's later steps
// recompute only the block's positions against them. The samples then differ
// from the uncached ones (positions outside the block see the block's new
// tokens only when the next block starts); the first step of each block is
// exact. Guidance works with it; Infill and Ancestral ignore it.
//
// A model that implements LogitsRecycler gets each step's logits back once
// the sampler is done with them (without guidance the sampler reads them in
// place until the model's next call), so that with a 50k vocabulary a step
// does not ask the runtime for megabytes of fresh memory.
//
// Formulas follow MDLM (arXiv:2406.07524), LLaDA (arXiv:2502.09992) and
// Fast-dLLM; the defaults follow the PyTorch dLLM framework's BERT-chat
// recipe (linear schedule, t ~ U[1e-3, 1), 1/t weights, per-token
// normalisation; 128 new tokens, 128 steps, blocks of 32, temperature 0,
// low-confidence remasking).
//
// mdlm imports lm (the Model its Objective trains) and data (the batch); it
// names no model family.
package mdlm
