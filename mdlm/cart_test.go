package mdlm

import (
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dllmgo/dllm/data"
)

// CART weights by hand: a masked position weighs the unmasked others by
// ½·p·(1−p)^(distance−1); unmasked positions weigh nothing.
func TestCARTWeights(t *testing.T) {
	const p = 0.5
	g := func(n int) float64 { // ½·p·(1−p)^(n−1)
		v := 0.5 * p
		for range n - 1 {
			v *= 1 - p
		}
		return v
	}
	for _, tc := range []struct {
		name   string
		masked []bool
		want   []float64
	}{
		{"one masked in the middle", []bool{false, true, false, false}, []float64{0, g(1) + g(1) + g(2), 0, 0}},
		{"two masked neighbours", []bool{true, true, false}, []float64{g(2), g(1), 0}},
		{"all masked", []bool{true, true}, []float64{0, 0}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := CARTWeights(tc.masked, p)
			require.InDeltaSlice(t, tc.want, got, 1e-12)
		})
	}
}

// Corrupt with WeightCART: each masked row's weight is its CART weight over
// the row's masked set divided by the supervised count, whatever t is.
func TestCorruptCART(t *testing.T) {
	ids := []int32{5, 6, 7, 8, 9, 10, 11, 12, 5, 6, 7, 8, 9, 10, 11, 12}
	b := data.Batch{B: 2, S: 8, InputIDs: ids, Labels: append([]int32(nil), ids...)}
	b.Labels[0], b.Labels[8] = data.IgnoreIndex, data.IgnoreIndex
	c, err := Corrupt(b, ObjectiveOptions{MaskID: 1, Weighting: WeightCART, FixedTimes: []float64{0.7, 0.9}}, rand.New(rand.NewPCG(3, 4)))
	require.NoError(t, err)
	require.NotEmpty(t, c.Rows)
	for r := range 2 {
		masked := make([]bool, 8)
		for s := range 8 {
			masked[s] = c.Noisy[r*8+s] == 1
		}
		want := CARTWeights(masked, DefaultCARTP)
		for i, flat := range c.Rows {
			if int(flat)/8 == r {
				require.InDelta(t, want[int(flat)%8]/14, c.Weights[i], 1e-12)
				require.Positive(t, c.Weights[i])
			}
		}
	}
	w, err := ParseWeighting("cart")
	require.NoError(t, err)
	require.Equal(t, WeightCART, w)
}

// A batch that supervises position 0 gets a BOS column (unsupervised,
// never masked); an SFT batch, whose rows open with prompt, does not need one.
func TestPrependBOS(t *testing.T) {
	pre := data.Batch{B: 2, S: 3, InputIDs: []int32{5, 6, 7, 8, 9, 10}}
	require.True(t, FirstSupervised(pre))
	got := PrependBOS(pre, 1)
	require.Equal(t, data.Batch{B: 2, S: 4, InputIDs: []int32{1, 5, 6, 7, 1, 8, 9, 10},
		Labels: []int32{-100, 5, 6, 7, -100, 8, 9, 10}, PromptLens: []int{1, 1}}, got)
	require.False(t, FirstSupervised(got))

	sft := data.Batch{B: 2, S: 3, InputIDs: []int32{5, 6, 7, 8, 9, 10}, Labels: []int32{-100, 6, 7, -100, -100, 10}, PromptLens: []int{1, 2}}
	require.False(t, FirstSupervised(sft))
	sft.PromptLens = nil
	sft.Labels[3] = 8
	require.True(t, FirstSupervised(sft))
	require.Equal(t, []int{1, 1}, PrependBOS(sft, 2).PromptLens)
}
