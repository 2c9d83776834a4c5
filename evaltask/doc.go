// Package evaltask scores a model on the evaluation tasks of the dLLM
// reference, each read from a documented JSONL shape and scored as the
// reference scores it. `dllm eval --task NAME` runs them; they are library
// functions so that other commands (a replication run) can call them.
//
// # The tasks
//
//   - chat: held-out conversations ({"messages": [...]}, the SFT shape); the
//     last assistant turn is the reference, the model answers the turns
//     before it through its chat template, and the score is exact match
//     after data.NormalizeAnswer (plus the diffusion loss of the
//     references).
//   - lambada: {"text": "passage ... word"} (EleutherAI's lambada_openai
//     shape), or {"context": ..., "target": ...}. The model continues the
//     passage without its last word; the first word it writes, stripped of
//     surrounding punctuation, must equal the last word. Accuracy.
//   - gsm8k: {"question": ..., "answer": "... #### 72"} (the GSM8K release's
//     shape). The question goes through the chat template, 0-shot; the
//     reference's settings are 256 new tokens, 256 steps, blocks of 32. The
//     final number is extracted from the answer (after "####" when the model
//     writes one, else the last number in it; see ExtractNumber) and must
//     equal the reference's number after "####". Exact match.
//   - choice: {"context": ..., "choices": [...], "answer": 0 or "A"} (the
//     shape of HellaSwag, MMLU, CEval, ARC after formatting), or, for
//     Winogrande, {"contexts": [one per option], "continuation": ...,
//     "answer": ...}: the option's text is the continuation of a shared
//     context, or the shared continuation follows each option's context.
//     Every option is scored by the Monte Carlo ELBO of its continuation
//     (mdlm.LogLikelihood, the estimator serve's logprobs use); the best
//     raw score is one pick (accuracy), the best score divided by the
//     continuation's length in characters is another (accuracy_norm, as
//     lm-evaluation-harness's acc_norm).
//
// Every score comes with its standard error (the sample standard deviation
// of the per-item scores over √n) and its count.
//
// # Why the ELBO's 1/t weight matters for choice
//
// The estimate masks k of the L continuation tokens and adds the
// cross-entropy of the masked ones times L/k (the linear schedule's 1/t
// with t = k/L). Without the weight, samples with many masks count more
// than the others, and the score no longer estimates a log-likelihood: an
// option whose tokens predict each other (a two-token name, certain once one
// half is seen) is penalised for being unpredictable when all of it is
// hidden. The tests build such a case, where the weighted score picks the
// more likely option and the unweighted one picks the other.
package evaltask
