// Package train is the training loop shared by diffusion pretraining and SFT:
// batches (data.Batch) in a deterministic order, the loss of an lm.Objective
// (mdlm.NewObjective, say) through any lm.Model, gradient accumulation and
// clipping, AdamW with a learning-rate
// schedule, held-out evaluation, progress on the terminal, a JSONL metrics
// log, a loss-curve plot, and checkpoints that resume a run exactly.
//
// Exact resumption is a design goal, not an accident: the batch order of an
// epoch is a pure function of (seed, epoch); the noise generator's state is
// saved with the optimizer's; the CPU backend is deterministic. So the loss
// curve of an interrupted and resumed run is the curve of the run that was
// never interrupted.
//
// A checkpoint also describes its run (runspec.go): the options that shape
// the weights, which Resume compares with the resumed trainer's, and the
// caller's record (Options.Run: for dllm every flag, the data files' hashes,
// the tokenizer and model hashes, the device, the version), so that a run
// can be continued from its checkpoint alone. What a crash leaves is
// cleared on resume: metrics.jsonl is cut back to the checkpoint's step,
// half-written checkpoint folders and newer checkpoints are removed
// (checkpoint.go, metrics.go). ClaimOut gives an output folder to one run
// (outdir.go), and a time budget is fitted again before every step
// (budget.go).
//
// Data parallelism is one option, Options.Dist (package dist): each rank
// computes its share of every global batch, gradients are averaged, and
// rank 0 alone writes; the hooks are in dist.go.
//
// train imports lm, data, nn, optim, dist, tensor and the safetensors format; it
// names no model family and no objective: the model folder a run writes is
// the caller's business (Hooks.SaveModel, modeldir.Bundle.Save).
package train
