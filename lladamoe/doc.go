// Package lladamoe is two mixture-of-experts diffusion language models on
// package transformer's block with its mixture of experts (transformer.MoE):
//
//   - LLaDA-MoE (inclusionAI's LLaDA-MoE-7B-A1B, model_type "lladamoe"):
//     an OLMoE/Llama-style bidirectional model; per layer a dense SwiGLU or a
//     mixture (moe_layer_freq), the router's softmax (float32) picks the top
//     num_experts_per_tok experts whose probabilities weight them, never
//     renormalised (its block hard-codes norm_topk_prob false), plus a
//     shared expert every token goes through; per-head q/k RMSNorm before
//     the rotary (qk_layernorm); logits not shifted.
//   - RND1 (Radical Numerics' RND1-Base, model_type "rnd1"): Qwen3-MoE
//     with the causal mask removed; every layer a mixture (unless
//     mlp_only_layers says otherwise), top-k weights renormalised
//     (norm_topk_prob), per-head q/k norms, head_dim apart from
//     hidden/heads; its logits are shifted (lm.Spec.ShiftLogits): position
//     i−1 predicts token i, as its trainer and sampler pair them.
//
// They are one package because they are one architecture under two
// config.json spellings: Hugging Face's parameter names
// (model.layers.N.self_attn.q_proj.weight, mlp.gate.weight,
// mlp.experts.E.gate_proj.weight, shared_expert.up_proj.weight, ...),
// the same block, the same loader. config.json is read as written; keys
// the arithmetic does not depend on are kept and written back.
//
// The router's choice is made on the host from the probabilities, so a
// forward pass reads the device once per mixture layer and is not recorded
// as a graph.
package lladamoe
