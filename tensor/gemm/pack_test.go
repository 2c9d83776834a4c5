package gemm

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

// packReference packs element by element, straight from the definition in
// pack.go. The padding, which pack.go leaves unspecified, is NaN here and is
// not compared.
func packReference(data []float32, ld int, kMajor bool, q0, nq, p0, kb, w int) []float32 {
	out := make([]float32, ceilDiv(nq, w)*w*kb)
	for q := range ceilDiv(nq, w) * w {
		for p := range kb {
			t, i := q/w, q%w
			v := float32(math.NaN())
			if q < nq {
				if kMajor {
					v = data[(p0+p)*ld+q0+q]
				} else {
					v = data[(q0+q)*ld+p0+p]
				}
			}
			out[(t*kb+p)*w+i] = v
		}
	}
	return out
}

// TestPackers checks every kernel's packing loops against packReference on
// ragged blocks, and that nothing is written past the block but the slack the
// drivers allocate. The destination starts as NaN, so a value left unwritten
// shows.
func TestPackers(t *testing.T) {
	const slack = 16
	rng := rand.New(rand.NewPCG(6, 6))
	for _, name := range Kernels() {
		pk := lookup(name).pack
		for _, w := range []int{4, 6, 14, 16, 32} {
			for _, nq := range []int{1, 5, w - 1, w, w + 1, 3*w + 5} {
				for _, kb := range []int{1, 7, 8, 9, 16, 23} {
					for _, kMajor := range []bool{false, true} {
						if nq < 1 {
							continue
						}
						q0, p0 := 3, 5
						rows, cols := q0+nq, p0+kb
						if kMajor {
							rows, cols = cols, rows
						}
						ld := cols + 2
						data := make([]float32, rows*ld)
						for i := range data {
							data[i] = float32(rng.Float64()*2 - 1)
						}
						want := packReference(data, ld, kMajor, q0, nq, p0, kb, w)
						dst := make([]float32, len(want)+slack+8)
						for i := range dst {
							dst[i] = float32(math.NaN())
						}
						packPanels(dst[:len(want)+slack], data, ld, kMajor, q0, nq, p0, kb, w, pk)
						where := fmt.Sprintf("%s w=%d nq=%d kb=%d kMajor=%t", name, w, nq, kb, kMajor)
						for i, v := range want {
							if !math.IsNaN(float64(v)) && dst[i] != v {
								require.Failf(t, "wrong packed value", "%s: dst[%d] = %g, want %g", where, i, dst[i], v)
							}
						}
						for _, v := range dst[len(want)+slack:] {
							require.True(t, math.IsNaN(float64(v)), "%s: wrote past the slack", where)
						}
					}
				}
			}
		}
	}
}
