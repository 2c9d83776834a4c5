// Package mlm is masked language modelling, the objective BERT and
// ModernBERT were pretrained with, as an lm.Objective beside mdlm, bd3lm and
// editflow: `dllm pretrain --objective mlm`.
//
// # What it is
//
// Each supervised token of a row is selected independently with a fixed
// probability p (Options.Rate; 30% by default, the rate ModernBERT and
// MosaicBERT trained with, after Wettig et al. 2023 found 15% too low for
// large models). A selected token is replaced by [MASK] in the model's input,
// and the loss is the cross-entropy of the clean token at every selected
// position, averaged over the selected positions of the batch:
//
//	loss = (1/|M|) Σ_{i∈M} −log p_θ(x_i | x̃)        M: the selected positions
//
// Prompt positions (SFT rows) are never selected, and positions labelled
// data.IgnoreIndex carry no loss, exactly as in mdlm.Corrupt. A batch in
// which nothing was selected returns a nil loss (the step adds nothing).
//
// # Against MDLM
//
// MDLM (package mdlm) draws one time t ~ U(ε, 1) per row, masks each token
// with probability t and weights the cross-entropy by 1/t: in expectation an
// evidence lower bound on log p(x), so the trained model is a generative
// model at every masking level. MLM is the same forward process frozen at
// one level, t = p, with a constant weight: it trains the denoiser only
// around 30% masking. That is the whole difference the replication of the
// dLLM authors' finding studies: whether a model pretrained at one noise
// level learns, by diffusion SFT alone, to denoise at all levels.
//
// # BERT's 80/10/10, and why it is off by default
//
// BERT replaced a selected token by [MASK] 80% of the time, by a uniformly
// random token 10% of the time and left it unchanged 10% of the time (all
// three are scored), so that the model would not learn that only [MASK]
// positions need predicting, a mismatch with fine-tuning inputs that carry
// no [MASK]. Options.Replace turns it on (`--mlm-replace`); it is off by
// default here, for three reasons:
//
//   - the models pretrained here are fine-tuned and sampled by masked
//     diffusion, whose inputs carry [MASK] at exactly the unknown positions
//     and never a corrupted visible token: the mismatch 80/10/10 guards
//     against does not exist, and random replacements would teach the model
//     to doubt tokens the sampler has already committed;
//   - Wettig et al. (2023) found that at masking rates of 30–40% plain
//     [MASK] replacement does as well as 80/10/10;
//   - without it, MLM is MDLM's corruption at a fixed t with uniform
//     weights, so the MLM-versus-MDLM comparison changes one thing (the
//     noise distribution and its weighting) and nothing else.
//
// With Replace, the random token is drawn uniformly from the ids below
// Options.Vocab (the tokenizer's vocabulary; the model's when 0) other than
// the model's special tokens (mask, pad, BOS, EOS), so no random
// replacement is a [MASK] in disguise.
//
// # Shifted models
//
// A model whose logits are shifted by one position (Dream) is trained as
// mdlm trains it: the logits of the position before each selected token
// predict it, and a BOS column is put in front when position 0 is
// supervised.
package mlm
