package lm

import (
	"math/rand/v2"

	"github.com/dllmgo/dllm/nn"
	"github.com/dllmgo/dllm/tensor"
)

// NoToken marks a special token a model does not have.
const NoToken int32 = -1

// Input is one batch for a model's forward pass. Every tensor lives on the
// model's backend.
type Input struct {
	// IDs [B, S] (I32).
	IDs *tensor.Tensor
	// KeyMask [B, S] (I32, 1 = real token, 0 = padding); nil attends to all.
	KeyMask *tensor.Tensor
	// Positions [B·S] (I32) are the rotary positions of each token; nil
	// means 0..S−1 in every row. Left-padded prompts give their first real
	// token position 0.
	Positions *tensor.Tensor
	// Rows [M] (I32) selects the flat positions b·S+s whose logits are
	// wanted; nil computes logits everywhere. The diffusion losses only need
	// the masked positions, which saves most of the vocabulary projection.
	Rows *tensor.Tensor
	// NoLogits skips the head entirely (encoder outputs only).
	NoLogits bool
	// Mask, when set, is the attention pattern of this pass, replacing
	// KeyMask and the family's own rule; only models that implement
	// MaskAttender honour it.
	Mask *AttentionMask
}

// Output holds a forward pass's results.
type Output struct {
	Hidden *nn.Var // [B·S, H], after the final norm (last_hidden_state)
	Logits *nn.Var // [M, V] for the selected rows, or [B·S, V]
}

// Spec is what the family-agnostic parts of dllm need to know about a model.
type Spec struct {
	// Family is the registry name of the model's family ("modernbert").
	Family string
	// ModelType is config.json's model_type.
	ModelType string
	// ShiftLogits says that the logits at position i predict the token at
	// position i+1, as an autoregressive model's do (Dream; not the A2D
	// models, whose trainers drop the shift). The objectives and samplers
	// then read the logits of position i−1 for the token at i.
	ShiftLogits bool
	// MaxPositions is the longest sequence the model supports (0: no limit).
	MaxPositions int
	// Special token ids the config names; NoToken where it names none. The
	// model folder's tokenizer files take precedence (modeldir).
	MaskID, PadID, BOSID, EOSID int32
}

// Model is one language model of any family.
type Model interface {
	// Logits and VocabSize make a Model an mdlm.Denoiser: inference at the
	// requested rows, in the model's own precision (see mdlm.Denoiser).
	Logits(ids []int32, batch, seqLen int, keyMask, rows []int32) ([]float32, error)
	VocabSize() int

	// Forward runs the model on a tape: with a recording tape it keeps what
	// the backward pass needs; with nn.NoGrad it is plain inference. The
	// tape's Precision decides the arithmetic of the projections.
	Forward(tp *nn.Tape, in Input) Output
	// Params lists every trainable parameter, named as in the family's
	// checkpoints, in a fixed order (optimizer state is saved in it).
	Params() []*nn.Param
	// Backend is the device the weights live on.
	Backend() tensor.Backend
	// Init draws fresh weights as the family's reference initialises them.
	Init(rng *rand.Rand)
	// Save writes config.json and the weights into dir, atomically per file.
	Save(dir string) error
	// Spec describes the model to the family-agnostic code.
	Spec() Spec
}
