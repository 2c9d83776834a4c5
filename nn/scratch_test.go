package nn

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dllmgo/dllm/tensor"
)

// TestFreeScratch: on a NoGrad tape that tracks scratch, FreeScratch frees
// every op output made since the last call except the one kept, which the
// next call frees; an untracked or recording tape frees nothing.
func TestFreeScratch(t *testing.T) {
	was := tensor.DebugPoisonFreed(true)
	defer tensor.DebugPoisonFreed(was)
	poisoned := func(s []float32) bool {
		for _, v := range s {
			if !math.IsNaN(float64(v)) {
				return false
			}
		}
		return true
	}
	for _, tc := range []struct {
		name  string
		tape  func() *Tape
		frees bool
	}{
		{"tracking", func() *Tape { tp := NoGrad(tensor.CPU()); tp.TrackScratch(); return tp }, true},
		{"untracked", func() *Tape { return NoGrad(tensor.CPU()) }, false},
		{"recording", func() *Tape { tp := NewTape(tensor.CPU()); tp.TrackScratch(); return tp }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(5, 6))
			x, y := randLeaf(rng, 3, 4), randLeaf(rng, 3, 4)
			tp := tc.tape()
			a := tp.Add(x, y)
			b := tp.GELU(a)
			av, bv := a.Value.F32(), b.Value.F32()
			want := append([]float32(nil), bv...)
			tp.FreeScratch(b)
			assert.Equal(t, tc.frees, poisoned(av), "the dead output")
			require.Equal(t, want, bv, "the kept output")
			assert.False(t, poisoned(x.Value.F32()) || poisoned(y.Value.F32()), "inputs are not the tape's")
			c := tp.Add(b, x)
			tp.FreeScratch(c)
			assert.Equal(t, tc.frees, poisoned(bv), "the kept output, one call later")
			assert.False(t, poisoned(c.Value.F32()))
		})
	}
}
