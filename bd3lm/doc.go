// Package bd3lm is block diffusion (BD3LM, Arriola et al., ICLR 2025) as an
// lm.Objective on any model that takes an attention mask (lm.MaskAttender:
// every family built on package transformer), and its block-by-block
// sampler.
//
// # Between diffusion and autoregression
//
// Masked diffusion (package mdlm) denoises a whole canvas at once: its length
// is fixed before sampling starts, and every step reads all of it. An
// autoregressive model writes one token at a time, left to right, each
// conditioned on the finished prefix, which it never recomputes. Block
// diffusion cuts the sequence into blocks of BlockSize tokens: inside a block
// the tokens are denoised in parallel, as in MDLM; the blocks are produced
// left to right, each conditioned on the clean blocks before it. Generation
// may stop after any block, so answers have any length, and the finished
// blocks can be cached.
//
// # Training: two halves and a mask
//
// The model must learn to denoise block j given the clean blocks before it,
// for every j at once. One forward pass does it by reading a sequence twice:
// the noisy copy x_t (MDLM's forward process, each supervised token masked
// with probability 1−α(t)) followed by the clean copy x_0,
//
//	input = [x_t(0..L−1) ; x_0(0..L−1)]        2L tokens
//
// with the positions 0..L−1 for each half (a clean token and its noisy twin
// share a rotary phase), under a mask that lets each noisy block see itself
// and the clean blocks strictly before it, and the clean half see itself
// block-causally. With h(i) the half of index i (0 noisy, 1 clean) and b(i)
// its block within the half, query q may attend key k iff
//
//	h(q) = h(k)           and b(q) = b(k)      own block, own half
//	h(q) = 0 and h(k) = 1 and b(q) > b(k)      noisy sees earlier clean blocks
//	h(q) = h(k) = 1       and b(q) ≥ b(k)      the clean half is block-causal
//
// and clean queries never see noisy keys (Allowed, TrainingMask). For L = 6
// and blocks of 2 (xtI the noisy token at position I, x0I the clean one):
//
//	     xt0 xt1 xt2 xt3 xt4 xt5 x00 x01 x02 x03 x04 x05
//	xt0   1   1   .   .   .   .   .   .   .   .   .   .
//	xt1   1   1   .   .   .   .   .   .   .   .   .   .
//	xt2   .   .   1   1   .   .   1   1   .   .   .   .
//	xt3   .   .   1   1   .   .   1   1   .   .   .   .
//	xt4   .   .   .   .   1   1   1   1   1   1   .   .
//	xt5   .   .   .   .   1   1   1   1   1   1   .   .
//	x00   .   .   .   .   .   .   1   1   .   .   .   .
//	x01   .   .   .   .   .   .   1   1   .   .   .   .
//	x02   .   .   .   .   .   .   1   1   1   1   .   .
//	x03   .   .   .   .   .   .   1   1   1   1   .   .
//	x04   .   .   .   .   .   .   1   1   1   1   1   1
//	x05   .   .   .   .   .   .   1   1   1   1   1   1
//
// The noisy rows of block 2 (xt4, xt5) see their own block and the clean
// blocks 0 and 1: exactly what the sampler will show the model when it
// denoises the third block after committing the first two. L need not be a
// multiple of the block size: the last block is short. The batch's key mask
// is not used; right padding is a supervised or ignored label like any other.
//
// # Noise and loss
//
// The loss is MDLM's (package mdlm) on the noisy half: the cross-entropy of
// each masked token's clean value, weighted by −α'(t)/(1−α(t)) (1/t for the
// linear schedule) or 1, normalised per token, sequence or batch; the clean
// half's logits are never computed. By default one t is drawn per sequence,
// as the dLLM framework does (mdlm.Corrupt itself); Options.PerBlock draws
// one t per block, as the BD3LM authors' code does. The bound is a sum of
// per-block MDLM terms, so both are unbiased for it; they differ in variance.
//
// For SFT (Options.PadToBlocks) each row's text is extended with supervised
// end-of-text tokens up to the next multiple of the block size, so that an
// answer's last block always holds an end-of-text: the sampler's signal to
// stop after that block.
//
// # The attention
//
// The mask reaches the model as structure, never as a (2L)×(2L) matrix:
// lm.AttentionMask{Blocks: tensor.BlockPattern{Size: bs, Half: L}}, which
// package transformer hands to the fused attention (tensor.AttentionParams
// .Blocks). The CPU attention and both CUDA kernels test the pattern pair by
// pair and skip every tile of queries and keys in which no query may see a
// key (the keys a tile of queries may see are at most two spans in closed
// form, BlockPattern.KeySpans), which with short blocks is most of the
// noisy half; a sliding-window layer measures distance in the positions,
// which repeat in the two halves. The sampler's block-causal mask is the
// same structure with Half 0, and the left padding is the key mask. Any
// other pattern is a dense lm.AttentionMask.Allow, run by the composed
// nn.MaskedAttention (backend ops, dense [B·heads, S, S] scores), which the
// tests keep as the fused path's reference: equal logits, gradients and
// sampled tokens (TrainingMask, Allowed are the dense forms).
//
// # Sampling
//
// Generate pads the prompts on the left to a common length that is a
// multiple of the block size and appends one block of masks at a time,
// denoising it with the block-causal mask in ⌈Steps/blocks⌉ steps (or, with
// a Threshold, committing every position at least that confident and
// always the best, until the block is full), committing tokens by
// confidence or at random as MDLM's samplers do. With the prefix cache the
// steps of a block run the block only, against the cached keys and values
// of the prefix: exact, since the prefix never sees the block. The cache is
// built once, at the first block (prompt and block in one pass), and then
// advanced: when a block is finished, one pass over its committed tokens
// against the cached prefix appends their keys and values (under the
// block-causal mask they depend on nothing else), so the prefix is never
// recomputed and a block costs the same at any depth, apart from attention
// over a longer prefix. SampleOptions.Rebuild recomputes the cache from the
// whole prefix at every block instead, as the reference does; the two agree
// up to float rounding (on the CPU bit for bit, in the tests).
// Classifier-free guidance runs a second canvas whose prompt tokens are
// masks, with its own cache. Sampling stops after the first block in which
// every row has produced end-of-text.
//
// # Likelihood
//
// LogLikelihood estimates log p(continuation | prompt) by the block-wise
// Monte Carlo ELBO: the bound is a sum over blocks of MDLM's bound for the
// block given the clean blocks before it, each estimated by LLaDA's
// (n/k)·Σ log p over k uniformly masked positions. The estimate is unbiased
// for the bound; the tests check it against the bound enumerated over every
// subset, and against the exact log-likelihood of a context-free model.
package bd3lm
