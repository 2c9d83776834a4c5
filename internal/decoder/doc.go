// Package decoder is the Hugging Face Llama/Qwen decoder (LlamaModel,
// Qwen2Model, Qwen3Model and Dream's copy of Qwen2) run bidirectionally, as
// the Dream and A2D families use it: embeddings model.embed_tokens, layers
// model.layers.N of package transformer's pre-norm block (RMSNorm, separate
// q/k/v with the architecture's biases, Qwen3's per-head q/k norms, rotate-half
// rotary with Llama 3's frequency scaling, grouped-query attention, SwiGLU
// with separate gate_proj and up_proj), a final RMSNorm model.norm and the
// head lm_head (or the embeddings, tied).
//
// The families own their config.json, presets and templates and describe the
// network to this package as an Arch; Config is the config.json these
// architectures share (Hugging Face's key names), which the families read
// and check.
//
// On a backend that records graphs (CUDA), Logits records each shape's
// forward pass once and replays it (package graphs), Dream's padded
// positions being one of the graph's inputs; a block cache (the A2D
// families' DualCache) records its cached step the same way. NoGraphs turns
// this off.
package decoder
