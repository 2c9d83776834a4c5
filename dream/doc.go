// Package dream is the Dream family (Dream-org's Dream-v0-Base-7B and
// -Instruct-7B, initialised from Qwen2.5-7B): the Qwen2 decoder with q/k/v
// biases run without a causal mask, a mask token, and logits shifted by one
// position: the logits computed at position i−1 predict the token at i, as
// an autoregressive model's do (lm.Spec.ShiftLogits; the MDLM objective and
// mdlm.Shifted read them so, position 0 predicting itself).
//
// Config reads config.json in the checkpoints' spelling (model_type
// "Dream", DreamConfig's defaults for keys left out) and refuses, naming
// the key, what does not run (sliding windows, other activations, rope
// types other than the default, dropout). The embedding row of
// pad_token_id gets no gradient, as in DreamBaseModel (padding_idx). Load
// reads F32, F16 or BF16 weights under the checkpoints' names
// (model.layers.N.self_attn.q_proj.weight, ...), sharded or not; Save
// writes them back, F32 or (SaveBF16) BF16. Logits with a left-padded key
// mask gives the row positions cumsum(mask)−1 (pads at 1), as Dream's
// samplers do, so that a prompt's first token sits at position 0. Family
// registers it with the presets tiny, small and dream-7b; a checkpoint's
// chat template is its tokenizer_config.json's (package chattemplate).
//
// Dream's trainer weights the masked tokens' cross-entropy by CART
// (mdlm.WeightCART) rather than 1/t; ObjectiveOptions returns Dream's
// defaults.
//
// # Sampling
//
// Dream's samplers run through package mdlm like every family's: the
// ranking rules are its algs (maskgit_plus is mdlm.LowConfidence, entropy
// and topk_margin mdlm.EntropyRemasking and mdlm.MarginRemasking, origin is
// random remasking with binomial counts), alg_temp is
// mdlm.SamplerConfig.AlgTemp, top_p/top_k are mdlm.Truncation, and a
// folder's generation_config.json supplies these as defaults (modeldir).
// One difference of layout, deliberately kept: Dream's DreamSampler
// right-aligns each row (EOS padding on the left, position ids
// cumsum(mask)−1), while mdlm left-aligns rows and pads on the right with a
// key mask. A real token's position id and the keys it may attend to are
// the same in both layouts, and the shift reads position i−1 of the same
// row in both (the prompt always precedes the masks), so every logit a
// sampler reads is the same function of the same inputs; only the
// arithmetic order of padded rows' dead work differs. Logits of the
// left-padded layout are checked against the reference fixture.
package dream
