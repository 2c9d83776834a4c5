package tensor

import (
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestAttnVisibleAgreesWithSees checks the interval fast path of
// hideInvisible against the per-key rule for windows and block patterns
// (the two-halves layout has no interval and must say so), and that
// hideInvisible hides exactly the keys sees and the key mask hide.
func TestAttnVisibleAgreesWithSees(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 11))
	for _, tc := range []struct {
		name string
		w    int
		bp   BlockPattern
	}{
		{"global", -1, BlockPattern{}},
		{"window", 5, BlockPattern{}},
		{"block-causal", -1, BlockPattern{Size: 4}},
		{"block-causal-window", 3, BlockPattern{Size: 4}},
		{"two-halves", -1, BlockPattern{Size: 4, Half: 20}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := 40
			if tc.bp.Half > 0 {
				s = 2 * tc.bp.Half
			}
			a := attnShape{b: 1, s: s, nh: 1, nkv: 1, d: 1, w: tc.w, blocks: tc.bp}
			mask := make([]int32, s)
			for j := range mask {
				mask[j] = int32(rng.IntN(4)) // zero (padding) about a quarter of the time
			}
			for i := range s {
				lo, hi, ok := a.visible(i)
				require.Equal(t, tc.bp.Half == 0, ok)
				if ok {
					for j := range s {
						require.Equal(t, a.sees(i, j), lo <= j && j < hi, "i=%d j=%d", i, j)
					}
				}
				for _, m := range [][]int32{nil, mask} {
					spans := []Span{{0, s / 3}, {s / 2, s}}
					row := make([]float32, spanLen(spans))
					for c := range row {
						row[c] = rng.Float32() + 0.5
					}
					hideInvisible(a, row, i, spans, m)
					c := 0
					for _, sp := range spans {
						for j := sp.Lo; j < sp.Hi; j, c = j+1, c+1 {
							hidden := !a.sees(i, j) || (m != nil && m[j] == 0)
							require.Equal(t, hidden, row[c] < -1e30, "i=%d j=%d", i, j)
						}
					}
				}
			}
		})
	}
	require.Nil(t, liveMask([]int32{1, 2, 1}))
	require.NotNil(t, liveMask([]int32{1, 0, 1}))
}
