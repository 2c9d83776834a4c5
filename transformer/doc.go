// Package transformer is the layer body that every model family of dllm
// shares: one pre-norm transformer block, written once, that a family's
// training forward pass, its sampling forward pass and its block-cached
// (DualCache) steps all run. The families (ModernBERT in package bert, LLaDA in
// package llada, Dream and the A2D Llama/Qwen models in packages dream and a2d
// through internal/decoder; MoE models to come) own their embeddings,
// their heads and the names their checkpoints give the weights; this package
// owns the arithmetic between them.
//
// # The pre-norm block
//
// A block maps hidden states x [N, H] (N = B·S token rows of width H) to new
// hidden states of the same shape, in two residual steps:
//
//	a   = AttnNorm(x)                      (skipped where Layer.NoAttnNorm)
//	qkv = RoPE(QKNorm(QKV·a))              [N, nh + 2·nkv, d]: Q, K, V heads
//	x   = x + O·Attention(qkv)             the hook: see below
//	x   = x + Down·Act(Up·MLPNorm(x))      the gated MLP
//
// "Pre-norm" means that each step normalises its input and adds its output
// to the unnormalised residual stream x, so that the stream is a sum of every
// step's contribution and gradients reach the first layer through the
// additions undamped. (The original Transformer normalised after the
// addition; deep models train far more stably this way.) A family whose
// embeddings were just normalised, as ModernBERT's are, skips the first
// layer's attention norm: Layer.NoAttnNorm.
//
// Rotary position embeddings (RoPE) bring positions in: each query and key
// head is rotated, pair of coordinates by pair, by angles proportional to the
// token's position, so that the score q·k depends on the two positions only
// through their difference. Values are not rotated. The base Theta of the
// angles is per layer (ModernBERT uses a large one on its global layers and a
// small one on its sliding-window layers).
//
// # What is configured
//
// Config holds what every layer of a model shares: sizes, and the kinds of
// norm (NormKind), MLP (MLPKind) and rotary layout (RotaryLayout), and which
// projections carry a bias. Layer holds the per-layer geometry: the rotary
// base, the attention window, whether there is an attention norm. Weights
// holds one layer's parameters by role; NewWeights makes them under the names
// a family's checkpoints use. Block puts the three together and Forward runs
// it.
//
// # The attention hook
//
// Everything in a block is the same arithmetic in every use except the
// attention, which is why it is a parameter of Forward (an Attention):
//
//   - FullAttention attends over whole sequences with the layer's window and
//     a key mask: training and plain sampling, global and sliding layers alike.
//   - DualCache (Fast-dLLM's block cache) records every layer's keys and
//     values once per block (Record), and later attends the block's fresh
//     queries over them (Attend), recomputing only the block's rows.
//     Blocks is its bookkeeping, shared by every family's block cache:
//     checking the blocks against the batch, taking their ids out of the
//     batch, and mapping flat rows to the blocks' rows (DualCache.Inputs).
//     Grow appends positions to every sequence and makes them the block:
//     block diffusion's sampler keeps one cache for the whole answer, each
//     finished block's keys and values written by one cached step.
//   - BlockAttention is FullAttention under block diffusion's pattern as
//     structure (tensor.BlockPattern: the block size and the two halves of
//     the training input, or the block-causal sampling mask): the fused
//     kernels skip the tiles no query may see into.
//   - Masked attends under any other pattern of which query may see which
//     key (a dense allow pattern, positions for the window), made into an
//     additive bias per window; it composes backend ops
//     (nn.MaskedAttention: MatMul, Add, Softmax, MatMul), so it runs
//     everywhere without a kernel of its own, and it is the tests' reference
//     for BlockAttention. PatternAttention picks between the two for an
//     lm.AttentionMask.
//
// # Heads, checkpoints and the Llama-style families
//
// The head size d is H/nh unless Config.HeadSize says otherwise (Qwen3).
// Grouped-query attention (Config.KVHeads = nkv < nh: LLaDA's n_kv_heads,
// Llama's and Qwen's num_key_value_heads) shares each key/value head among
// nh/nkv consecutive query heads: the packed qkv of a row holds nh query
// heads, then nkv key heads, then nkv value heads, and the hooks pair query
// head j with key/value head ⌊j·nkv/nh⌋. Rotary turns the nh + nkv query and
// key heads, all of each head or its first Config.RotaryDim coordinates,
// with Llama 3.1's frequency scaling where Config.RopeScaling sets it.
// Qwen3 normalises every query and key head by its own RMSNorm before the
// rotary (Config.QKNorm).
//
// Hugging Face's Llama-style checkpoints store q_proj, k_proj, v_proj and
// gate_proj, up_proj as separate tensors. With Config.SeparateQKV and
// SeparateGateUp the block keeps them as separate parameters under their
// checkpoint names (so that loading, saving, gradients and optimizer state
// are per checkpoint tensor), made by NewWeights as views of consecutive
// rows of one tensor: that tensor is the packed projection the rest of the
// block expects, run as a single GEMM without a copy (nn.Tape.Stacked), and
// the backward pass hands each view its rows of the gradient. Linears put
// into Weights by hand are copied together at each pass instead.
//
// Each kind is an enum whose values are exactly what runs: LayerNorm and
// RMSNorm (with Gemma's weight offset), GeGLU and SwiGLU, and the rotary
// layout of ModernBERT and Hugging Face's Llama. A mixture of experts
// (Config.MoE, on the layers whose Layer.MoE is set, so that one model mixes
// dense and mixture layers as LLaDA-MoE does) replaces the MLP with SwiGLU
// experts; its Weights hold the router and the experts, applied in mlp
// (moe.go).
package transformer
