package tensor

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// The worked example of the two-halves mask (L = 6, blocks of 2), row by
// row: query i may see key j where the row has a 1.
func TestBlockPatternWorkedExample(t *testing.T) {
	want := []string{
		"110000000000",
		"110000000000",
		"001100110000",
		"001100110000",
		"000011111100",
		"000011111100",
		"000000110000",
		"000000110000",
		"000000111100",
		"000000111100",
		"000000111111",
		"000000111111",
	}
	b := BlockPattern{Size: 2, Half: 6}
	for i, row := range want {
		got := make([]byte, 12)
		for j := range got {
			got[j] = '0'
			if b.Allowed(i, j) {
				got[j] = '1'
			}
		}
		require.Equal(t, row, string(got), "query %d", i)
	}
}

// KeySpans and QuerySpans are exactly the keys some query of a tile may see
// and the queries some key of a tile may be seen by, for every tile of every
// small geometry of both layouts: no allowed pair outside them (they skip
// nothing they must not), no index inside them that no pair needs (they
// skip every fully masked tile), disjoint and increasing.
func TestBlockPatternSpansAreExact(t *testing.T) {
	for l := 1; l <= 9; l++ {
		for bs := 1; bs <= 5; bs++ {
			for _, b := range []BlockPattern{{Size: bs, Half: l}, {Size: bs}} {
				s := 2 * l
				if b.Half == 0 {
					s = l + 3
				}
				for lo := 0; lo < s; lo++ {
					for hi := lo + 1; hi <= s; hi++ {
						keys := b.KeySpans(lo, hi, s)
						queries := b.QuerySpans(lo, hi, s)
						for x := range s {
							seesKey, seenBy := false, false
							for y := lo; y < hi; y++ {
								seesKey = seesKey || b.Allowed(y, x)
								seenBy = seenBy || b.Allowed(x, y)
							}
							require.Equal(t, seesKey, inSpans(keys, x), "%+v queries [%d,%d) key %d spans %v", b, lo, hi, x, keys)
							require.Equal(t, seenBy, inSpans(queries, x), "%+v keys [%d,%d) query %d spans %v", b, lo, hi, x, queries)
						}
						for _, sp := range [][]Span{keys, queries} {
							for k, v := range sp {
								require.Less(t, v.Lo, v.Hi)
								if k > 0 {
									require.Less(t, sp[k-1].Hi, v.Lo+1)
								}
							}
						}
					}
				}
			}
		}
	}
}

func inSpans(sp []Span, x int) bool {
	for _, v := range sp {
		if x >= v.Lo && x < v.Hi {
			return true
		}
	}
	return false
}
