// Package modeldir owns the model folder: the directory a user downloads or
// saves, which belongs to no model family. It holds config.json and the
// weights (read by the family), tokenizer.json, tokenizer_config.json (the
// special tokens and the chat template) and generation_config.json (the
// sampling defaults and special-token ids).
//
// Open reads a folder: it dispatches on config.json's model_type (then its
// architectures) through the registry of families (registry.go, one line
// per family), loads the model with the family's Load, reads the tokenizer
// and resolves the special tokens. A special token is taken, in order, from
// tokenizer_config.json (mask_token, pad_token, bos_token, eos_token, each a
// string or {"content": ...}, resolved through the tokenizer or
// added_tokens_decoder), from generation_config.json's ids, from the ids of
// config.json (the model's lm.Spec), and last from the tokenizer's usual
// names ([MASK], [PAD], then <mask>, <pad>, ...). Save writes the same files
// back, and what it writes Open reads to the same bundle.
//
// New makes a fresh model of a registered family from a preset. LoadModel
// reads the model alone (no tokenizer), for tools such as `dllm forward`.
//
// modeldir may import lm, data, data/tokenizer, mdlm (sampler defaults),
// tensor, internal packages, and the family packages, which it names only
// in registry.go. Nothing but modeldir names a family outside its own
// package: train, mdlm and cmd/dllm reach models through modeldir and lm.
package modeldir
