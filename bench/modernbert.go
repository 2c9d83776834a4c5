package bench

import (
	"fmt"
	"math/rand/v2"

	"github.com/dllmgo/dllm/bert"
	"github.com/dllmgo/dllm/data"
	"github.com/dllmgo/dllm/nn"
	"github.com/dllmgo/dllm/optim"
	"github.com/dllmgo/dllm/tensor"
)

// Shape of the CPU reference workload (PERF.md, CPU section).
const (
	ReferenceVocab = 4096
	ReferenceBatch = 8
	ReferenceSeq   = 256
)

// ReferenceConfig is the CPU reference model: the "small" preset (width 256,
// 6 layers of which 0 and 3 are global, 4 heads, GeGLU 384, window 128) with a
// vocabulary of 4096.
func ReferenceConfig() bert.Config {
	cfg, err := bert.Preset("small")
	if err != nil {
		panic(err) // the preset is compiled in; failing here is a bug
	}
	cfg.VocabSize = ReferenceVocab
	cfg.InitializerRange = 0.02 // Hugging Face's initialisation, as modernbert_torch.py (the preset's is larger)
	// The released models' special ids lie outside a 4096 vocabulary; only the
	// padding id matters to the arithmetic (its embedding row gets no
	// gradient), so put it where a small tokenizer would.
	cfg.PadTokenID, cfg.BOSTokenID, cfg.EOSTokenID = 3, 1, 2
	cfg.CLSTokenID, cfg.SEPTokenID, cfg.MaskTokenID = 1, 2, 4
	return cfg
}

// Workload is one model with one fixed batch of random tokens, ready to time
// a forward pass or a training step over it.
type Workload struct {
	Model      *bert.Model
	Batch, Seq int
	// Precision is the arithmetic of the projections (nn.PrecisionBF16:
	// bf16 autocast, and bf16 attention on a backend that has it).
	Precision nn.Precision
	// Reduce, when set, runs between the backward pass and the update:
	// the gradient averaging of a data-parallel rank (package dist).
	Reduce func(params []*nn.Param)

	ids     *tensor.Tensor // [Batch, Seq] I32 inputs
	targets *tensor.Tensor // [Batch·Seq] I32, a second random draw
	weights *tensor.Tensor // [Batch·Seq] F32, all 1/(Batch·Seq): the mean
	params  []*nn.Param
	opt     *optim.AdamW
}

// NewWorkload builds cfg on backend b with Hugging Face's initialisation and
// draws batch × seq input and target ids uniformly from the vocabulary, all
// from seed.
func NewWorkload(cfg bert.Config, b tensor.Backend, batch, seq int, seed uint64) (*Workload, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if batch <= 0 || seq <= 0 || seq > cfg.MaxPositions {
		return nil, fmt.Errorf("bench: batch %d × seq %d does not fit a model of %d positions", batch, seq, cfg.MaxPositions)
	}
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	m := bert.New(cfg, b)
	m.Init(rng)

	n := batch * seq
	ids, targets, weights := make([]int32, n), make([]int32, n), make([]float32, n)
	for i := range ids {
		ids[i] = int32(rng.IntN(cfg.VocabSize))
		targets[i] = int32(rng.IntN(cfg.VocabSize))
		weights[i] = 1 / float32(n)
	}
	w := &Workload{
		Model: m, Batch: batch, Seq: seq,
		ids:     b.FromHost(tensor.FromI32(ids, batch, seq)),
		targets: b.FromHost(tensor.FromI32(targets, n)),
		weights: b.FromHost(tensor.FromF32(weights, n)),
		params:  m.Params(),
	}
	// PyTorch's AdamW defaults apart from the weight decay, which is the
	// usual 0.01 for BERT-style pretraining.
	w.opt = optim.NewAdamW(w.params, 0.9, 0.999, 1e-8, 0.01)
	return w, nil
}

// Tokens is the number of positions in one batch.
func (w *Workload) Tokens() int { return w.Batch * w.Seq }

// Forward runs inference (no tape) and returns the logits [Batch·Seq, Vocab].
func (w *Workload) Forward() *tensor.Tensor {
	tp := nn.NoGrad(w.Model.Backend())
	tp.Precision = w.Precision
	out := w.Model.Forward(tp, bert.Input{IDs: w.ids})
	return out.Logits.Value
}

// TrainStep runs one training step: the forward pass on a recording tape,
// the mean cross-entropy over all positions, the backward pass, an AdamW
// update at learning rate lr, and zeroing the gradients. It returns the loss
// before the update.
func (w *Workload) TrainStep(lr float64) float32 {
	b := w.Model.Backend()
	tp := nn.NewTape(b)
	tp.Precision = w.Precision
	tp.FreeActivations = true // only the loss is read after Backward
	out := w.Model.Forward(tp, bert.Input{IDs: w.ids})
	loss := tp.CrossEntropy(out.Logits, w.targets, w.weights, data.IgnoreIndex)
	tp.Backward(loss)
	if w.Reduce != nil {
		w.Reduce(w.params)
	}
	w.opt.Step(lr)
	nn.ZeroGrads(w.params)
	return loss.Value.ToCPU().F32()[0]
}
