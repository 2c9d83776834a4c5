package editflow_test

import (
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dllmgo/dllm/bert"
	"github.com/dllmgo/dllm/data"
	"github.com/dllmgo/dllm/editflow"
	"github.com/dllmgo/dllm/lm"
	"github.com/dllmgo/dllm/nn"
	"github.com/dllmgo/dllm/tensor"
)

// tinyModel is a randomly initialised tiny ModernBERT with Edit Flows heads
// (vocabulary 24: [PAD] 0, [CLS] 1, [SEP] 2, [MASK] 3).
func tinyModel(t testing.TB, seed uint64) *editflow.Model {
	bb, err := bert.Family.New("tiny", lm.Fresh{VocabSize: 24, MaxPositions: 64,
		Specials: &lm.Specials{Pad: 0, CLS: 1, SEP: 2, Mask: 3, BOS: 1, EOS: 2}}, tensor.CPU())
	require.NoError(t, err)
	rng := rand.New(rand.NewPCG(seed, 0))
	bb.Init(rng)
	return editflow.New(bb.(editflow.Backbone), rng)
}

func TestHeadsStartAsTheOutputProjection(t *testing.T) {
	m := tinyModel(t, 1)
	w, b := m.Backbone.OutputHead()
	require.Equal(t, w.Value.F32(), m.Heads.Sub.W.Value.F32())
	require.Equal(t, w.Value.F32(), m.Heads.Ins.W.Value.F32())
	require.Equal(t, b.Value.F32(), m.Heads.Sub.B.Value.F32())
	// Independent copies: training one head leaves the other and the decoder.
	m.Heads.Sub.W.Value.F32()[0] += 1
	require.NotEqual(t, m.Heads.Sub.W.Value.F32()[0], m.Heads.Ins.W.Value.F32()[0])
	require.NotEqual(t, m.Heads.Sub.W.Value.F32()[0], w.Value.F32()[0])
	rate := m.Heads.Rate.W.Value.F32()
	bound := 1 / math.Sqrt(float64(m.Heads.Rate.W.Value.Dim(1)))
	nonzero := 0
	for _, v := range rate {
		require.LessOrEqual(t, math.Abs(float64(v)), bound)
		if v != 0 {
			nonzero++
		}
	}
	require.Equal(t, len(rate), nonzero)
	require.Len(t, m.Params(), len(m.Backbone.Params())+6)
}

// One training step on a tiny ModernBERT: the loss is finite and positive,
// every head and the backbone get gradients, and the same seed gives the
// same loss.
func TestObjectiveOnModernBERT(t *testing.T) {
	m := tinyModel(t, 2)
	b := data.Batch{B: 2, S: 7, InputIDs: []int32{
		1, 5, 6, 7, 8, 9, 2,
		1, 5, 10, 11, 2, 0, 0,
	}, PromptLens: []int{2, 3}}
	obj := editflow.NewObjective(editflow.Options{MaskLength: 4, BOS: 1})
	loss := func() (float32, *nn.Tape, *nn.Var) {
		tp := nn.NewTape(tensor.CPU())
		l, err := obj.Loss(tp, m, b, rand.New(rand.NewPCG(9, 9)), 1)
		require.NoError(t, err)
		return l.Value.F32()[0], tp, l
	}
	v1, tp, l := loss()
	require.False(t, math.IsNaN(float64(v1)) || math.IsInf(float64(v1), 0))
	require.Greater(t, v1, float32(0))
	nn.ZeroGrads(m.Params())
	tp.Backward(l)
	for _, p := range []*nn.Param{m.Heads.Rate.W, m.Heads.Sub.W, m.Heads.Ins.W, m.Backbone.Params()[0]} {
		require.NotNil(t, p.Grad, p.Name)
		s := 0.0
		for _, g := range p.Grad.F32() {
			s += math.Abs(float64(g))
		}
		require.Greater(t, s, 0.0, p.Name)
	}
	v2, _, _ := loss()
	require.Equal(t, v1, v2)
}

// A saved model opens with the same heads, marked in config.json, and a
// folder without the mark opens as the plain backbone.
func TestSaveAndWrap(t *testing.T) {
	m := tinyModel(t, 7)
	dir := t.TempDir()
	require.NoError(t, m.Save(dir))
	js, err := os.ReadFile(filepath.Join(dir, "config.json"))
	require.NoError(t, err)
	require.True(t, editflow.Marked(js))
	bb, err := bert.Family.Load(dir, tensor.CPU())
	require.NoError(t, err)
	w, err := editflow.Wrap(dir, bb)
	require.NoError(t, err)
	got, ok := w.(*editflow.Model)
	require.True(t, ok)
	for i, p := range m.Params() {
		require.Equal(t, p.Name, got.Params()[i].Name)
		require.Equal(t, p.Value.F32(), got.Params()[i].Value.F32(), p.Name)
	}
	plain := t.TempDir()
	require.NoError(t, m.Backbone.Save(plain))
	w, err = editflow.Wrap(plain, bb)
	require.NoError(t, err)
	require.Same(t, bb, w)
}
