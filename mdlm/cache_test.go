package mdlm

import (
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// begin records one BeginBlock call.
type begin struct {
	batch, seqLen int
	keyMask       []int32
	starts        []int
	width         int
}

// fakeCacher is a fakeModel that also implements BlockCacher. Its caches
// evaluate fn on what a DualCache model would see: the block's current
// tokens and, outside the block, the tokens BeginBlock saw. They check the
// contract: rows inside the blocks, nothing outside a block changed, no use
// after Release.
type fakeCacher struct {
	*fakeModel
	begins   []begin
	released int
	failStep error // returned by every cached step, if set
}

func (m *fakeCacher) BeginBlock(ids []int32, batch, seqLen int, keyMask []int32, starts []int, width int, rows []int32) (BlockCache, []float32, error) {
	if len(starts) != batch || width <= 0 {
		return nil, nil, fmt.Errorf("fake: %d starts, width %d for batch %d", len(starts), width, batch)
	}
	for b, s := range starts {
		if s < 0 || s+width > seqLen {
			return nil, nil, fmt.Errorf("fake: block [%d, %d) outside %d", s, s+width, seqLen)
		}
		for p := s; p < s+width; p++ {
			if keyMask != nil && keyMask[b*seqLen+p] == 0 {
				return nil, nil, fmt.Errorf("fake: block position %d of sequence %d is padding", p, b)
			}
		}
	}
	m.begins = append(m.begins, begin{batch, seqLen, slices.Clone(keyMask), slices.Clone(starts), width})
	logits, err := m.fakeModel.Logits(ids, batch, seqLen, keyMask, rows)
	if err != nil {
		return nil, nil, err
	}
	return &fakeBlockCache{m: m, frozen: slices.Clone(ids), seqLen: seqLen, starts: slices.Clone(starts), width: width}, logits, nil
}

type fakeBlockCache struct {
	m        *fakeCacher
	frozen   []int32
	seqLen   int
	starts   []int
	width    int
	released bool
}

func (c *fakeBlockCache) inBlock(flat int) bool {
	b, s := flat/c.seqLen, flat%c.seqLen
	return s >= c.starts[b] && s < c.starts[b]+c.width
}

func (c *fakeBlockCache) Logits(ids, rows []int32) ([]float32, error) {
	switch {
	case c.released:
		return nil, errors.New("fake: cache used after Release")
	case c.m.failStep != nil:
		return nil, c.m.failStep
	case len(ids) != len(c.frozen):
		return nil, fmt.Errorf("fake: %d ids for a cache of %d", len(ids), len(c.frozen))
	}
	seen := slices.Clone(c.frozen)
	for i := range ids {
		if c.inBlock(i) {
			seen[i] = ids[i]
		} else if ids[i] != c.frozen[i] {
			return nil, fmt.Errorf("fake: position %d outside the block changed during the block", i)
		}
	}
	out := make([]float32, 0, len(rows)*c.m.vocab)
	for _, r := range rows {
		if !c.inBlock(int(r)) {
			return nil, fmt.Errorf("fake: row %d outside the block", r)
		}
		b, s := int(r)/c.seqLen, int(r)%c.seqLen
		out = append(out, c.m.fn(seen[b*c.seqLen:(b+1)*c.seqLen], s)...)
	}
	return out, nil
}

func (c *fakeBlockCache) Release() {
	if !c.released {
		c.released = true
		c.m.released++
	}
}

// hashModel's logits are a pseudo-random function of the position and every
// committed token of the row, so any change in what the sampler shows it
// changes its answer. With stopAt, positions at or past stopAt(seq) predict
// [PAD] and no others do.
func hashModel(vocab int, mask, pad int32, stopAt func(seq []int32) int) *fakeModel {
	return &fakeModel{vocab: vocab, quiet: true, fn: func(seq []int32, pos int) []float32 {
		l := make([]float32, vocab)
		h := uint64(pos)
		for _, id := range seq {
			if id != mask && id != pad {
				h = h*31 + uint64(id)
			}
		}
		r := NewRand(h)
		for v := range l {
			l[v] = float32(r.NormFloat64())
		}
		if stopAt != nil {
			l[pad] = -10
			if pos >= stopAt(seq) {
				l[pad] = 10
			}
		}
		return l
	}}
}

// TestGenerateCacheMatchesUncached: with a model whose cached steps see what
// its full passes see, Cache changes nothing in the samples, calls BeginBlock
// once per block with each running row's block, and releases every cache.
func TestGenerateCacheMatchesUncached(t *testing.T) {
	const vocab, mask, pad = 30, 29, 28
	// The first prompt token says where the answer ends (a [PAD]).
	stopAt := func(seq []int32) int { return int(seq[0]) }
	for _, tc := range []struct {
		name    string
		prompts [][]int32
		cfg     SamplerConfig
		blocks  []int // batch size of each BeginBlock
	}{
		{"one row", [][]int32{{27, 5, 6}}, SamplerConfig{MaxNewTokens: 16, Steps: 16, BlockSize: 4}, []int{1, 1, 1, 1}},
		{"few steps", [][]int32{{27, 5, 6}}, SamplerConfig{MaxNewTokens: 16, Steps: 6, BlockSize: 8}, []int{1, 1}},
		// Row 0 ends in block 1 (its [PAD] at 5), row 1 in block 3 (at 9): the
		// later blocks run without row 0.
		{"rows stop", [][]int32{{5, 1}, {9}, {25, 2, 3, 4}}, SamplerConfig{MaxNewTokens: 16, Steps: 16, BlockSize: 4}, []int{3, 2, 2, 1}},
		{"threshold", [][]int32{{27, 1, 2}, {26}}, SamplerConfig{MaxNewTokens: 12, BlockSize: 4, Threshold: 0.3}, []int{2, 2, 2}},
		{"temperature", [][]int32{{27, 1}, {26, 3, 3}}, SamplerConfig{MaxNewTokens: 8, Steps: 8, BlockSize: 4, Temperature: 0.8}, []int{2, 2}},
		{"guidance", [][]int32{{27, 1}, {26, 3, 3}}, SamplerConfig{MaxNewTokens: 8, Steps: 4, BlockSize: 4, CFGScale: 1.5}, []int{4, 4}},
		{"uneven last block", [][]int32{{27, 1}}, SamplerConfig{MaxNewTokens: 10, Steps: 10, BlockSize: 4}, []int{1, 1, 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := tc.cfg
			c.MaskID, c.PadID = mask, pad
			plain := hashModel(vocab, mask, pad, stopAt)
			want, err := Generate(plain, tc.prompts, c, NewRand(5))
			require.NoError(t, err)

			cached := &fakeCacher{fakeModel: hashModel(vocab, mask, pad, stopAt)}
			cached.quiet = false
			c.Cache = true
			got, err := Generate(cached, tc.prompts, c, NewRand(5))
			require.NoError(t, err)

			assert.Equal(t, want.Samples, got.Samples)
			assert.Equal(t, want.Steps, got.Steps)
			assert.Equal(t, want.ForwardPasses, got.ForwardPasses)
			assert.Zero(t, want.CachedPasses)
			var sizes []int
			copies := 1
			if c.CFGScale > 0 {
				copies = 2
			}
			for _, b := range cached.begins {
				sizes = append(sizes, b.batch)
			}
			assert.Equal(t, tc.blocks, sizes, "batch of each BeginBlock")
			assert.Len(t, cached.calls, len(cached.begins), "only BeginBlock runs full passes")
			assert.Equal(t, got.ForwardPasses-copies*len(cached.begins), got.CachedPasses)
			assert.Positive(t, got.CachedPasses)
			assert.Equal(t, len(cached.begins), cached.released, "every cache released")
		})
	}
}

// TestGenerateCacheBlocks checks what BeginBlock is told for a padded batch:
// each row's block starts at its own prompt's end plus whole blocks, all
// blocks are equally wide, and the padding is masked.
func TestGenerateCacheBlocks(t *testing.T) {
	const vocab, mask, pad = 30, 29, 28
	m := &fakeCacher{fakeModel: hashModel(vocab, mask, pad, nil)}
	prompts := [][]int32{{1, 2, 3, 4, 5}, {6}, {7, 8, 9}}
	c := SamplerConfig{MaxNewTokens: 10, Steps: 10, BlockSize: 4, MaskID: mask, PadID: pad, FullCanvas: true, Cache: true}
	_, err := Generate(m, prompts, c, NewRand(1))
	require.NoError(t, err)
	require.Len(t, m.begins, 3)
	for i, b := range m.begins {
		assert.Equal(t, 15, b.seqLen)
		assert.Equal(t, []int{5 + 4*i, 1 + 4*i, 3 + 4*i}, b.starts, "block %d", i)
		assert.Equal(t, min(4, 10-4*i), b.width, "block %d", i)
		require.Len(t, b.keyMask, 3*15)
		for r, p := range prompts {
			for s := range 15 {
				assert.Equal(t, s < len(p)+10, b.keyMask[r*15+s] == 1, "row %d position %d", r, s)
			}
		}
	}
}

// TestGenerateCacheErrors: Cache needs a BlockCacher, and a failing cached
// step fails the sampler and still releases the cache.
func TestGenerateCacheErrors(t *testing.T) {
	const vocab, mask, pad = 30, 29, 28
	c := SamplerConfig{MaxNewTokens: 8, Steps: 8, BlockSize: 4, MaskID: mask, PadID: pad, Cache: true}
	_, err := Generate(hashModel(vocab, mask, pad, nil), [][]int32{{1}}, c, NewRand(1))
	require.ErrorContains(t, err, "BlockCacher")

	boom := errors.New("boom")
	m := &fakeCacher{fakeModel: hashModel(vocab, mask, pad, nil), failStep: boom}
	_, err = Generate(m, [][]int32{{1}}, c, NewRand(1))
	require.ErrorIs(t, err, boom)
	assert.Len(t, m.begins, 1)
	assert.Equal(t, 1, m.released)
}

// TestInfillAndAncestralIgnoreCache: the samplers without blocks to cache
// run exactly as without Cache and never call BeginBlock.
func TestInfillAndAncestralIgnoreCache(t *testing.T) {
	const vocab, mask, pad = 30, 29, 28
	c := SamplerConfig{MaxNewTokens: 8, Steps: 8, BlockSize: 4, MaskID: mask, PadID: pad}
	texts := [][]int32{{1, mask, 3, mask, mask, 6}}
	prompts := [][]int32{{27, 1, 2}}
	wantInfill, err := Infill(hashModel(vocab, mask, pad, nil), texts, c, NewRand(2))
	require.NoError(t, err)
	wantAnc, err := Ancestral(hashModel(vocab, mask, pad, nil), prompts, c, NewRand(2))
	require.NoError(t, err)

	c.Cache = true
	m := &fakeCacher{fakeModel: hashModel(vocab, mask, pad, nil)}
	gotInfill, err := Infill(m, texts, c, NewRand(2))
	require.NoError(t, err)
	gotAnc, err := Ancestral(m, prompts, c, NewRand(2))
	require.NoError(t, err)
	assert.Equal(t, wantInfill, gotInfill)
	assert.Equal(t, wantAnc, gotAnc)
	assert.Empty(t, m.begins)
}
