package mdlm

import (
	"compress/gzip"
	"encoding/json"
	"math"
	"os"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestTransferCountsMatchReference compares every deterministic transfer
// count plan for n = 1..64 masks and steps = 1..64 and 128, linear and
// cosine, with the plans PyTorch computes by the reference's formula
// (testdata/transfer_counts.json.gz, written by
// scripts/gen-transfer-counts.py). Computed in float64 instead of float32,
// 1,448 of the 4,160 linear plans differ, so the test bites.
func TestTransferCountsMatchReference(t *testing.T) {
	f, err := os.Open("testdata/transfer_counts.json.gz")
	require.NoError(t, err)
	defer f.Close()
	zr, err := gzip.NewReader(f)
	require.NoError(t, err)
	var doc struct {
		Cases []struct {
			Schedule string
			N, Steps int
			Counts   []int
		}
	}
	require.NoError(t, json.NewDecoder(zr).Decode(&doc))
	require.Len(t, doc.Cases, 2*64*65)
	differ := 0
	for _, c := range doc.Cases {
		sched, err := ScheduleByName(c.Schedule)
		require.NoError(t, err)
		got := TransferCounts(c.N, c.Steps, sched)
		if c.Counts == nil {
			c.Counts = []int{}
		}
		if got == nil {
			got = []int{}
		}
		require.Equal(t, c.Counts, got, "%s n=%d steps=%d", c.Schedule, c.N, c.Steps)
		if c.Schedule == "linear" && !equalInts(c.Counts, float64Counts(c.N, c.Steps)) {
			differ++
		}
	}
	// The float64 computation the reference does not do differs often
	// enough that a regression to it cannot pass the loop above.
	require.Greater(t, differ, 1000)
}

// float64Counts is the linear plan computed in float64 throughout: the
// rounding the reference does not use.
func float64Counts(n, steps int) []int {
	var out []int
	left := n
	for j := 0; j < steps && left > 0; j++ {
		t := float64(steps-j) / float64(steps)
		s := float64(steps-j-1) / float64(steps)
		k := int(math.RoundToEven(float64(left) * (1 - s/t)))
		if j == steps-1 {
			k = left
		}
		k = min(k, left)
		if k > 0 {
			out = append(out, k)
			left -= k
		}
	}
	return out
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
