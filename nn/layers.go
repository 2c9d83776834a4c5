package nn

import (
	"math/rand/v2"

	"github.com/dllmgo/dllm/tensor"
)

// Param is a trainable tensor with the name it has in a checkpoint (Hugging
// Face names, so checkpoints interoperate). Its Value is the float32 master
// copy that the optimizer updates, or, for a model loaded for inference
// with its weights kept in BF16 (NewParamOf), the BF16 weights themselves:
// the ops that read weights (Linear, Embedding) take them as they are.
type Param struct {
	Name string
	*Var
	// NoDecay excludes the parameter from weight decay (norms, biases,
	// embeddings by convention of the caller).
	NoDecay bool
}

// NewParam allocates a zero parameter on b.
func NewParam(b tensor.Backend, name string, shape ...int) *Param {
	return NewParamOf(b, tensor.F32, name, shape...)
}

// NewParamOf allocates a zero parameter of dtype dt (F32, or BF16 for a
// weight kept in BF16 for inference) on b.
func NewParamOf(b tensor.Backend, dt tensor.DType, name string, shape ...int) *Param {
	return &Param{Name: name, Var: Leaf(NewWeight(b, dt, shape...))}
}

// NewWeight allocates the zero storage of a weight of dtype dt on b. A BF16
// weight on the CPU (kept so for inference) lives outside the Go heap
// (tensor.NewOffHeap), so that gigabytes of weights do not raise the
// garbage collector's target by as much.
func NewWeight(b tensor.Backend, dt tensor.DType, shape ...int) *tensor.Tensor {
	if dt == tensor.BF16 && b == tensor.CPU() {
		return tensor.NewOffHeap(dt, shape...)
	}
	return b.New(dt, shape...)
}

// ZeroGrads clears the gradients of params.
func ZeroGrads(params []*Param) {
	for _, p := range params {
		p.ZeroGrad()
	}
}

// Linear is y = x·Wᵀ (+ b), W [out, in].
type Linear struct {
	W, B *Param // B is nil without bias
}

// NewLinear makes a zero Linear layer named prefix+".weight" (and ".bias").
func NewLinear(b tensor.Backend, prefix string, in, out int, bias bool) *Linear {
	return NewLinearOf(b, tensor.F32, prefix, in, out, bias)
}

// NewLinearOf is NewLinear with a weight of dtype dt (the bias stays F32).
func NewLinearOf(b tensor.Backend, dt tensor.DType, prefix string, in, out int, bias bool) *Linear {
	l := &Linear{W: NewParamOf(b, dt, prefix+".weight", out, in)}
	if bias {
		l.B = NewParam(b, prefix+".bias", out)
		l.B.NoDecay = true
	}
	return l
}

// Forward maps x [N, in] to [N, out].
func (l *Linear) Forward(tp *Tape, x *Var) *Var {
	if l.B != nil {
		return tp.LinearBias(x, l.W.Var, l.B.Var)
	}
	return tp.Linear(x, l.W.Var)
}

// Params lists the layer's parameters.
func (l *Linear) Params() []*Param {
	if l.B == nil {
		return []*Param{l.W}
	}
	return []*Param{l.W, l.B}
}

// LayerNorm normalises the last axis; ModernBERT uses it without bias.
type LayerNorm struct {
	Weight, Bias *Param // Bias is nil without bias
	Eps          float32
}

// NewLayerNorm makes a LayerNorm with weight 1 (and bias 0).
func NewLayerNorm(b tensor.Backend, prefix string, dim int, eps float32, bias bool) *LayerNorm {
	ln := &LayerNorm{Weight: NewParam(b, prefix+".weight", dim), Eps: eps}
	ln.Weight.NoDecay = true
	b.Fill(ln.Weight.Value, 1)
	if bias {
		ln.Bias = NewParam(b, prefix+".bias", dim)
		ln.Bias.NoDecay = true
	}
	return ln
}

// Forward normalises the rows of x [N, D].
func (ln *LayerNorm) Forward(tp *Tape, x *Var) *Var {
	var beta *Var
	if ln.Bias != nil {
		beta = ln.Bias.Var
	}
	return tp.LayerNorm(x, ln.Weight.Var, beta, ln.Eps)
}

// Params lists the layer's parameters.
func (ln *LayerNorm) Params() []*Param {
	if ln.Bias == nil {
		return []*Param{ln.Weight}
	}
	return []*Param{ln.Weight, ln.Bias}
}

// RMSNorm normalises the last axis by its root mean square and scales it by
// Weight + WeightOffset: the norm of Llama, Qwen, LLaDA and Dream
// (WeightOffset 0) and of Gemma (WeightOffset 1, the checkpoint stores w of
// the scale 1 + w). Applied to x [N, H, d] with a weight of size d it is the
// per-head q/k norm of Qwen3.
type RMSNorm struct {
	Weight       *Param
	Eps          float32
	WeightOffset float32
}

// NewRMSNorm makes an RMSNorm whose weight is named prefix+".weight", as in
// the checkpoints, excluded from weight decay as norm weights are, and set so
// that the scale starts at 1: ones for the plain convention, 1 − offset in
// general (zeros for Gemma's).
func NewRMSNorm(b tensor.Backend, prefix string, dim int, eps, weightOffset float32) *RMSNorm {
	n := &RMSNorm{Weight: NewParam(b, prefix+".weight", dim), Eps: eps, WeightOffset: weightOffset}
	n.Weight.NoDecay = true
	b.Fill(n.Weight.Value, 1-weightOffset)
	return n
}

// Forward normalises x [..., D] over its last axis.
func (n *RMSNorm) Forward(tp *Tape, x *Var) *Var {
	return tp.RMSNorm(x, n.Weight.Var, tensor.RMSNormParams{Eps: n.Eps, WeightOffset: n.WeightOffset})
}

// Params lists the layer's parameters.
func (n *RMSNorm) Params() []*Param { return []*Param{n.Weight} }

// Embedding maps ids to rows of a [V, D] table.
type Embedding struct {
	Weight *Param
	PadIdx int // row that gets no gradient; -1 for none
}

// NewEmbedding makes a zero [vocab, dim] embedding.
func NewEmbedding(b tensor.Backend, name string, vocab, dim, padIdx int) *Embedding {
	return NewEmbeddingOf(b, tensor.F32, name, vocab, dim, padIdx)
}

// NewEmbeddingOf is NewEmbedding with a table of dtype dt.
func NewEmbeddingOf(b tensor.Backend, dt tensor.DType, name string, vocab, dim, padIdx int) *Embedding {
	return &Embedding{Weight: NewParamOf(b, dt, name, vocab, dim), PadIdx: padIdx}
}

// Forward looks up ids [N] (I32) and returns [N, D].
func (e *Embedding) Forward(tp *Tape, ids *tensor.Tensor) *Var {
	return tp.Embedding(e.Weight.Var, ids, e.PadIdx)
}

// Dropout zeroes activations with probability P while training, scaling the
// survivors by 1/(1−P) so the expectation is unchanged. Its random stream is
// seeded, so a training run is reproducible.
type Dropout struct {
	P   float64
	Rng *rand.Rand
}

// Forward applies dropout when the tape records (training); inference and
// P = 0 return x unchanged.
func (d *Dropout) Forward(tp *Tape, x *Var) *Var {
	if d == nil || d.P <= 0 || !tp.Recording() {
		return x
	}
	n := x.Value.Numel()
	mask := make([]float32, n)
	keep := float32(1 / (1 - d.P))
	for i := range mask {
		if d.Rng.Float64() >= d.P {
			mask[i] = keep
		}
	}
	return tp.Mul(x, Constant(tp.B.FromHost(tensor.FromF32(mask, x.Shape()...))))
}
