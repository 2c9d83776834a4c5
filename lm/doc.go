// Package lm holds the contracts between the model families and the rest of
// dllm: what a language model must offer (Model), how a family makes one
// (Family), and what a training objective computes from a model and a batch
// (Objective).
//
// The layering it enforces:
//
//	tensor, nn, data, mdlm        ops, autograd, batches, the diffusion process
//	lm                            these contracts
//	bert, llada, ...              families: each implements Model and fills a Family
//	objectives (mdlm's, bd3lm)    implement Objective, see a model only as lm.Model
//	modeldir                      the model folder and the registry of families
//	train, cmd/dllm               name no family: they go through modeldir and lm
//
// A Model is an mdlm.Denoiser (Logits, VocabSize) plus what training needs:
// a forward pass recorded on an nn.Tape (Forward), its parameters, and a way
// to write itself into a model folder. Spec tells the parts of dllm that do
// not know the family what they must know about it, such as whether its
// logits are shifted by one position (Dream: logits at position i
// predict the token at i+1).
//
// A Family registers a model family with modeldir: its config.json
// model_type values, Load, presets with New (sized by Fresh to a tokenizer),
// Describe for `dllm inspect`. (Chat templates come from the folder: modeldir
// renders tokenizer_config.json's chat_template with package chattemplate.)
// Optional interfaces a Model may add: Describer (a one-line description)
// and PrecisionSetter (bf16 inference through Logits), and MaskAttender:
// its Forward honours Input.Mask, an attention pattern (AttentionMask) that
// replaces the family's own rule for one pass, which block diffusion
// (package bd3lm) trains and samples with.
//
// lm imports tensor, nn and data only.
package lm
