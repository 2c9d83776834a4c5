package recipe

import (
	"path/filepath"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dllmgo/dllm/data"
	"github.com/dllmgo/dllm/data/synth"
	"github.com/dllmgo/dllm/data/tokenizer"
	"github.com/dllmgo/dllm/modeldir"
	"github.com/dllmgo/dllm/tensor"
)

// A small model folder with a BERT-style tokenizer ([PAD]=0 ... [MASK]=4).
var modelDir = filepath.Join("..", "modeldir", "testdata", "legacy-a608523", "model")

func openBundle(t *testing.T) *modeldir.Bundle {
	t.Helper()
	b, err := modeldir.Open(modelDir, tensor.CPU())
	require.NoError(t, err)
	return b
}

func conversations(t *testing.T, n int) []data.Conversation {
	t.Helper()
	ex, err := synth.GenerateLevel(n, 3, []string{"reverse"}, synth.Easy)
	require.NoError(t, err)
	out := make([]data.Conversation, len(ex))
	for i, e := range ex {
		out[i] = data.Conversation{Messages: e.Messages(), Task: e.Task}
	}
	return out
}

func TestSFT(t *testing.T) {
	b := openBundle(t)
	convs := conversations(t, 40)
	s := Split{MaxLen: 64, HeldOut: 0.1, Seed: 7}
	d, err := SFT(b, convs, s)
	require.NoError(t, err)
	require.Len(t, d.HeldConvs, 4)
	require.Len(t, d.Held, 4)
	require.Len(t, d.Train, 36)
	require.Positive(t, d.Generation.MaxNewTokens)
	require.Zero(t, d.Generation.MaxNewTokens%8)
	for _, ex := range d.Train {
		require.LessOrEqual(t, len(ex.InputIDs)-ex.PromptLen+4, d.Generation.MaxNewTokens)
		require.Equal(t, int32(data.IgnoreIndex), ex.Labels[0], "the prompt is not supervised")
	}

	// The same seed gives the same split and batches; epochs differ.
	again, err := SFT(b, convs, s)
	require.NoError(t, err)
	require.Equal(t, d.Train, again.Train)
	e0, e1 := d.Epochs(8, s.Seed)(0), d.Epochs(8, s.Seed)(1)
	require.Equal(t, e0, again.Epochs(8, s.Seed)(0))
	require.NotEqual(t, e0, e1)
	rows := 0
	for _, bt := range e0 {
		require.NoError(t, bt.Validate())
		rows += bt.B
	}
	require.Equal(t, 36, rows)
	require.Len(t, d.HeldBatches(1, s.Seed, 2), 2)
	require.Len(t, d.HeldBatches(1, s.Seed, 0), 4)

	// A held-out fraction of 0 holds nothing out; a small one at least one.
	d, err = SFT(b, convs, Split{MaxLen: 64, Seed: 1})
	require.NoError(t, err)
	require.Empty(t, d.HeldConvs)
	require.Empty(t, d.Held)
	require.Empty(t, d.HeldBatches(4, 1, 0))
	require.Len(t, d.Train, len(convs))
	d, err = SFT(b, convs, Split{MaxLen: 64, Seed: 1, HeldOut: 1e-6})
	require.NoError(t, err)
	require.Len(t, d.HeldConvs, 1)
	_, err = SFT(b, convs[:1], Split{MaxLen: 64, Seed: 1})
	require.NoError(t, err, "one conversation is enough without a held-out part")

	_, err = SFT(b, convs[:1], s)
	require.ErrorContains(t, err, "need at least 2")
	_, err = SFT(b, convs, Split{MaxLen: 4, Seed: 1})
	require.ErrorContains(t, err, "longer than 4 tokens")
}

func TestPretrain(t *testing.T) {
	b := openBundle(t)
	docs := []string{"the cat sat on the mat", "a bird flew over the water and the sun", "three small cakes", "brave horse"}
	for range 3 {
		docs = append(docs, docs...)
	}
	s := Split{MaxLen: 16, HeldOut: 0.2, Seed: 2}
	d, err := Pretrain(b, docs, s)
	require.NoError(t, err)
	require.Equal(t, len(d.Rows), len(d.Train)+len(d.Held))
	require.NotEmpty(t, d.Held)
	for _, r := range d.Rows {
		require.Len(t, r, 16)
	}
	require.True(t, slices.ContainsFunc(d.Rows, func(r []int32) bool { return slices.Contains(r, b.PadID) }), "documents are joined by the pad token")
	e0 := d.Epochs(4, s.Seed)(0)
	require.Equal(t, e0, d.Epochs(4, s.Seed)(0))
	require.NotEqual(t, e0, d.Epochs(4, s.Seed)(1))
	for _, bt := range e0 {
		require.NoError(t, bt.Validate())
		require.Equal(t, bt.B*bt.S, bt.Supervised(), "every token supervised")
	}
	_, err = Pretrain(b, []string{"cat"}, s)
	require.ErrorContains(t, err, "need more text")
}

func TestFresh(t *testing.T) {
	tok, err := tokenizer.Load(filepath.Join(modelDir, modeldir.TokenizerFile))
	require.NoError(t, err)
	f := Fresh(tok, 96)
	require.Equal(t, tok.VocabSize(), f.VocabSize)
	require.Equal(t, 96, f.MaxPositions)
	require.Equal(t, int32(4), f.Specials.Mask)
	require.Equal(t, int32(0), f.Specials.Pad)
	m, err := modeldir.New(modeldir.DefaultFamily(), "tiny", f, tensor.CPU())
	require.NoError(t, err)
	_, err = modeldir.NewBundle(m, tok)
	require.NoError(t, err)
}
