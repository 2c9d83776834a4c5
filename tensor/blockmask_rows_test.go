package tensor

import (
	"math"
	"testing"

	"github.com/stretchr/testify/require"
)

// RowSpans is Allowed(i, ·) in closed form, and hideInvisible, which uses
// it, hides exactly the keys sees rejects (or padding), for every geometry
// up to 2·9 positions, block sizes up to 5, with and without a window.
func TestHideInvisibleMatchesSees(t *testing.T) {
	for l := 1; l <= 9; l++ {
		for bs := 1; bs <= 5; bs++ {
			for _, half := range []bool{false, true} {
				for _, w := range []int{-1, 0, 1, 3} {
					p := BlockPattern{Size: bs}
					s := l
					if half {
						p.Half, s = l, 2*l
					}
					a := attnShape{s: s, w: w, blocks: p}
					mask := make([]int32, s)
					for j := range mask {
						mask[j] = int32((j*7+l)%5%4/3 ^ 1) // a few padded keys
					}
					all := []Span{{0, s}}
					for i := range s {
						r1, r2 := p.RowSpans(i, s)
						row := make([]float32, s)
						hideInvisible(a, row, i, all, mask)
						for j := range s {
							in := (j >= r1.Lo && j < r1.Hi) || (j >= r2.Lo && j < r2.Hi)
							require.Equal(t, p.Allowed(i, j), in, "RowSpans L=%d bs=%d half=%v i=%d j=%d", l, bs, half, i, j)
							hidden := math.IsInf(float64(row[j]), -1)
							require.Equal(t, mask[j] == 0 || !a.sees(i, j), hidden, "L=%d bs=%d half=%v w=%d i=%d j=%d", l, bs, half, w, i, j)
						}
					}
				}
			}
		}
	}
}
