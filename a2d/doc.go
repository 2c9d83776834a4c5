// Package a2d is the A2D family ("autoregressive to diffusion"): a causal
// Llama, Qwen2 or Qwen3 checkpoint made bidirectional and fine-tuned as a
// masked diffusion model, as the reference framework's A2D models are
// (model_type "a2d-llama", "a2d-qwen2", "a2d-qwen3"; the Tiny-A2D models
// are Qwen3-0.6B based).
//
// The network is the stock one, run without the causal mask: padded keys
// are hidden, padded queries still see every real key. What differs by
// source:
//   - Llama: head_dim from the config (else hidden/heads), q/k/v/o bias by
//     attention_bias, MLP bias by mlp_bias, Llama 3's rope_scaling
//     ("llama3") applied to the rotary frequencies;
//   - Qwen2: q/k/v bias, no o_proj bias, head size hidden/heads;
//   - Qwen3: head_dim from the config (it need not be hidden/heads), bias
//     by attention_bias, and a per-head RMSNorm (q_norm, k_norm) on every
//     query and key head before the rotary.
//
// The embeddings may be tied to the head (tie_word_embeddings); an
// embedding row pad_token_id, where the config names one, gets no
// gradient. The logits are not shifted (the A2D trainers' default): the
// logits at i predict the token at i. The config carries no mask token;
// the tokenizer's (modeldir) is used, and a fresh model writes
// mask_token_id into config.json. Family registers it, with the presets
// tiny, small (both Qwen3-shaped) and qwen3-0.6b; a checkpoint's chat
// template is its tokenizer_config.json's (package chattemplate).
package a2d
