package llada

import (
	"fmt"

	"github.com/dllmgo/dllm/graphs"
	"github.com/dllmgo/dllm/lm"
	"github.com/dllmgo/dllm/nn"
	"github.com/dllmgo/dllm/tensor"
)

// Logits runs inference on ids (batch×seqLen, row-major) and returns the
// logits at the flat positions rows, row-major float32: with VocabSize it
// makes the model an mdlm.Denoiser. keyMask (1 = real token, 0 = padding)
// hides the padded keys; nil attends everywhere. On a backend that records
// graphs the forward pass is recorded once per shape and replayed.
func (m *Model) Logits(ids []int32, batch, seqLen int, keyMask, rows []int32) ([]float32, error) {
	if err := m.checkBatch(ids, batch, seqLen, keyMask, rows); err != nil {
		return nil, err
	}
	if len(rows) == 0 {
		return nil, nil
	}
	if m.useGraphs() {
		return m.graphLogits(ids, batch, seqLen, keyMask, rows)
	}
	in := lm.Input{
		IDs:  m.b.FromHost(tensor.FromI32(ids, batch, seqLen)),
		Rows: m.b.FromHost(tensor.FromI32(rows, len(rows))),
	}
	if keyMask != nil {
		in.KeyMask = m.b.FromHost(tensor.FromI32(keyMask, batch, seqLen))
	}
	tp := m.inferenceTape()
	tp.TrackScratch() // each block's activations go back to the pool (encode)
	return m.Forward(tp, in).Logits.Value.ToCPU().F32(), nil
}

// checkBatch validates the arguments of Logits and BeginBlock. LLaDA has
// no learned positions, so sequences longer than max_sequence_length run.
func (m *Model) checkBatch(ids []int32, batch, seqLen int, keyMask, rows []int32) error {
	if len(ids) != batch*seqLen {
		return fmt.Errorf("llada: %d ids for a %d×%d batch", len(ids), batch, seqLen)
	}
	if keyMask != nil && len(keyMask) != len(ids) {
		return fmt.Errorf("llada: key mask of %d flags for a %d×%d batch", len(keyMask), batch, seqLen)
	}
	for _, r := range rows {
		if r < 0 || int(r) >= len(ids) {
			return fmt.Errorf("llada: row %d outside the %d×%d batch", r, batch, seqLen)
		}
	}
	for _, id := range ids {
		if id < 0 || int(id) >= m.VocabSize() {
			return fmt.Errorf("llada: token id %d outside the embeddings of %d", id, m.VocabSize())
		}
	}
	return nil
}

// maxGraphs bounds the recorded graphs a model keeps for Logits.
const maxGraphs = 16

// graphKey is the shape of one recorded Logits pass.
type graphKey struct {
	batch, seq, rows int
	masked           bool
	prec             nn.Precision
}

// useGraphs reports whether Logits and the cached steps record graphs.
func (m *Model) useGraphs() bool { return !m.NoGraphs && m.graphs.CanRecord() }

// LogitsGraphs reports how many forward passes Logits has recorded.
func (m *Model) LogitsGraphs() int { return m.graphs.Graphs() }

// ReleaseGraphs destroys the recorded graphs and their memory.
func (m *Model) ReleaseGraphs() { m.graphs.Release() }

// graphLogits is Logits through a recorded graph; rows are padded to a
// multiple of graphs.RowQuantum so that one graph serves a whole block.
func (m *Model) graphLogits(ids []int32, batch, seqLen int, keyMask, rows []int32) ([]float32, error) {
	padded := graphs.PadRows(rows, graphs.RowQuantum)
	key := graphKey{batch: batch, seq: seqLen, rows: len(padded), masked: keyMask != nil, prec: m.Precision}
	in := []*tensor.Tensor{tensor.FromI32(ids, batch, seqLen), nil, tensor.FromI32(padded, len(padded))}
	if keyMask != nil {
		in[1] = tensor.FromI32(keyMask, batch, seqLen)
	}
	out := m.graphs.Run(key, in, func(in []*tensor.Tensor) *tensor.Tensor {
		return m.Forward(m.inferenceTape(), lm.Input{IDs: in[0], KeyMask: in[1], Rows: in[2]}).Logits.Value
	})
	return out.F32()[:len(rows)*m.VocabSize()], nil
}
