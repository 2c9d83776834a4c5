package mdlm

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// A shifted model asked for rows 0, 1 and 5 of 2×4 sequences computes rows
// 0, 0 and 4: position 0 of each sequence predicts itself, the others read
// the row before.
func TestShiftedAsksForTheRowBefore(t *testing.T) {
	m := &fakeModel{vocab: 3, fn: func(seq []int32, pos int) []float32 { return []float32{float32(pos), 0, 0} }}
	ids := []int32{1, 2, 1, 2, 2, 1, 2, 1}
	got, err := Shifted(m).Logits(ids, 2, 4, nil, []int32{0, 1, 5, 7})
	require.NoError(t, err)
	require.Equal(t, []int32{0, 0, 4, 6}, m.calls[0].rows)
	require.Equal(t, []float32{0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0}, got)
	require.Equal(t, 3, Shifted(m).VocabSize())
}
