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
// The mask reaches the model as structure on the host (lm.AttentionMask in
// lm.Input). Package transformer turns it into an additive bias per attention
// window (a sliding-window layer measures distance in the positions, which
// repeat in the two halves) and runs nn.MaskedAttention: scores Q·Kᵀ by a
// batched MatMul, plus the bias, Softmax, times V, all ops every backend has,
// so it runs on the CPU and the GPU alike without a kernel of its own, at the
// cost of dense [B·heads, 2L, 2L] scores. A fused kernel that takes the block
// structure directly and skips fully masked tiles (about half of them) is
// future work.
package bd3lm
