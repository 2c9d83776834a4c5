// Package recipe holds dllm's training recipes as library functions, so
// that the CLI (`dllm sft`, `dllm pretrain`, `dllm demo`) and a Go program
// make the same run from the same data:
//
//   - SFT cuts chat conversations into a training and a held-out part (the
//     split is a function of the seed), builds the SFT rows of each (prompt
//     labelled data.IgnoreIndex, answer and padding supervised), and sizes
//     the model's generation defaults to the longest training answer;
//   - Pretrain packs documents into rows of equal length, joined by the pad
//     token, and splits the rows the same way;
//   - both give one epoch's batches as a pure function of (seed, epoch),
//     which is what makes train's resumption exact;
//   - Fresh sizes a new model to its tokenizer; SFTEpochs and
//     PretrainEpochs are the default lengths of a run; train.Defaults holds
//     the optimizer's recipe.
//
// recipe imports data, data/tokenizer, lm, modeldir and train; it names no
// model family (a family is chosen by name through modeldir).
package recipe
