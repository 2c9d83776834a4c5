// Package llada is the LLaDA family (Nie et al. 2025, "Large Language
// Diffusion Models"; GSAI-ML/LLaDA-8B-Base and -Instruct): a bidirectional
// Llama-style transformer trained as a masked diffusion model (MDLM).
//
// The model is LLaDAModelLM of the released checkpoints, whose code and
// config.json descend from OLMo's: token embeddings wte (no positional
// table), n_layers pre-norm blocks, a final RMSNorm ln_f and an output head
// ff_out (or wte itself with weight_tying). Each block is package
// transformer's, configured as LLaDA's "llama" block:
//
//	h = x + attn_out·Attention(RoPE(q_proj·n), RoPE(k_proj·n), v_proj·n),  n = attn_norm(x)
//	y = h + ff_out·(SiLU(ff_proj·m) ⊙ up_proj·m),                        m = ff_norm(h)
//
// The attention is never causal: every token sees every real token of its
// row (a key-padding mask hides the padding). Rotary embeddings turn whole
// heads in the rotate-half layout with base rope_theta, at positions
// 0..S−1 of every row. Grouped-query attention (n_kv_heads < n_heads) lets
// consecutive query heads share a key/value head. The logits at position i
// predict the token at i itself: they are not shifted (lm.Spec.ShiftLogits
// is false), so the MDLM objective and samplers of package mdlm apply as
// they are.
//
// Config reads config.json in the checkpoints' spelling, with the defaults
// of LLaDAConfig for keys left out, and rejects, naming the key, what is
// not implemented (block_type other than llama, ALiBi, LayerNorm kinds,
// dropout, ...). Load reads F32, F16 or BF16 weights under the checkpoints'
// names (model.transformer.blocks.N.q_proj.weight, ...); Save writes them
// back under the same names, F32 or (SaveBF16) BF16. Logits with the block
// cache (BeginBlock: Fast-dLLM's DualCache through transformer.DualCache)
// and graph replay make the model a sampler's denoiser. Family registers
// it, with the presets tiny, small and llada-8b; a checkpoint's chat
// template is its tokenizer_config.json's, rendered by package chattemplate.
package llada
