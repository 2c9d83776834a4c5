// Package replicate reproduces, at small scale, the findings of the
// reference this project re-creates (docs/REFERENCE.md in the shared
// documents): that diffusion SFT alone turns an MLM-pretrained encoder into
// a chat model, that extra MDLM pretraining adds little when MLM
// pretraining is strong, and that fewer diffusion steps sample faster.
//
// One call (Run) makes every part from library calls, in stages:
//
//	data          a chat set (the synthetic tasks, the numeric ones among
//	              them, and WordNet definitions as question/answer pairs)
//	              split into training and held-out conversations, a corpus
//	              of public-domain text, and one tokenizer (digits split)
//	              trained on both
//	pretrain-*    three models of one size, pretrained with equal compute
//	              (the same steps, batch and rows): MLM; MDLM; MLM for half
//	              the steps then MDLM for the other half
//	sft-*-sN      diffusion SFT from each of four starting points (random
//	              initialisation and the three pretrained models), several
//	              seeds each, the same steps for all: held-out loss curves
//	              and exact match on held-out questions
//	sampling      the best SFT model sampled with T, T/2, T/4 and T/8 steps
//	              and with a confidence threshold: tokens per second and
//	              exact match
//	report        sft.png and REPORT.md: the tables, the figure, and what
//	              agrees or disagrees with the reference
//
// Every stage writes its folder under OUT/stages atomically (built under a
// temporary name, renamed when complete, with a result.json), so an
// interrupted run started again skips the finished stages and redoes the
// one it was in. The sizes (Size) fix the compute: Full is about an hour on
// two CPU cores, Quick about ten minutes, Tiny seconds (for tests).
package replicate
