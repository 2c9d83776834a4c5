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
	"github.com/dllmgo/dllm/dist"
	"github.com/dllmgo/dllm/editflow"
	"github.com/dllmgo/dllm/lm"
	"github.com/dllmgo/dllm/mdlm"
	"github.com/dllmgo/dllm/mlm"
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
	lr, warmup, minLR, weightDecay, clip, beta2   float64
	schedule, weighting, normalization, times     string
	precision                                     string
	prec                                          nn.Precision // --precision, parsed by validate
	seed                                          uint64
	evalEvery, saveEvery, keepLast, evalBatches   int
	heldOut                                       float64
	budget                                        time.Duration
	skipBad, isolateSpaces, splitDigits           bool
	familySet, presetSet                          bool // given on the command line
	weightingSet                                  bool // --loss-weight given
	blockSize                                     int  // --objective bd3lm
	timePerBlock                                  bool // --objective bd3lm
	maskRate                                      float64
	mlmReplace                                    bool // --objective mlm
	overwrite                                     bool
	comm                                          dist.Comm // set when an MPI launcher started this process
	patience                                      int       // early stopping, in evaluations
	keepBest                                      bool      // the best evaluation's weights are the final model
	// untilConverged: a run with none of --steps, --epochs, --time-budget
	// trains until the held-out loss stops improving, capped at
	// defaultBudget (sft; set by sftDefaults).
	untilConverged bool

	// Set by parse for a resumed run: the checkpoint folder and the run
	// description it recorded (nil for a checkpoint older than those).
	checkpoint string
	recorded   *train.RunSpec
	// release gives the output folder back (ClaimOut); never nil after a
	// successful parse.
	release func()
	// tok is the tokenizer loaded before the data (--tokenizer, or the
	// --init or --resume folder's); nil when one is trained on the data.
	tok    *tokenizer.Tokenizer
	tokErr error // the --init folder has no tokenizer
	// digests are the training files' sizes and hashes (checkData).
	digests []train.FileDigest
}

func (f *trainFlags) register(fs *flag.FlagSet, defaultBatch, defaultMaxLen int) {
	d := train.Defaults()
	fs.StringVar(&f.out, "out", "", "output folder: the final model, checkpoints/, metrics.jsonl, loss.png (required)")
	fs.StringVar(&f.family, "family", modeldir.DefaultFamily(), "model family when training from scratch: "+familyList())
	fs.StringVar(&f.preset, "preset", "tiny", "model size when training from scratch: "+presetList())
	fs.StringVar(&f.initDir, "init", "", "start from this Hugging Face model folder instead of a preset (its config.json names the family)")
	fs.IntVar(&f.blockSize, "block-size", bd3lm.DefaultBlockSize, "--objective bd3lm: tokens per block")
	fs.BoolVar(&f.timePerBlock, "time-per-block", false, "--objective bd3lm: one diffusion time per block (the BD3LM authors') instead of one per sequence (the dLLM framework's)")
	fs.StringVar(&f.objectiveName, "objective", mdlm.ObjectiveName, "training objective: "+mdlm.ObjectiveName+" (masked diffusion), "+mlm.ObjectiveName+" (masked language modelling at a fixed rate, as BERT and ModernBERT were pretrained), "+bd3lm.ObjectiveName+" (block diffusion) or "+editflow.ObjectiveName+" (Edit Flows: insertions, deletions, substitutions; an Edit Flows folder always trains with it)")
	fs.Float64Var(&f.maskRate, "mask-rate", mlm.DefaultRate, "--objective mlm: fraction of the tokens masked (ModernBERT's 0.3)")
	fs.BoolVar(&f.mlmReplace, "mlm-replace", false, "--objective mlm: BERT's 80/10/10 (of the selected tokens 10% become a random token and 10% stay) instead of [MASK] only")
	fs.StringVar(&f.kappa, "kappa", "linear", "editflow: the schedule κ(t): linear, cubic or cosine")
	fs.IntVar(&f.editMasks, "edit-masks", 64, "editflow: the [MASK] tokens the source x0 has after the prompt (-1: none)")
	fs.StringVar(&f.tokPath, "tokenizer", "", "tokenizer.json to use (default: the --init model's, or train one on the data)")
	fs.IntVar(&f.vocabSize, "vocab-size", 1024, "vocabulary of the tokenizer trained when there is none")
	fs.BoolVar(&f.isolateSpaces, "isolate-spaces", true, "trained tokenizer: spaces are their own tokens, so a word is one token wherever it stands (easier for small models)")
	fs.BoolVar(&f.splitDigits, "split-digits", true, "trained tokenizer: every digit is its own token, as in Llama and Qwen2 (false: BPE may merge digit runs)")
	fs.StringVar(&f.resume, "resume", "", "continue a run from its output folder or a checkpoint folder; the run's options come from its checkpoint (see the README: Resuming a run)")
	fs.BoolVar(&f.overwrite, "overwrite", false, "replace what --out holds (a previous run's model and checkpoints are deleted first)")
	fs.StringVar(&f.device, "device", "cpu", "device: cpu or cuda")
	fs.StringVar(&f.precision, "precision", "f32", "matrix products: f32, or bf16 (mixed precision: bf16 operands, f32 sums and master weights; what a GPU wants, slower on cpu)")
	fs.IntVar(&f.steps, "steps", 0, "optimizer steps (0: use --epochs)")
	fs.DurationVar(&f.budget, "time-budget", 0, "train for about this long (e.g. 4m) instead of --steps/--epochs")
	fs.IntVar(&f.epochs, "epochs", 0, "passes over the data when --steps is 0 (0: sft trains until the held-out loss stops improving, at most --time-budget "+defaultBudget.String()+"; pretrain makes 1)")
	fs.IntVar(&f.patience, "patience", 0, "stop when this many held-out evaluations in a row have not improved on the best (0: never early)")
	fs.BoolVar(&f.keepBest, "keep-best", false, "the final model is the best held-out evaluation's weights, not the last step's")
	fs.IntVar(&f.batchSize, "batch-size", defaultBatch, "sequences per micro-batch")
	fs.IntVar(&f.gradAccum, "grad-accum", d.GradAccum, "micro-batches per optimizer step")
	fs.IntVar(&f.maxLen, "max-length", defaultMaxLen, "longest sequence in tokens (at most the model's positions: longer is capped with a note)")
	fs.Float64Var(&f.lr, "lr", 0, fmt.Sprintf("peak learning rate (0: %g from scratch, %g from --init)", train.DefaultLR, train.FineTuneLR))
	fs.Float64Var(&f.warmup, "warmup-ratio", d.WarmupRatio, "fraction of the steps spent warming up")
	fs.Float64Var(&f.minLR, "min-lr-ratio", d.MinLRRatio, "final learning rate as a fraction of the peak")
	fs.StringVar(&f.schedule, "schedule", d.Schedule, "learning-rate schedule: constant, linear or cosine")
	fs.Float64Var(&f.weightDecay, "weight-decay", d.WeightDecay, "AdamW weight decay (not applied to norms, biases, embeddings)")
	fs.Float64Var(&f.clip, "clip", d.Clip, "gradient clipping by global norm (0: off)")
	fs.Float64Var(&f.beta2, "adam-beta2", d.Beta2, "AdamW's β2, the decay of its running squared gradient")
	fs.StringVar(&f.weighting, "loss-weight", "schedule", "masked-token weight: schedule (1/t, the ELBO) or uniform")
	fs.StringVar(&f.normalization, "loss-norm", "token", "loss normalisation: token, sequence or batch")
	fs.StringVar(&f.times, "time-sampling", "stratified", "diffusion times per batch: stratified (row i of B draws its t from the i-th of B equal strata, MDLM's antithetic_sampling: the same expectation as uniform with less variance, and SFT learns to copy from the prompt in fewer steps), uniform (independent per row, as the dLLM framework) or antithetic")
	fs.Uint64Var(&f.seed, "seed", d.Seed, "random seed: initialisation, data order, noise")
	fs.IntVar(&f.evalEvery, "eval-every", 0, "steps between held-out evaluations (0: 10 per run)")
	fs.IntVar(&f.saveEvery, "save-every", 0, "steps between checkpoints (0: 4 per run)")
	fs.IntVar(&f.keepLast, "keep-last", d.KeepLast, "checkpoints to keep")
	fs.Float64Var(&f.heldOut, "held-out", 0.05, "fraction of the data held out for evaluation (0: none, and no held-out loss)")
	// On a large corpus, scoring all of 5% would cost more than the training
	// between evaluations.
	fs.IntVar(&f.evalBatches, "eval-batches", 16, "held-out batches scored at each evaluation (0: all)")
	fs.BoolVar(&f.skipBad, "skip-bad", false, "skip malformed data lines (counted) instead of stopping")
}

// parse reads the command line of a training command, checks it, opens the
// device, takes the output folder (ClaimOut) and loads the tokenizer, all
// before any data is read. hasData reports whether --data was given (read
// by the caller after parsing, hence a func). With --resume, the options
// not given come from the checkpoint, and those given must agree with it
// (resumeFlags). After a nil error the caller must call f.release.
func (f *trainFlags) parse(fs *flag.FlagSet, args []string, hasData func() bool, stderr io.Writer) (tensor.Backend, error) {
	if err := parseFlags(fs, args); err != nil {
		return nil, err
	}
	if err := noArgs(fs); err != nil {
		return nil, err
	}
	given := map[string]bool{}
	fs.Visit(func(fl *flag.Flag) {
		given[fl.Name] = true
		f.familySet = f.familySet || fl.Name == "family"
		f.presetSet = f.presetSet || fl.Name == "preset"
		f.weightingSet = f.weightingSet || fl.Name == "loss-weight"
	})
	switch { // before --resume fills the flags from its checkpoint
	case f.initDir != "" && f.resume != "":
		return nil, badInput("--init and --resume exclude each other: --resume already has weights")
	case (f.familySet || f.presetSet) && (f.initDir != "" || f.resume != ""):
		return nil, badInput("--family and --preset make a fresh model; --init and --resume start from a folder, whose config.json names its family and size")
	}
	if f.resume != "" {
		if err := f.resumeFlags(fs); err != nil {
			return nil, err
		}
	} else {
		f.resolveDefaults(given)
	}
	if !hasData() {
		return nil, badInput("--data is required")
	}
	if err := f.validate(); err != nil {
		return nil, err
	}
	if f.lr == 0 {
		f.lr = train.DefaultLR
		if f.initDir != "" {
			f.lr = train.FineTuneLR
		}
	}
	m, err := startDist(f.device)
	if err != nil {
		return nil, err
	}
	be, err := openDevice(f.device)
	if err != nil {
		return nil, err
	}
	if m != nil {
		// Every rank builds its model from the seed: rank 0's, whatever the
		// others were given (the weights are broadcast again before training).
		if f.seed, err = dist.BroadcastUint64(m, f.seed, 0); err != nil {
			return nil, err
		}
		if f.comm, err = commFor(m, be); err != nil {
			return nil, err
		}
	}
	if err := f.claimOut(fs); err != nil {
		return nil, err
	}
	if err := f.loadTokenizer(stderr); err != nil {
		f.release()
		return nil, err
	}
	return be, nil
}

// defaultBudget caps an sft run given no length: it trains until the
// held-out loss stops improving (defaultPatience evaluations without a new
// best) or for this long, whichever comes first, and keeps the best
// weights.
const (
	defaultBudget   = 10 * time.Minute
	defaultPatience = 5
)

// sftDefaults makes sft's defaults those that learn: until the held-out
// loss stops improving, the best weights kept, at most defaultBudget.
func (f *trainFlags) sftDefaults(fs *flag.FlagSet) {
	f.untilConverged = true
	f.patience, f.keepBest = defaultPatience, true
	fs.Lookup("patience").DefValue = fmt.Sprint(defaultPatience)
	fs.Lookup("keep-best").DefValue = "true"
	fs.Lookup("time-budget").Usage += fmt.Sprintf(" (sft with none of --steps, --epochs, --time-budget: %s, ended earlier by --patience)", defaultBudget)
}

// resolveDefaults settles sft's defaults for a new run (given: the flags
// on the command line): with none of --steps, --epochs, --time-budget the
// run is capped at defaultBudget; without a held-out set, the early
// stopping and best weights that were not asked for are off. The flags
// are then recorded as resolved, so that --resume continues the same run.
func (f *trainFlags) resolveDefaults(given map[string]bool) {
	if !f.untilConverged {
		return
	}
	if f.steps == 0 && f.epochs == 0 && f.budget == 0 {
		f.budget = defaultBudget
	}
	if f.heldOut == 0 {
		if !given["patience"] {
			f.patience = 0
		}
		if !given["keep-best"] {
			f.keepBest = false
		}
	}
}

// validate checks the numeric flags.
func (f *trainFlags) validate() error {
	switch {
	case f.out == "":
		return badInput("--out is required")
	case f.patience < 0:
		return badInput("--patience must be at least 0, got %d", f.patience)
	case (f.patience > 0 || f.keepBest) && f.heldOut == 0:
		return badInput("--patience and --keep-best need a held-out set: --held-out is 0 (give --patience 0 --keep-best=false)")
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
	case f.overwrite && f.checkpoint != "" && train.RunDir(f.checkpoint) != "" && sameDir(train.RunDir(f.checkpoint), f.out):
		return badInput("--overwrite would delete the run that --resume continues (%s)", f.out)
	case f.lr < 0:
		return badInput("--lr must be positive, got %g", f.lr)
	case f.heldOut < 0 || f.heldOut >= 1:
		return badInput("--held-out must be in [0, 1), got %g", f.heldOut)
	case f.vocabSize < 300:
		return badInput("--vocab-size must be at least 300 (256 bytes plus merges and specials), got %d", f.vocabSize)
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
	if !slices.Contains([]string{mdlm.ObjectiveName, mlm.ObjectiveName, bd3lm.ObjectiveName, editflow.ObjectiveName}, f.objectiveName) {
		return badInput("--objective: unknown objective %q (known: %s, %s, %s, %s)", f.objectiveName, mdlm.ObjectiveName, mlm.ObjectiveName, bd3lm.ObjectiveName, editflow.ObjectiveName)
	}
	if !(f.maskRate > 0 && f.maskRate <= 1) {
		return badInput("--mask-rate must be in (0, 1], got %g", f.maskRate)
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
	if f.objectiveName == mlm.ObjectiveName {
		return mlmObjective(b, f.maskRate, f.mlmReplace), nil
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

// mlmObjective is MLM for bundle b: random replacements (with replace) are
// drawn from the tokenizer's vocabulary, never one of its added tokens.
func mlmObjective(b *modeldir.Bundle, rate float64, replace bool) *mlm.Objective {
	o := mlm.Options{MaskID: b.MaskID, Rate: rate, Replace: replace, Vocab: b.Tokenizer.VocabSize()}
	for _, a := range b.Tokenizer.AddedTokens() {
		o.Specials = append(o.Specials, int32(a.ID))
	}
	return mlm.New(o)
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
// given). texts is only called when a tokenizer must be trained. A
// --max-length past the model's positions is capped to them.
func (f *trainFlags) setup(be tensor.Backend, texts iter.Seq[string], stderr io.Writer) (*modeldir.Bundle, error) {
	var err error
	from := f.initDir
	if f.checkpoint != "" {
		from = f.checkpoint
	}
	var m lm.Model
	if from != "" {
		if m, err = loadModel(from, be, modeldir.Options{}); err != nil {
			return nil, err
		}
	}
	tok := f.tok
	if f.tokErr != nil {
		return nil, f.tokErr
	}
	if tok == nil {
		fmt.Fprintf(stderr, "training a byte-level BPE tokenizer (vocabulary %d) on the data...\n", f.vocabSize)
		if tok, err = tokenizer.Train(texts, tokenizer.TrainConfig{VocabSize: f.vocabSize, IsolateSpaces: f.isolateSpaces, SplitDigits: f.splitDigits}); err != nil {
			return nil, fmt.Errorf("training the tokenizer: %w", err)
		}
	}
	var b *modeldir.Bundle
	if m == nil {
		// The preset's positions, not --max-length: a row length is no
		// reason to change the model.
		if b, err = recipe.FreshBundle(f.family, f.preset, tok, 0, f.seed, be); err != nil {
			return nil, badInput("--preset: %v", err)
		}
	} else if b, err = f.bundle(m, tok, from); err != nil {
		return nil, badInput("%v", err)
	}
	if limit := b.Model.Spec().MaxPositions; limit > 0 && f.maxLen > limit {
		fmt.Fprintf(stderr, "note: --max-length %d is more than the model's %d positions: rows are cut at %d\n", f.maxLen, limit, limit)
		f.maxLen = limit
	}
	return b, nil
}

// loadTokenizer loads the tokenizer a run starts from, before any data is
// read: --tokenizer, else the --resume or --init folder's (none when a new
// one is trained on the data). Its padding and truncation settings would
// cut or pad every encoded text, training rows included (a Fixed padding
// makes every row the same padded length): they are dropped with a note,
// and the saved tokenizer.json has none.
func (f *trainFlags) loadTokenizer(stderr io.Writer) error {
	path := f.tokPath
	switch {
	case f.checkpoint != "": // a --tokenizer given again agreed with the record
		path = filepath.Join(f.checkpoint, modeldir.TokenizerFile)
	case path == "" && f.initDir != "":
		path = filepath.Join(f.initDir, modeldir.TokenizerFile)
	}
	if path == "" {
		return nil
	}
	tok, err := tokenizer.Load(path)
	if err != nil && errors.Is(err, os.ErrNotExist) && f.tokPath == "" && f.checkpoint == "" {
		// Reported by setup once the --init folder itself was checked.
		f.tokErr = badInput("%v", err)
		return nil
	}
	if err != nil {
		return badInput("%v", err)
	}
	var dropped []string
	if tok.Padding() != nil {
		dropped = append(dropped, "padding")
		tok.SetPadding(nil)
	}
	if tok.Truncation() != nil {
		dropped = append(dropped, "truncation")
		tok.SetTruncation(nil)
	}
	if len(dropped) > 0 {
		fmt.Fprintf(stderr, "note: %s: its %s settings are ignored: training rows are cut by --max-length and padded per batch\n",
			path, strings.Join(dropped, " and "))
	}
	f.tok = tok
	return nil
}

// bundle ties the model to its tokenizer: the special tokens and template
// of the starting folder when there is one (and --tokenizer does not
// replace its tokenizer), else those the tokenizer and model name.
func (f *trainFlags) bundle(m lm.Model, tok *tokenizer.Tokenizer, from string) (*modeldir.Bundle, error) {
	if from != "" && (f.tokPath == "" || from == f.checkpoint) {
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

func (f *trainFlags) options(steps int, obj lm.Objective, progress io.Writer, terminal bool, spec *train.RunSpec) train.Options {
	o := train.Defaults()
	o.LR, o.Run = f.lr, spec
	o.Steps, o.Epochs, o.GradAccum = steps, f.epochs, f.gradAccum
	o.WarmupRatio, o.MinLRRatio, o.Schedule = f.warmup, f.minLR, f.schedule
	o.WeightDecay, o.Clip, o.Beta2 = f.weightDecay, f.clip, f.beta2
	o.Seed, o.Objective, o.Precision = f.seed, obj, f.prec
	o.EvalEvery, o.SaveEvery, o.KeepLast = f.evalEvery, f.saveEvery, f.keepLast
	o.OutDir, o.Progress, o.Terminal, o.TimeBudget = f.out, progress, terminal, f.budget
	o.Dist = f.comm
	o.Patience, o.KeepBest = f.patience, f.keepBest
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
	fmt.Fprintln(stderr, globalBatchLine(f))
	if f.budget > 0 {
		fmt.Fprintf(stderr, "training for about %s: the number of steps is fitted to the budget as the run goes\n", f.budget)
	}
	if f.checkpoint != "" {
		// The model was built from the checkpoint's weights (setup).
		if err := t.ResumeState(f.checkpoint); err != nil {
			var mm *train.MismatchError
			if errors.As(err, &mm) {
				return badInput("--resume %s: %v", f.checkpoint, err)
			}
			return badInput("--resume: %v", err)
		}
		fmt.Fprintf(stderr, "resumed from %s at step %d of %d\n", f.checkpoint, t.State().Step, t.TotalSteps())
	}
	// A closed terminal (SIGHUP) saves like Ctrl-C.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
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
