package bert

import (
	"fmt"

	"github.com/dllmgo/dllm/lm"
	"github.com/dllmgo/dllm/nn"
	"github.com/dllmgo/dllm/transformer"
)

// OutputHead returns the decoder: the tied embedding [V, H] and its bias.
// Edit Flows heads start as copies of it.
func (m *Model) OutputHead() (weight, bias *nn.Param) { return m.Embed.Weight, m.DecoderBias }

// EditFeatures returns what the reference's Edit Flows ModernBERT feeds its
// heads: the masked-LM head's transform (dense, GELU, norm) of the last
// layer's output, before the final norm (Hugging Face's hidden_states[-1]
// is taken before final_norm), at every position [B·S, H].
func (m *Model) EditFeatures(tp *nn.Tape, in lm.Input) *nn.Var {
	if in.IDs.Rank() != 2 {
		panic(fmt.Sprintf("bert: EditFeatures with ids %v, want [B, S]", in.IDs.Shape()))
	}
	bsz, seq := in.IDs.Dim(0), in.IDs.Dim(1)
	pos := in.Positions
	if pos == nil {
		pos = m.positionIDs(bsz, seq)
	}
	full := transformer.FullAttention(in.KeyMask, bsz, seq)
	x := m.lastLayer(tp, in.IDs.Reshape(bsz*seq), pos, func(int) transformer.Attention { return full })
	return m.HeadNorm.Forward(tp, tp.GELU(m.HeadDense.Forward(tp, x)))
}
