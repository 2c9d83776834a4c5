package train

// The learning rates of the recipe: from scratch, and from a trained
// checkpoint (fine-tuning moves less).
const (
	DefaultLR  = 1e-3
	FineTuneLR = 1e-4
)

// Defaults returns the recipe every dllm run starts from (the CLI's flag
// defaults): AdamW (0.9, 0.99, 1e-8) at DefaultLR with weight decay 0.01,
// a cosine schedule after 10% warm-up down to 0, gradient clipping at norm
// 1, one micro-batch per step, seed 1, the last two checkpoints kept.
// Steps and Epochs are left 0 (one epoch, or the recipe's: see package
// recipe), and Objective nil: the caller chooses it (mdlm.NewObjective).
//
// β2 is 0.99, not PyTorch's 0.999 (which Options with Beta1 0 still get):
// runs of minutes on a CPU are thousands of steps, and a second-moment
// average over ~1,000 steps lags the gradients of a model still leaving its
// first plateau. Measured with sft on the nine mixed synthetic tasks (3,000
// steps, tiny preset, one seed each): 45% exact match with 0.99 against 23%
// with 0.999.
func Defaults() Options {
	return Options{
		GradAccum: 1,
		LR:        DefaultLR, WarmupRatio: 0.1, MinLRRatio: 0, Schedule: "cosine",
		WeightDecay: 0.01, Clip: 1,
		Beta1: 0.9, Beta2: 0.99, AdamEps: 1e-8,
		Seed: 1, KeepLast: 2,
	}
}
