package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"iter"
	"math/rand/v2"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/dllmgo/dllm/bd3lm"
	"github.com/dllmgo/dllm/data/tokenizer"
	"github.com/dllmgo/dllm/editflow"
	"github.com/dllmgo/dllm/lm"
	"github.com/dllmgo/dllm/mdlm"
	"github.com/dllmgo/dllm/modeldir"
	"github.com/dllmgo/dllm/nn"
	"github.com/dllmgo/dllm/optim"
	"github.com/dllmgo/dllm/recipe"
	"github.com/dllmgo/dllm/tensor"
	"github.com/dllmgo/dllm/train"
)

// editHeadsStream is the PCG stream of the Edit Flows rate head's initial
// weights (the seed is the run's).
const editHeadsStream = 0xed17

// trainFlags are the options shared by pretrain and sft.
type trainFlags struct {
	out, preset, initDir, tokPath, resume, device string
	family, objectiveName, kappa                  string
	editMasks                                     int
	vocabSize                                     int
	steps, epochs, batchSize, gradAccum, maxLen   int
	lr, warmup, minLR, weightDecay, clip          float64
	schedule, weighting, normalization, times     string
	precision                                     string
	prec                                          nn.Precision // --precision, parsed by validate
	seed                                          uint64
	evalEvery, saveEvery, keepLast, evalBatches   int
	heldOut                                       float64
	budget                                        time.Duration
	skipBad, isolateSpaces                        bool
	familySet, presetSet                          bool // given on the command line
	weightingSet                                  bool // --loss-weight given
	blockSize                                     int  // --objective bd3lm
	timePerBlock                                  bool // --objective bd3lm
}

func (f *trainFlags) register(fs *flag.FlagSet, defaultBatch, defaultMaxLen int) {
	d := train.Defaults()
	fs.StringVar(&f.out, "out", "", "output folder: the final model, checkpoints/, metrics.jsonl, loss.png (required)")
	fs.StringVar(&f.family, "family", modeldir.DefaultFamily(), "model family when training from scratch: "+familyList())
	fs.StringVar(&f.preset, "preset", "tiny", "model size when training from scratch: "+presetList())
	fs.StringVar(&f.initDir, "init", "", "start from this Hugging Face model folder instead of a preset (its config.json names the family)")
	fs.IntVar(&f.blockSize, "block-size", bd3lm.DefaultBlockSize, "--objective bd3lm: tokens per block")
	fs.BoolVar(&f.timePerBlock, "time-per-block", false, "--objective bd3lm: one diffusion time per block (the BD3LM authors') instead of one per sequence (the dLLM framework's)")
	fs.StringVar(&f.objectiveName, "objective", mdlm.ObjectiveName, "training objective: "+mdlm.ObjectiveName+" (masked diffusion), "+bd3lm.ObjectiveName+" (block diffusion) or "+editflow.ObjectiveName+" (Edit Flows: insertions, deletions, substitutions; an Edit Flows folder always trains with it)")
	fs.StringVar(&f.kappa, "kappa", "linear", "editflow: the schedule κ(t): linear, cubic or cosine")
	fs.IntVar(&f.editMasks, "edit-masks", 64, "editflow: the [MASK] tokens the source x0 has after the prompt (-1: none)")
	fs.StringVar(&f.tokPath, "tokenizer", "", "tokenizer.json to use (default: the --init model's, or train one on the data)")
	fs.IntVar(&f.vocabSize, "vocab-size", 1024, "vocabulary of the tokenizer trained when there is none")
	fs.BoolVar(&f.isolateSpaces, "isolate-spaces", true, "trained tokenizer: spaces are their own tokens, so a word is one token wherever it stands (easier for small models)")
	fs.StringVar(&f.resume, "resume", "", "continue a run from its output folder or a checkpoint folder")
	fs.StringVar(&f.device, "device", "cpu", "device: cpu or cuda")
	fs.StringVar(&f.precision, "precision", "f32", "matrix products: f32, or bf16 (mixed precision: bf16 operands, f32 sums and master weights; what a GPU wants, slower on cpu)")
	fs.IntVar(&f.steps, "steps", 0, "optimizer steps (0: use --epochs)")
	fs.DurationVar(&f.budget, "time-budget", 0, "train for about this long (e.g. 4m) instead of --steps/--epochs")
	fs.IntVar(&f.epochs, "epochs", 0, "passes over the data when --steps is 0 (0: 10 for sft, as the reference, 1 for pretrain)")
	fs.IntVar(&f.batchSize, "batch-size", defaultBatch, "sequences per micro-batch")
	fs.IntVar(&f.gradAccum, "grad-accum", d.GradAccum, "micro-batches per optimizer step")
	fs.IntVar(&f.maxLen, "max-length", defaultMaxLen, "longest sequence in tokens")
	fs.Float64Var(&f.lr, "lr", 0, fmt.Sprintf("peak learning rate (0: %g from scratch, %g from --init)", train.DefaultLR, train.FineTuneLR))
	fs.Float64Var(&f.warmup, "warmup-ratio", d.WarmupRatio, "fraction of the steps spent warming up")
	fs.Float64Var(&f.minLR, "min-lr-ratio", d.MinLRRatio, "final learning rate as a fraction of the peak")
	fs.StringVar(&f.schedule, "schedule", d.Schedule, "learning-rate schedule: constant, linear or cosine")
	fs.Float64Var(&f.weightDecay, "weight-decay", d.WeightDecay, "AdamW weight decay (not applied to norms, biases, embeddings)")
	fs.Float64Var(&f.clip, "clip", d.Clip, "gradient clipping by global norm (0: off)")
	fs.StringVar(&f.weighting, "loss-weight", "schedule", "masked-token weight: schedule (1/t, the ELBO) or uniform")
	fs.StringVar(&f.normalization, "loss-norm", "token", "loss normalisation: token, sequence or batch")
	fs.StringVar(&f.times, "time-sampling", "uniform", "diffusion times per batch: uniform, stratified or antithetic")
	fs.Uint64Var(&f.seed, "seed", d.Seed, "random seed: initialisation, data order, noise")
	fs.IntVar(&f.evalEvery, "eval-every", 0, "steps between held-out evaluations (0: 10 per run)")
	fs.IntVar(&f.saveEvery, "save-every", 0, "steps between checkpoints (0: 4 per run)")
	fs.IntVar(&f.keepLast, "keep-last", d.KeepLast, "checkpoints to keep")
	fs.Float64Var(&f.heldOut, "held-out", 0.05, "fraction of the data held out for evaluation")
	// On a large corpus, scoring all of 5% would cost more than the training
	// between evaluations.
	fs.IntVar(&f.evalBatches, "eval-batches", 16, "held-out batches scored at each evaluation (0: all)")
	fs.BoolVar(&f.skipBad, "skip-bad", false, "skip malformed data lines (counted) instead of stopping")
}

// parse reads the command line of a training command, checks it and opens
// the device. hasData reports whether --data was given (read by the caller
// after parsing, hence a func).
func (f *trainFlags) parse(fs *flag.FlagSet, args []string, hasData func() bool) (tensor.Backend, error) {
	if err := parseFlags(fs, args); err != nil {
		return nil, err
	}
	if err := noArgs(fs); err != nil {
		return nil, err
	}
	fs.Visit(func(fl *flag.Flag) {
		f.familySet = f.familySet || fl.Name == "family"
		f.presetSet = f.presetSet || fl.Name == "preset"
		f.weightingSet = f.weightingSet || fl.Name == "loss-weight"
	})
	if !hasData() {
		return nil, badInput("--data is required")
	}
	if err := f.validate(); err != nil {
		return nil, err
	}
	return openDevice(f.device)
}

// validate checks the numeric flags.
func (f *trainFlags) validate() error {
	switch {
	case f.out == "":
		return badInput("--out is required")
	case f.budget < 0:
		return badInput("--time-budget must be positive, got %s", f.budget)
	case f.steps < 0 || f.epochs < 0:
		return badInput("--steps and --epochs must be >= 0")
	case f.batchSize < 1:
		return badInput("--batch-size must be at least 1, got %d", f.batchSize)
	case f.gradAccum < 1:
		return badInput("--grad-accum must be at least 1, got %d", f.gradAccum)
	case f.maxLen < 8:
		return badInput("--max-length must be at least 8, got %d", f.maxLen)
	case f.lr < 0:
		return badInput("--lr must be positive, got %g", f.lr)
	case f.heldOut < 0 || f.heldOut >= 1:
		return badInput("--held-out must be in [0, 1), got %g", f.heldOut)
	case f.vocabSize < 300:
		return badInput("--vocab-size must be at least 300 (256 bytes plus merges and specials), got %d", f.vocabSize)
	case f.initDir != "" && f.resume != "":
		return badInput("--init and --resume exclude each other: --resume already has weights")
	case (f.familySet || f.presetSet) && (f.initDir != "" || f.resume != ""):
		return badInput("--family and --preset make a fresh model; --init and --resume start from a folder, whose config.json names its family and size")
	}
	if f.initDir == "" && f.resume == "" {
		fam, err := modeldir.Family(f.family)
		if err != nil {
			return badInput("--family: %v", err)
		}
		if !slices.Contains(fam.Presets, f.preset) {
			return badInput("--preset: family %s has no preset %q (known: %s)", fam.Name, f.preset, strings.Join(fam.Presets, ", "))
		}
	}
	if f.objectiveName != mdlm.ObjectiveName && f.objectiveName != bd3lm.ObjectiveName && f.objectiveName != editflow.ObjectiveName {
		return badInput("--objective: unknown objective %q (known: %s, %s, %s)", f.objectiveName, mdlm.ObjectiveName, bd3lm.ObjectiveName, editflow.ObjectiveName)
	}
	if f.blockSize < 1 {
		return badInput("--block-size must be at least 1, got %d", f.blockSize)
	}
	if _, err := editflow.ParseKappa(f.kappa); err != nil {
		return badInput("--kappa: %v", err)
	}
	if _, err := optim.NewSchedule(optim.ScheduleConfig{Kind: f.schedule, Peak: 1, TotalSteps: 1}); err != nil {
		return badInput("--schedule: %v", err)
	}
	var err error
	if f.prec, err = nn.ParsePrecision(f.precision); err != nil {
		return badInput("--precision: %v", err)
	}
	_, err = f.objective(0)
	return err
}

// objectiveFor builds the --objective for bundle b; sft pads BD3LM's rows
// to whole blocks. Edit Flows puts its heads on a model that has none yet
// (b.Model becomes an *editflow.Model); a model that has them trains with
// Edit Flows whatever --objective says. Without --loss-weight, a model that
// names its family's weighting (lm.LossWeighter: Dream's CART) trains with
// it.
func (f *trainFlags) objectiveFor(b *modeldir.Bundle, sft bool) (lm.Objective, error) {
	if lw, ok := b.Model.(lm.LossWeighter); ok && !f.weightingSet && lw.LossWeighting() != "" {
		f.weighting = lw.LossWeighting()
	}
	_, isEF := b.Model.(*editflow.Model)
	if isEF || f.objectiveName == editflow.ObjectiveName {
		if !isEF {
			bb, ok := b.Model.(editflow.Backbone)
			if !ok {
				return nil, badInput("--objective %s: the %s family has no output head for the edit heads to start from", editflow.ObjectiveName, b.Model.Spec().Family)
			}
			b.Model = editflow.New(bb, rand.New(rand.NewPCG(f.seed, editHeadsStream)))
		}
		k, err := editflow.ParseKappa(f.kappa)
		if err != nil {
			return nil, badInput("--kappa: %v", err)
		}
		return editflow.NewObjective(editflow.Options{Kappa: k, MaskLength: f.editMasks, BOS: b.BOSID}), nil
	}
	o, err := f.objective(b.MaskID)
	if err != nil {
		return nil, err
	}
	if f.objectiveName != bd3lm.ObjectiveName {
		return mdlm.NewObjective(o), nil
	}
	if _, ok := b.Model.(lm.MaskAttender); !ok {
		return nil, badInput("--objective bd3lm: the %s family takes no attention mask", b.Model.Spec().Family)
	}
	return bd3lm.NewObjective(bd3lm.Options{MDLM: o, BlockSize: f.blockSize, PerBlock: f.timePerBlock,
		PadToBlocks: sft, EOS: endOfText(b), Pad: b.PadID}), nil
}

// endOfText is the token that ends a block-diffusion answer: the model's
// eos, or, where it has none (a fresh ModernBERT, whose chat answers end
// with padding), its pad token.
func endOfText(b *modeldir.Bundle) int32 {
	if b.EOSID != lm.NoToken {
		return b.EOSID
	}
	return b.PadID
}

// recordObjective writes what a BD3LM run's sampler needs into b's
// generation defaults (after the recipe sized them), so that generate, chat
// and eval sample the saved model block by block without flags.
func (f *trainFlags) recordObjective(b *modeldir.Bundle) {
	if f.objectiveName == bd3lm.ObjectiveName {
		b.Generation.Sampler = bd3lm.ObjectiveName
		b.Generation.BlockSize = f.blockSize
	}
}

func (f *trainFlags) objective(maskID int32) (mdlm.ObjectiveOptions, error) {
	w, err := mdlm.ParseWeighting(f.weighting)
	if err != nil {
		return mdlm.ObjectiveOptions{}, badInput("--loss-weight: %v", err)
	}
	n, err := mdlm.ParseNormalization(f.normalization)
	if err != nil {
		return mdlm.ObjectiveOptions{}, badInput("--loss-norm: %v", err)
	}
	ts, err := mdlm.ParseTimeSampling(f.times)
	if err != nil {
		return mdlm.ObjectiveOptions{}, badInput("--time-sampling: %v", err)
	}
	return mdlm.ObjectiveOptions{MaskID: maskID, Weighting: w, Normalization: n, Times: ts}, nil
}

// setup returns the tokenizer and the model: from --resume's checkpoint, from
// --init, or fresh from a preset (training a tokenizer on texts when none is
// given). texts is only called when a tokenizer must be trained.
func (f *trainFlags) setup(be tensor.Backend, texts iter.Seq[string], stderr io.Writer) (*modeldir.Bundle, error) {
	var tok *tokenizer.Tokenizer
	var err error
	from := f.initDir
	if f.resume != "" {
		if from, err = train.FindCheckpoint(f.resume); err != nil {
			return nil, badInput("--resume: %v", err)
		}
	}
	var m lm.Model
	if from != "" {
		if m, err = loadModel(from, be, modeldir.Options{}); err != nil {
			return nil, err
		}
	}
	switch {
	case f.tokPath != "":
		if tok, err = tokenizer.Load(f.tokPath); err != nil {
			return nil, badInput("%v", err)
		}
	case from != "":
		if tok, err = tokenizer.Load(filepath.Join(from, modeldir.TokenizerFile)); err != nil {
			return nil, badInput("%v", err)
		}
	default:
		fmt.Fprintf(stderr, "training a byte-level BPE tokenizer (vocabulary %d) on the data...\n", f.vocabSize)
		if tok, err = tokenizer.Train(texts, tokenizer.TrainConfig{VocabSize: f.vocabSize, IsolateSpaces: f.isolateSpaces}); err != nil {
			return nil, fmt.Errorf("training the tokenizer: %w", err)
		}
	}
	if m == nil {
		b, err := recipe.FreshBundle(f.family, f.preset, tok, f.maxLen, f.seed, be)
		if err != nil {
			return nil, badInput("--preset: %v", err)
		}
		return b, nil
	}
	b, err := f.bundle(m, tok, from)
	if err != nil {
		return nil, badInput("%v", err)
	}
	return b, nil
}

// bundle ties the model to its tokenizer: the special tokens and template
// of the starting folder when there is one (and --tokenizer does not
// replace its tokenizer), else those the tokenizer and model name.
func (f *trainFlags) bundle(m lm.Model, tok *tokenizer.Tokenizer, from string) (*modeldir.Bundle, error) {
	if from != "" && f.tokPath == "" {
		return modeldir.Attach(from, m, tok)
	}
	return modeldir.NewBundle(m, tok)
}

// familyList and presetList name the registry's families and presets for
// the flag help.
func familyList() string {
	var names []string
	for _, f := range modeldir.Families() {
		names = append(names, f.Name)
	}
	return strings.Join(names, ", ")
}

func presetList() string {
	var parts []string
	for _, f := range modeldir.Families() {
		parts = append(parts, strings.Join(f.Presets, ", ")+" ("+f.Name+")")
	}
	return strings.Join(parts, "; ")
}

func (f *trainFlags) options(steps int, obj lm.Objective, progress io.Writer, terminal bool) train.Options {
	o := train.Defaults()
	o.LR = f.lr
	if o.LR == 0 {
		o.LR = train.DefaultLR
		if f.initDir != "" {
			o.LR = train.FineTuneLR
		}
	}
	o.Steps, o.Epochs, o.GradAccum = steps, f.epochs, f.gradAccum
	o.WarmupRatio, o.MinLRRatio, o.Schedule = f.warmup, f.minLR, f.schedule
	o.WeightDecay, o.Clip = f.weightDecay, f.clip
	o.Seed, o.Objective, o.Precision = f.seed, obj, f.prec
	o.EvalEvery, o.SaveEvery, o.KeepLast = f.evalEvery, f.saveEvery, f.keepLast
	o.OutDir, o.Progress, o.Terminal, o.TimeBudget = f.out, progress, terminal, f.budget
	return o
}

// onDevice names the device for the status line, with the precision when
// it is not plain f32.
func (f *trainFlags) onDevice(be tensor.Backend) string {
	if f.prec == nn.PrecisionF32 {
		return be.Name()
	}
	return fmt.Sprintf("%s in %s mixed precision", be.Name(), f.prec)
}

// runTrainer runs t until done or Ctrl-C, resuming first if asked.
func runTrainer(t *train.Trainer, f *trainFlags, stdout, stderr io.Writer) error {
	if f.budget > 0 {
		fmt.Fprintf(stderr, "training for about %s: the number of steps is set after timing the first ones\n", f.budget)
	}
	if f.resume != "" {
		dir, err := train.FindCheckpoint(f.resume)
		if err != nil {
			return badInput("--resume: %v", err)
		}
		if err := t.Resume(dir); err != nil {
			return badInput("--resume: %v", err)
		}
		fmt.Fprintf(stderr, "resumed from %s at step %d\n", dir, t.State().Step)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := t.Run(ctx)
	if errors.Is(err, train.ErrInterrupted) {
		fmt.Fprintf(stderr, "\ninterrupted at step %d: checkpoint saved; continue with --resume %s\n", t.State().Step, f.out)
		return err
	}
	if err == nil {
		fmt.Fprintf(stdout, "saved the model to %s\n", f.out)
	}
	return err
}
