package mdlm

import (
	"fmt"
	"slices"
)

// call records one request a fake model received.
type call struct {
	ids           []int32
	batch, seqLen int
	keyMask       []int32 // nil: no padding
	rows          []int32
}

// fakeModel computes each requested row's logits with fn, which sees the
// whole sequence the row belongs to and the position inside it. It records
// every call so that tests can check what a sampler asked for.
type fakeModel struct {
	vocab int
	fn    func(seq []int32, pos int) []float32
	calls []call
	// quiet turns the recording off, for tests that call the model very often.
	quiet bool
}

func (m *fakeModel) VocabSize() int { return m.vocab }

func (m *fakeModel) Logits(ids []int32, batch, seqLen int, keyMask, rows []int32) ([]float32, error) {
	if len(ids) != batch*seqLen {
		return nil, fmt.Errorf("fake: %d ids for %d×%d", len(ids), batch, seqLen)
	}
	if keyMask != nil && len(keyMask) != batch*seqLen {
		return nil, fmt.Errorf("fake: key mask of %d for %d×%d", len(keyMask), batch, seqLen)
	}
	if !m.quiet {
		m.calls = append(m.calls, call{slices.Clone(ids), batch, seqLen, slices.Clone(keyMask), slices.Clone(rows)})
	}
	out := make([]float32, 0, len(rows)*m.vocab)
	for _, r := range rows {
		if r < 0 || int(r) >= len(ids) {
			return nil, fmt.Errorf("fake: row %d outside %d×%d", r, batch, seqLen)
		}
		b, s := int(r)/seqLen, int(r)%seqLen
		row := m.fn(ids[b*seqLen:(b+1)*seqLen], s)
		if len(row) != m.vocab {
			return nil, fmt.Errorf("fake: fn returned %d logits", len(row))
		}
		out = append(out, row...)
	}
	return out, nil
}

// oneHotLogits returns logits that put margin above 0 on token tok.
func oneHotLogits(vocab, tok int, margin float32) []float32 {
	l := make([]float32, vocab)
	l[tok] = margin
	return l
}
