package recipe

import (
	"io"
	"iter"
	"math/rand/v2"

	"github.com/dllmgo/dllm/data"
	"github.com/dllmgo/dllm/data/tokenizer"
	"github.com/dllmgo/dllm/mdlm"
	"github.com/dllmgo/dllm/modeldir"
	"github.com/dllmgo/dllm/tensor"
	"github.com/dllmgo/dllm/train"
)

// InitSeedStream is the PCG stream of a fresh model's initial weights (the
// seed is the run's).
const InitSeedStream = 0x1234

// FreshBundle makes a new model of a registered family's preset, sized to
// tok and rows of maxLen tokens, initialised from seed, and ties it to tok.
func FreshBundle(family, preset string, tok *tokenizer.Tokenizer, maxLen int, seed uint64, be tensor.Backend) (*modeldir.Bundle, error) {
	m, err := modeldir.New(family, preset, Fresh(tok, maxLen), be)
	if err != nil {
		return nil, err
	}
	m.Init(rand.New(rand.NewPCG(seed, InitSeedStream)))
	return modeldir.NewBundle(m, tok)
}

// ChatTexts renders conversations with the BERT chat template: the text a
// tokenizer for a chat model is trained on.
func ChatTexts(convs []data.Conversation) iter.Seq[string] {
	return func(yield func(string) bool) {
		for _, c := range convs {
			text, err := data.BertChat.Render(c.Messages, false)
			if err == nil && !yield(text) {
				return
			}
		}
	}
}

// Run is what an SFT or pretraining run needs besides its data.
type Run struct {
	Split Split
	// BatchSize rows per micro-batch; EvalBatches held-out batches scored
	// at each evaluation (0: all).
	BatchSize, EvalBatches int
	// Options of the trainer (start from train.Defaults()). A nil Objective
	// is MDLM with the bundle's mask token; zero Steps and Epochs make the
	// recipe's number of epochs.
	Options train.Options
	// AfterEval, if set, runs after each evaluation (SFT: print answers to
	// held-out questions, see Samples).
	AfterEval func(w io.Writer, step int)
	// EvalMetrics, if set, measures the model after each evaluation; the
	// trainer logs what it returns (train.Hooks.EvalMetrics).
	EvalMetrics func(step int) (map[string]float64, error)
}

func (r *Run) options(b *modeldir.Bundle, epochs int) train.Options {
	o := r.Options
	if o.Objective == nil {
		o.Objective = mdlm.NewObjective(mdlm.ObjectiveOptions{MaskID: b.MaskID})
	}
	if o.Steps == 0 && o.Epochs == 0 {
		o.Epochs = epochs
	}
	return o
}

// SFTTrainer prepares diffusion SFT of b on convs: the rows and split of
// SFT, b's generation defaults sized to the training answers, and a trainer
// that saves b (model, tokenizer, template, defaults) into the run's OutDir.
func SFTTrainer(b *modeldir.Bundle, convs []data.Conversation, r Run) (*train.Trainer, *SFTData, error) {
	d, err := SFT(b, convs, r.Split)
	if err != nil {
		return nil, nil, err
	}
	b.Generation = d.Generation
	t, err := train.New(b.Model, d.Epochs(r.BatchSize, r.Split.Seed), d.HeldBatches(r.BatchSize, r.Split.Seed, r.EvalBatches),
		r.options(b, SFTEpochs), train.Hooks{SaveModel: b.Save, AfterEval: r.AfterEval, EvalMetrics: r.EvalMetrics})
	return t, d, err
}

// PretrainTrainer prepares diffusion pretraining of b on docs (Pretrain)
// with a trainer that saves b into the run's OutDir.
func PretrainTrainer(b *modeldir.Bundle, docs []string, r Run) (*train.Trainer, *PretrainData, error) {
	d, err := Pretrain(b, docs, r.Split)
	if err != nil {
		return nil, nil, err
	}
	t, err := train.New(b.Model, d.Epochs(r.BatchSize, r.Split.Seed), d.HeldBatches(r.BatchSize, r.Split.Seed, r.EvalBatches),
		r.options(b, PretrainEpochs), train.Hooks{SaveModel: b.Save, AfterEval: r.AfterEval, EvalMetrics: r.EvalMetrics})
	return t, d, err
}
