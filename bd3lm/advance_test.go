package bd3lm_test

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dllmgo/dllm/a2d"
	"github.com/dllmgo/dllm/bd3lm"
	"github.com/dllmgo/dllm/lm"
	"github.com/dllmgo/dllm/mdlm"
	"github.com/dllmgo/dllm/tensor"
)

// advancingFamilies are the models whose prefix caches advance: ModernBERT
// (with a sliding-window layer), LLaDA (grouped-query attention) and A2D
// (Qwen3's blocks, the shared decoder).
func advancingFamilies(t *testing.T) []struct {
	name string
	m    lm.Model
} {
	return []struct {
		name string
		m    lm.Model
	}{{"modernbert", newTestModel(t)}, {"llada", newTestLLaDA(t)}, {"a2d", newTestA2D(t)}}
}

// newTestA2D is a tiny A2D Qwen3 with the test vocabulary and special ids.
func newTestA2D(t *testing.T) *a2d.Model {
	t.Helper()
	c, err := a2d.Preset("tiny")
	require.NoError(t, err)
	c.VocabSize, c.TieWordEmbeddings = testVocab, false
	mask, pad := testMask, testPad
	c.MaskTokenID, c.PadTokenID, c.BOSTokenID, c.EOSTokenID = &mask, &pad, nil, []int{testEOS}
	c.InitializerRange = 0.5
	require.NoError(t, a2d.Validate(c))
	m := a2d.New(c, tensor.CPU())
	m.Init(rand.New(rand.NewPCG(7, 8)))
	return m
}

// A prefix cache advanced block by block (one cached pass over each
// finished block against the cached prefix) gives the logits of a cache
// rebuilt from the whole prefix under the block-causal mask, within 1e-5,
// at every block's first step, for left-padded rows with random committed
// tokens and blocks of unequal width (the last one short).
func TestAdvanceEqualsRebuild(t *testing.T) {
	for _, fam := range advancingFamilies(t) {
		t.Run(fam.name, func(t *testing.T) {
			m := fam.m
			cacher := m.(bd3lm.BlockCacher)
			rng := rand.New(rand.NewPCG(11, 12))
			const batch, bs = 2, 4
			promptLens := []int{3, 7} // padded on the left to 8
			start := 8
			rows := make([][]int32, batch)
			for r, l := range promptLens {
				rows[r] = slices.Repeat([]int32{testPad}, start-l)
				for range l {
					rows[r] = append(rows[r], int32(rng.IntN(testEOS)))
				}
			}
			widths := []int{bs, bs, 3}
			var adv bd3lm.Advancer
			var last []int32
			lo := start
			for blk, w := range widths {
				for r := range rows {
					rows[r] = append(rows[r], slices.Repeat([]int32{testMask}, w)...)
				}
				n := lo + w
				ids, keys := flatten(rows), keyMask(rows)
				want := blockRows(batch, n, lo, w)
				mask := &lm.AttentionMask{Blocks: tensor.BlockPattern{Size: bs}, Rows: batch}
				fresh, ref, err := cacher.BeginMaskedBlock(ids, batch, n, mask, keys, slices.Repeat([]int{lo}, batch), w, want)
				require.NoError(t, err)
				fresh.Release()
				if blk > 0 {
					require.NoError(t, adv.Advance(last, w, keys))
					got, err := adv.(mdlm.BlockCache).Logits(ids, want)
					require.NoError(t, err)
					require.Len(t, got, len(ref))
					worst := 0.0
					for i := range ref {
						worst = max(worst, math.Abs(float64(got[i]-ref[i])))
					}
					require.Less(t, worst, 1e-5, "block %d", blk)
					t.Logf("block %d: largest logit difference %.2g", blk, worst)
				} else {
					c, _, err := cacher.BeginMaskedBlock(ids, batch, n, mask, keys, slices.Repeat([]int{lo}, batch), w, want)
					require.NoError(t, err)
					defer c.Release()
					adv = c.(bd3lm.Advancer)
				}
				// Commit the block: random tokens, different per row.
				for r := range rows {
					for i := lo; i < n; i++ {
						rows[r][i] = int32(rng.IntN(testEOS))
					}
				}
				last, lo = flatten(rows), n
			}
		})
	}
}

// The sampler with the prefix cache advanced block by block gives the
// tokens of the reference's rebuild at every block, for a seed, greedy and
// at a temperature, with guidance (two caches) and threshold decoding, on
// two families; both run cached.
func TestGenerateAdvanceEqualsRebuild(t *testing.T) {
	for _, fam := range advancingFamilies(t) {
		t.Run(fam.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(5, 6))
			prompts := [][]int32{make([]int32, 6), make([]int32, 3)}
			for _, p := range prompts {
				for i := range p {
					p[i] = int32(rng.IntN(testEOS))
				}
			}
			for _, c := range []struct {
				name           string
				temp, cfg, thr float64
			}{{"greedy", 0, 0, 0}, {"temperature", 0.9, 0, 0}, {"guidance", 0.7, 1.5, 0}, {"threshold", 0, 0, 0.3}} {
				t.Run(c.name, func(t *testing.T) {
					cfg := mdlm.SamplerConfig{MaxNewTokens: 15, Steps: 12, BlockSize: 4, Temperature: c.temp,
						CFGScale: c.cfg, Threshold: c.thr, MaskID: testMask, PadID: testPad, Cache: true}
					run := func(rebuild bool) *mdlm.Output {
						out, err := bd3lm.GenerateWith(fam.m, prompts, cfg, testEOS, rand.New(rand.NewPCG(21, 2)), bd3lm.SampleOptions{Rebuild: rebuild})
						require.NoError(t, err)
						return out
					}
					ref, inc := run(true), run(false)
					require.Greater(t, inc.CachedPasses, ref.CachedPasses, "advancing runs every block's first step cached")
					for r := range prompts {
						require.NotContains(t, inc.Samples[r].Canvas, int32(testMask))
						require.Equal(t, ref.Samples[r].Canvas, inc.Samples[r].Canvas, "row %d", r)
					}
				})
			}
		})
	}
}

func flatten(rows [][]int32) []int32 {
	var ids []int32
	for _, r := range rows {
		ids = append(ids, r...)
	}
	return ids
}

// keyMask marks every token but the left padding real.
func keyMask(rows [][]int32) []int32 {
	var keys []int32
	for _, r := range rows {
		pad := true
		for _, id := range r {
			pad = pad && id == testPad
			keys = append(keys, map[bool]int32{true: 0, false: 1}[pad])
		}
	}
	return keys
}

// blockRows are the flat rows of the block [lo, lo+w) of every row of a
// batch of n-token rows.
func blockRows(batch, n, lo, w int) []int32 {
	var rows []int32
	for r := range batch {
		for t := range w {
			rows = append(rows, int32(r*n+lo+t))
		}
	}
	return rows
}
