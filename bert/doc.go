// Package bert is ModernBERT (Warner et al. 2024) as Hugging Face transformers
// implements ModernBertForMaskedLM, exactly: same parameter names and shapes, same
// arithmetic, same initialisation, and the same files on disk, so a model trained
// here loads in transformers and the reverse.
//
// ModernBERT is a pre-norm Transformer encoder with no position embeddings: the
// token embeddings are layer-normalised, and positions enter only through rotary
// embeddings (RoPE) on queries and keys. Every third layer (by default) attends
// globally with a large RoPE base; the others attend within a sliding window with
// a small base. The MLP is a GeGLU, every LayerNorm and Linear is bias-free, and
// the masked-LM head (dense, GELU, LayerNorm) decodes with the tied token
// embedding matrix plus the model's only bias. The layer body is package
// transformer's block (Model.Block), configured as ModernBERT's; the
// training forward pass, Logits and the block cache's steps all run it, with
// different attention hooks. Logits and the cached steps record and replay
// their forward passes through package graphs on a backend that can.
//
// Config reads and writes the config.json of a Hugging Face model directory in
// both spellings transformers has used (see LoadConfig), rejects settings this
// implementation does not support by naming the field, and knows the parameter
// list (ParamShapes) that a checkpoint must hold. Preset gives the released sizes
// and small ones for CPU training.
package bert
