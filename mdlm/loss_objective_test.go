package mdlm

import (
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dllmgo/dllm/data"
	"github.com/dllmgo/dllm/lm"
	"github.com/dllmgo/dllm/nn"
	"github.com/dllmgo/dllm/tensor"
)

// positionalModel is an lm.Model whose logits at position s are row s of a
// table, whatever the ids: the loss then shows which position's logits
// predicted each token.
type positionalModel struct {
	table   *nn.Param // [S, V]
	shifted bool
	bos     int32
	be      tensor.Backend
}

func newPositionalModel(seqLen, vocab int, shifted bool, rng *rand.Rand) *positionalModel {
	be := tensor.CPU()
	v := make([]float32, seqLen*vocab)
	for i := range v {
		v[i] = float32(rng.NormFloat64())
	}
	p := nn.NewParam(be, "table", seqLen, vocab)
	be.Copy(p.Value, be.FromHost(tensor.FromF32(v, seqLen, vocab)))
	return &positionalModel{table: p, shifted: shifted, bos: lm.NoToken, be: be}
}

func (m *positionalModel) seqLen() int    { return m.table.Value.Dim(0) }
func (m *positionalModel) VocabSize() int { return m.table.Value.Dim(1) }
func (m *positionalModel) Logits([]int32, int, int, []int32, []int32) ([]float32, error) {
	panic("not used")
}
func (m *positionalModel) Forward(tp *nn.Tape, in lm.Input) lm.Output {
	rows := in.Rows.ToCPU().I32()
	pos := make([]int32, len(rows))
	for i, r := range rows {
		pos[i] = r % int32(in.IDs.Dim(1))
	}
	return lm.Output{Logits: tp.Embedding(m.table.Var, m.be.FromHost(tensor.FromI32(pos, len(pos))), -1)}
}
func (m *positionalModel) Params() []*nn.Param     { return []*nn.Param{m.table} }
func (m *positionalModel) Backend() tensor.Backend { return m.be }
func (m *positionalModel) Init(*rand.Rand)         {}
func (m *positionalModel) Save(string) error       { return nil }
func (m *positionalModel) Spec() lm.Spec {
	return lm.Spec{Family: "fake", ShiftLogits: m.shifted, MaskID: 0, PadID: lm.NoToken, BOSID: m.bos, EOSID: lm.NoToken}
}

func TestObjectiveShiftedLogits(t *testing.T) {
	const seqLen, vocab = 6, 5
	// Everything is masked at t = 1; row 1's first two positions are prompt.
	b := data.Batch{B: 2, S: seqLen,
		InputIDs:   []int32{1, 2, 3, 4, 1, 2, 3, 3, 2, 1, 4, 4},
		PromptLens: []int{0, 2}}
	opts := ObjectiveOptions{MaskID: 0, Weighting: WeightUniform, FixedTimes: []float64{1, 1}}
	for _, c := range []struct {
		name    string
		shifted bool
		// source[s] is the position whose logits predict position s.
		source []int
		// noGrad is a table row that no masked token reads.
		noGrad int
	}{
		{"unshifted", false, []int{0, 1, 2, 3, 4, 5}, -1},
		{"shifted", true, []int{0, 0, 1, 2, 3, 4}, seqLen - 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			m := newPositionalModel(seqLen, vocab, c.shifted, rand.New(rand.NewPCG(1, 2)))
			table := m.table.Value.ToCPU().F32()
			var want float64
			n := 0
			for r := range b.B {
				for s := b.PromptLen(r); s < seqLen; s++ {
					src := c.source[s]
					want += CrossEntropy(table[src*vocab:(src+1)*vocab], b.Label(r, s))
					n++
				}
			}
			want /= float64(n)

			tp := nn.NewTape(m.be)
			loss, err := NewObjective(opts).Loss(tp, m, b, rand.New(rand.NewPCG(3, 4)), 1)
			require.NoError(t, err)
			require.InDelta(t, want, float64(loss.Value.ToCPU().F32()[0]), 1e-5)

			tp.Backward(loss)
			grad := m.table.Grad.ToCPU().F32()
			for s := range seqLen {
				sum := 0.0
				for _, g := range grad[s*vocab : (s+1)*vocab] {
					sum += float64(g * g)
				}
				if s == c.noGrad {
					require.Zero(t, sum, "row %d predicts nothing", s)
				} else {
					require.NotZero(t, sum, "row %d", s)
				}
			}
		})
	}
}

// A shifted model with a BOS token, on a batch that supervises position 0
// (pretraining): a BOS column goes in front, so position s is predicted by
// the logits of column s (the BOS for s = 0) and the last column predicts
// nothing.
func TestObjectiveShiftedPrependsBOS(t *testing.T) {
	const seqLen, vocab = 4, 5
	b := data.Batch{B: 1, S: seqLen, InputIDs: []int32{1, 2, 3, 4}}
	m := newPositionalModel(seqLen+1, vocab, true, rand.New(rand.NewPCG(1, 2)))
	m.bos = 3
	table := m.table.Value.ToCPU().F32()
	want := 0.0
	for s := range seqLen {
		want += CrossEntropy(table[s*vocab:(s+1)*vocab], b.InputIDs[s]) / seqLen
	}
	tp := nn.NewTape(m.be)
	loss, err := NewObjective(ObjectiveOptions{MaskID: 0, Weighting: WeightUniform, FixedTimes: []float64{1}}).Loss(tp, m, b, rand.New(rand.NewPCG(3, 4)), 1)
	require.NoError(t, err)
	require.InDelta(t, want, float64(loss.Value.ToCPU().F32()[0]), 1e-5)
	tp.Backward(loss)
	for _, g := range m.table.Grad.ToCPU().F32()[seqLen*vocab:] {
		require.Zero(t, g, "the last column predicts nothing")
	}
}

func TestObjectiveNothingMasked(t *testing.T) {
	m := newPositionalModel(4, 3, false, rand.New(rand.NewPCG(1, 2)))
	b := data.Batch{B: 1, S: 4, InputIDs: []int32{1, 2, 1, 2}, Labels: []int32{data.IgnoreIndex, data.IgnoreIndex, data.IgnoreIndex, data.IgnoreIndex}}
	loss, err := NewObjective(ObjectiveOptions{}).Loss(nn.NewTape(m.be), m, b, rand.New(rand.NewPCG(1, 1)), 1)
	require.NoError(t, err)
	require.Nil(t, loss)
	_, err = NewObjective(ObjectiveOptions{}).Loss(nn.NewTape(m.be), m, data.Batch{B: 1, S: 3, InputIDs: []int32{1}}, rand.New(rand.NewPCG(1, 1)), 1)
	require.ErrorContains(t, err, "1 ids for a 1×3 batch")
}

func TestShiftRows(t *testing.T) {
	require.Equal(t, []int32{0, 0, 1, 4, 4, 6}, ShiftRows([]int32{0, 1, 2, 4, 5, 7}, 4))
}
