package transformer

import (
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dllmgo/dllm/nn"
	"github.com/dllmgo/dllm/tensor"
)

// TestDualCacheOneBlockIsExact: through a single block nothing outside the
// blocks changes when the block rows change, so a cached step (Attend over
// the keys Record kept, the blocks' own keys fresh) must give the full
// pass's rows on the changed input, to f32 rounding. Qwen3's block checks
// the gathers of grouped-query attention and a head size that is not H/nh.
func TestDualCacheOneBlockIsExact(t *testing.T) {
	for _, cfg := range []struct {
		name string
		c    Config
	}{{"ModernBERT", smallConfig()}, {"Qwen3", qwen3Config()}} {
		t.Run(cfg.name, func(t *testing.T) { testDualCacheOneBlock(t, cfg.c) })
	}
}

func testDualCacheOneBlock(t *testing.T, c Config) {
	for _, tc := range []struct {
		name       string
		layer      Layer
		lengths    []int
		seq, width int
		starts     []int
	}{
		{"global", Layer{Theta: 10000}, []int{9, 9}, 9, 3, []int{2, 6}},
		{"sliding window", Layer{Theta: 10000, Window: 4}, []int{10}, 10, 4, []int{3}},
		{"padded batch", Layer{Theta: 10000, Window: 6}, []int{11, 6, 4}, 11, 2, []int{8, 0, 2}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(8, 9))
			blk := randomBlock(c, tc.layer, rng)
			batch, seq, h := len(tc.lengths), tc.seq, c.Hidden
			n := batch * seq
			var mask []int32
			for _, l := range tc.lengths {
				for s := range seq {
					mask = append(mask, int32(min(1, max(0, l-s))))
				}
			}
			maskT := tensor.FromI32(mask, batch, seq)
			pos := make([]int32, n)
			for i := range pos {
				pos[i] = int32(i % seq)
			}
			full := FullAttention(maskT, batch, seq)
			run := func(x []float32, attend Attention, p []int32) []float32 {
				return blk.Forward(nn.NoGrad(tensor.CPU()), nn.Constant(tensor.FromF32(x, len(p), h)), tensor.FromI32(p, len(p)), attend).Value.F32()
			}

			dc := NewDualCache(tensor.CPU(), c, []Layer{tc.layer}, batch, seq, tc.width, tc.starts, mask)
			defer dc.Release()
			x := randomF32(rng, n*h)
			run(x, dc.Record(0, full), pos)

			// Redraw the block rows, run them alone through the cache, and
			// compare with the full pass on the new input.
			var blockX []float32
			var blockRows []int
			for b, st := range tc.starts {
				for t := range tc.width {
					r := b*seq + st + t
					copy(x[r*h:(r+1)*h], randomF32(rng, h))
					blockX = append(blockX, x[r*h:(r+1)*h]...)
					blockRows = append(blockRows, r)
				}
			}
			got := run(blockX, dc.Attend(0), dc.Positions().I32())
			want := run(x, full, pos)
			for i, r := range blockRows {
				require.InDeltaSlice(t, want[r*h:(r+1)*h], got[i*h:(i+1)*h], 1e-5, "block row %d (flat %d)", i, r)
			}
			dc.Release()
			require.True(t, dc.Released())
		})
	}
}
