package bd3lm

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// The worked example of the package documentation: L = 6, blocks of 2.
const workedExample = `
11..........
11..........
..11..11....
..11..11....
....111111..
....111111..
......11....
......11....
......1111..
......1111..
......111111
......111111`

func render(m []bool, n int) string {
	var sb strings.Builder
	for q := range n {
		sb.WriteByte('\n')
		for k := range n {
			if m[q*n+k] {
				sb.WriteByte('1')
			} else {
				sb.WriteByte('.')
			}
		}
	}
	return sb.String()
}

func TestTrainingMaskWorkedExample(t *testing.T) {
	require.Equal(t, workedExample, render(TrainingMask(6, 2), 12))
}

// regionMask builds the mask the other way round, region by region: for
// each block j of each half, which key ranges it sees.
func regionMask(l, bs int) []bool {
	n := 2 * l
	m := make([]bool, n*n)
	fill := func(q0, q1, k0, k1 int) {
		for q := q0; q < q1; q++ {
			for k := k0; k < k1; k++ {
				m[q*n+k] = true
			}
		}
	}
	for j := 0; j*bs < l; j++ {
		lo, hi := j*bs, min((j+1)*bs, l)
		fill(lo, hi, lo, hi)      // noisy block j sees itself,
		fill(lo, hi, l, l+lo)     // and the clean blocks before it;
		fill(l+lo, l+hi, l, l+hi) // clean block j sees clean blocks 0..j
	}
	return m
}

func TestTrainingMaskRandomSizes(t *testing.T) {
	for l := 1; l <= 11; l++ {
		for bs := 1; bs <= l+1; bs++ {
			require.Equal(t, render(regionMask(l, bs), 2*l), render(TrainingMask(l, bs), 2*l), "L=%d block %d", l, bs)
		}
	}
}

func TestTrainingPositions(t *testing.T) {
	require.Equal(t, []int32{0, 1, 2, 3, 4, 0, 1, 2, 3, 4}, TrainingPositions(5))
}
