package llada

import (
	"math/rand/v2"
	"path/filepath"
	"testing"

	"github.com/dllmgo/dllm/nn"
	"github.com/dllmgo/dllm/tensor"
	"github.com/stretchr/testify/require"
)

// TestLoadBF16 loads a BF16 checkpoint twice: widened to float32 (Load) and
// kept in BF16 (LoadBF16). The large weights stay BF16 and the norms F32,
// and the logits are bit for bit the same in both precisions: widening is
// exact and the CPU's BF16 GEMM sums in the F32 GEMM's order.
func TestLoadBF16(t *testing.T) {
	untied := released(32, 4, 4, 2, 48, 64)
	untied.VocabSize, untied.EmbeddingSize = 37, ptr(37)
	untied.MaskTokenID, untied.EOSTokenID, untied.PadTokenID = 36, 35, 35
	for name, c := range map[string]Config{"gqa-tied-bias": gqaConfig(), "untied": untied} {
		t.Run(name, func(t *testing.T) {
			m := randomModel(t, c, 21)
			m.SaveBF16 = true
			dir := filepath.Join(t.TempDir(), "m")
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
			rng := rand.New(rand.NewPCG(22, 2))
			ids, mask := paddedBatch(rng, []int{7, 4}, 7, c.VocabSize, int32(c.PadTokenID))
			for _, prec := range []nn.Precision{nn.PrecisionF32, nn.PrecisionBF16} {
				wide.Precision, kept.Precision = prec, prec
				want, err := wide.Logits(ids, 2, 7, mask, allRows(14))
				require.NoError(t, err)
				got, err := kept.Logits(ids, 2, 7, mask, allRows(14))
				require.NoError(t, err)
				require.Equal(t, want, got, "precision %v", prec)
			}
			// The block cache (--cache) runs the same projections.
			starts, width := []int{4, 1}, 3
			var rows []int32
			for b, s := range starts {
				for k := range width {
					rows = append(rows, int32(b*7+s+k))
				}
			}
			var steps [2][]float32
			for i, mm := range []*Model{wide, kept} {
				cache, _, err := mm.BeginBlock(ids, 2, 7, mask, starts, width, rows)
				require.NoError(t, err)
				steps[i], err = cache.Logits(ids, rows)
				require.NoError(t, err)
				cache.Release()
			}
			require.Equal(t, steps[0], steps[1], "cached step")
		})
	}
}

// A model with BF16 weights saves as the widened model does.
func TestSaveBF16Weights(t *testing.T) {
	m := randomModel(t, gqaConfig(), 23)
	m.SaveBF16 = true
	dir := filepath.Join(t.TempDir(), "m")
	require.NoError(t, m.Save(dir))
	kept, err := LoadBF16(dir, tensor.CPU())
	require.NoError(t, err)
	kept.SaveBF16 = true
	again := filepath.Join(t.TempDir(), "again")
	require.NoError(t, kept.Save(again))
	a, err := Load(dir, tensor.CPU())
	require.NoError(t, err)
	b, err := Load(again, tensor.CPU())
	require.NoError(t, err)
	for i, p := range a.Params() {
		require.Equal(t, p.Value.F32(), b.Params()[i].Value.F32(), p.Name)
	}
}
