package transformer

import (
	"github.com/dllmgo/dllm/lm"
	"github.com/dllmgo/dllm/nn"
	"github.com/dllmgo/dllm/tensor"
)

// PatternAttention is the attention hook, per layer, for an lm.AttentionMask
// over batch sequences of seq tokens: block diffusion's pattern as structure
// (BlockAttention, with keyMask as the key padding) when mask.Blocks is
// set, else the dense pattern through the composed attention (Masked;
// keyMask is then unused: the pattern says everything).
func PatternAttention(be tensor.Backend, mask *lm.AttentionMask, keyMask *tensor.Tensor, batch, seq int) func(Layer) Attention {
	if mask.Blocks.Size > 0 {
		att := BlockAttention(keyMask, batch, seq, mask.Blocks)
		return func(Layer) Attention { return att }
	}
	return NewMasked(be, mask.Allow, mask.Rows, batch, seq, mask.Pos).For
}

// InputAttention is the attention hook, per layer, that a family's Forward
// runs for an lm.Input over batch sequences of seq tokens: FullAttention
// over the keys keyMask lets through, or, when the input carries its own
// pattern (lm.MaskAttender: block diffusion), PatternAttention after the
// pattern's shape is checked.
func InputAttention(be tensor.Backend, keyMask *tensor.Tensor, mask *lm.AttentionMask, batch, seq int) (func(Layer) Attention, error) {
	if mask == nil {
		full := FullAttention(keyMask, batch, seq)
		return func(Layer) Attention { return full }, nil
	}
	if err := mask.Check(batch, seq); err != nil {
		return nil, err
	}
	return PatternAttention(be, mask, keyMask, batch, seq), nil
}

// BlockAttention is FullAttention under block diffusion's pattern given as
// structure: the fused attention kernels (tensor.AttentionParams.Blocks)
// test it pair by pair and skip every tile no query of which may see a key
// of, so nothing of size S² is built. Windows are measured in positions
// (both halves of the training layout repeat 0..L−1).
func BlockAttention(keyMask *tensor.Tensor, batch, seq int, blocks tensor.BlockPattern) Attention {
	full := FullAttention(keyMask, batch, seq)
	return func(tp *nn.Tape, qkv *nn.Var, p tensor.AttentionParams) *nn.Var {
		p.Blocks = blocks
		return full(tp, qkv, p)
	}
}

// Masked is the attention hook for an arbitrary pattern of which query may
// see which key (block diffusion's training mask, a block-causal sampling
// mask): the pattern, made into an additive bias (0 or nn.MaskedScore) per
// attention window among the layers, and nn.MaskedAttention under it.
//
// The pattern is dense and so is the attention: scores = Q·Kᵀ (a batched
// MatMul), plus the bias, Softmax, times V, all backend ops, which is why it
// runs on the CPU and the GPU alike without a kernel of its own. It costs the
// [B·nh, S, S] probabilities per layer, kept for the backward pass. Block
// diffusion's own patterns go through the fused kernels instead
// (BlockAttention); this is their reference in the tests.
type Masked struct {
	be        tensor.Backend
	allow     []bool
	rows, seq int
	batch     int
	pos       []int32
	biases    map[int]*tensor.Tensor
}

// NewMasked makes the hook for batch sequences of seq tokens under allow
// [rows·seq·seq] (query q of row r may see key k at (r·seq+q)·seq+k; rows is
// 1 or batch). pos [rows·seq], when not nil, are the logical positions in
// which a sliding window measures distance; nil measures it in indices.
func NewMasked(be tensor.Backend, allow []bool, rows, batch, seq int, pos []int32) *Masked {
	return &Masked{be: be, allow: allow, rows: rows, batch: batch, seq: seq, pos: pos, biases: map[int]*tensor.Tensor{}}
}

// For is the attention of a layer: the pattern within the layer's window.
func (m *Masked) For(l Layer) Attention {
	bias := m.bias(l.Window)
	return func(tp *nn.Tape, qkv *nn.Var, p tensor.AttentionParams) *nn.Var {
		return tp.MaskedAttention(qkv, bias, m.batch, m.seq, p)
	}
}

// Release frees the biases' device memory.
func (m *Masked) Release() {
	for _, b := range m.biases {
		b.Free()
	}
	m.biases = map[int]*tensor.Tensor{}
}

// bias is the additive mask of the pattern within window (0: none), built
// once per window.
func (m *Masked) bias(window int) *tensor.Tensor {
	if b, ok := m.biases[window]; ok {
		return b
	}
	b := m.be.FromHost(tensor.FromF32(MaskBias(m.allow, m.rows, m.seq, m.pos, window), m.rows, m.seq, m.seq))
	m.biases[window] = b
	return b
}

// MaskBias is the additive bias [rows·seq·seq] of a pattern within a window:
// 0 where allow lets query q see key k and k lies in q's window (measured in
// pos when it is not nil, else in indices), nn.MaskedScore elsewhere.
func MaskBias(allow []bool, rows, seq int, pos []int32, window int) []float32 {
	p := tensor.AttentionParams{Window: window}
	bias := make([]float32, rows*seq*seq)
	for r := range rows {
		at := func(i int) int {
			if pos == nil {
				return i
			}
			return int(pos[r*seq+i])
		}
		for q := range seq {
			for k := range seq {
				i := (r*seq+q)*seq + k
				if !allow[i] || !p.Visible(at(q), at(k)) {
					bias[i] = nn.MaskedScore
				}
			}
		}
	}
	return bias
}
