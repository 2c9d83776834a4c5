package a2d

import (
	"math/rand/v2"
	"testing"

	"github.com/dllmgo/dllm/lm"
	"github.com/dllmgo/dllm/nn"
	"github.com/dllmgo/dllm/tensor"
	"github.com/stretchr/testify/require"
)

// TestLoadBF16 loads a BF16 checkpoint widened to float32 (Load) and kept
// in BF16 (LoadBF16): the embedding, head and projections stay BF16, the
// norms and biases F32, and the logits are bit for bit the same in both
// precisions (widening is exact; the CPU's BF16 GEMM sums in the F32
// GEMM's order).
func TestLoadBF16(t *testing.T) {
	fresh, err := newFresh("tiny", lm.Fresh{VocabSize: 300, MaxPositions: 600, Specials: &lm.Specials{Pad: 0, Mask: 299, EOS: 3, BOS: 2}}, tensor.CPU())
	require.NoError(t, err)
	m := fresh.(*Model)
	m.Init(rand.New(rand.NewPCG(31, 3)))
	m.SaveBF16 = true
	dir := t.TempDir()
	require.NoError(t, m.Save(dir))
	wide, err := Load(dir, tensor.CPU())
	require.NoError(t, err)
	kept, err := LoadBF16(dir, tensor.CPU())
	require.NoError(t, err)
	for _, p := range kept.Params() {
		want := tensor.F32
		if p.Value.Rank() == 2 {
			want = tensor.BF16
		}
		require.Equal(t, want, p.Value.DType(), p.Name)
	}
	ids := []int32{2, 10, 299, 40, 299, 3, 2, 7, 299, 0, 0, 0}
	mask := []int32{1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0}
	rows := []int32{0, 2, 4, 5, 8}
	for _, prec := range []nn.Precision{nn.PrecisionF32, nn.PrecisionBF16} {
		wide.Precision, kept.Precision = prec, prec
		want, err := wide.Logits(ids, 2, 6, mask, rows)
		require.NoError(t, err)
		got, err := kept.Logits(ids, 2, 6, mask, rows)
		require.NoError(t, err)
		require.Equal(t, want, got, "precision %v", prec)
	}
}
