package bert

import (
	"fmt"

	"github.com/dllmgo/dllm/mdlm"
	"github.com/dllmgo/dllm/nn"
	"github.com/dllmgo/dllm/tensor"
)

// Logits runs inference on ids (batch×seqLen, row-major) and returns the
// logits at the flat positions rows, row-major float32. With VocabSize it
// makes the model an mdlm.Denoiser: the samplers only ever ask for the
// masked positions of the active block, so only those rows pay for the
// vocabulary projection. keyMask (batch×seqLen, 1 = real token, 0 =
// padding) becomes the attention's key mask; nil attends to every position.
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
	in := Input{
		IDs:  m.b.FromHost(tensor.FromI32(ids, batch, seqLen)),
		Rows: m.b.FromHost(tensor.FromI32(rows, len(rows))),
	}
	if keyMask != nil {
		in.KeyMask = m.b.FromHost(tensor.FromI32(keyMask, batch, seqLen))
	}
	tp := nn.NoGrad(m.b)
	tp.Precision = m.Precision
	tp.TrackScratch() // each layer's activations go back to the pool (lastLayer)
	out := m.Forward(tp, in)
	return m.hostLogits(tp, out.Logits), nil
}

// hostLogits returns the values of logits, the last output of the scratch
// tape tp (TrackScratch), on the host, and frees every other activation tp
// made (the final norm, the head's): their buffers serve the next call
// instead of fresh memory. On the CPU the logits' own buffer is returned,
// the caller's from then on; elsewhere it is copied and freed.
func (m *Model) hostLogits(tp *nn.Tape, logits *nn.Var) []float32 {
	tp.FreeScratch(logits)
	host := logits.Value.ToCPU()
	if host != logits.Value {
		logits.Value.Free()
	}
	m.lentMu.Lock()
	m.lent = host
	m.lentMu.Unlock()
	return host.F32()
}

// RecycleLogits takes back the slice the last Logits, BeginBlock or cached
// step returned, once the caller has read it: its buffer goes back to the
// CPU pool for the next step's logits (mdlm.LogitsRecycler). Only that last
// slice is taken; any other is left to the collector.
func (m *Model) RecycleLogits(s []float32) {
	m.lentMu.Lock()
	defer m.lentMu.Unlock()
	if m.lent == nil || len(s) == 0 || len(m.lent.F32()) != len(s) || &m.lent.F32()[0] != &s[0] {
		return
	}
	m.lent.Free()
	m.lent = nil
}

var _ mdlm.LogitsRecycler = (*Model)(nil)

// checkBatch validates the arguments of Logits (and BeginBlock).
func (m *Model) checkBatch(ids []int32, batch, seqLen int, keyMask, rows []int32) error {
	if len(ids) != batch*seqLen {
		return fmt.Errorf("bert: %d ids for a %d×%d batch", len(ids), batch, seqLen)
	}
	if keyMask != nil && len(keyMask) != len(ids) {
		return fmt.Errorf("bert: key mask of %d flags for a %d×%d batch", len(keyMask), batch, seqLen)
	}
	if seqLen > m.Config.MaxPositions && m.Config.MaxPositions > 0 {
		return fmt.Errorf("bert: sequence of %d tokens exceeds the model's maximum of %d", seqLen, m.Config.MaxPositions)
	}
	for _, r := range rows {
		if r < 0 || int(r) >= len(ids) {
			return fmt.Errorf("bert: row %d outside the %d×%d batch", r, batch, seqLen)
		}
	}
	for _, id := range ids {
		if id < 0 || int(id) >= m.Config.VocabSize {
			return fmt.Errorf("bert: token id %d outside the vocabulary of %d", id, m.Config.VocabSize)
		}
	}
	return nil
}

// VocabSize is the number of logits per position.
func (m *Model) VocabSize() int { return m.Config.VocabSize }
