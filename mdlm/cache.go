package mdlm

import (
	"fmt"
	"slices"
)

// Block caching (Fast-dLLM's DualCache).
//
// The block sampler changes only the active block's tokens during that
// block's steps, yet every step asks the model about the whole canvas.
// Fast-dLLM (Wu et al. 2025) observes that the keys and values of positions
// outside the active block barely move during those steps, so a model may
// compute them once, at the block's first step, and afterwards recompute the
// block's positions only, attending to the remembered keys and values outside
// it. That is an approximation by design (outside positions see the block's
// new tokens only at the next block's first step); the first step of every
// block is exact.
//
// A Denoiser opts in by implementing BlockCacher. The samplers use it only
// when SamplerConfig.Cache asks for it.

// BlockCacher is a Denoiser that can run the steps of one block from a cache.
type BlockCacher interface {
	Denoiser
	// BeginBlock evaluates the batch exactly as Logits does and returns the
	// logits at rows, together with a cache for the block's later steps.
	// The block of sequence b is positions [starts[b], starts[b]+width);
	// they must be real tokens (keyMask 1). The cache holds device memory
	// until Release.
	BeginBlock(ids []int32, batch, seqLen int, keyMask []int32, starts []int, width int, rows []int32) (BlockCache, []float32, error)
}

// BlockCache evaluates the model for one batch during one block.
type BlockCache interface {
	// Logits returns len(rows)×VocabSize() logits for the current ids
	// (the same batch×seqLen layout as BeginBlock's). Only the tokens inside
	// the blocks are read: everything outside them is what BeginBlock saw.
	// Every row must lie inside its sequence's block.
	Logits(ids, rows []int32) ([]float32, error)
	// Release frees the cache; it may not be used afterwards.
	Release()
}

// blockCache is the cache of the block in progress and the canvas rows it
// was built for, in batch order. A row that finishes during the block stays
// in the batch (the cache's shapes are fixed) but is asked for nothing.
type blockCache struct {
	c    BlockCache
	rows []int
}

// stepLogits is eval for step j of a block; with a cacher, the block's first
// step builds the block's cache and the later ones use it. span gives the
// block of a canvas row. Every row still running asks for its block at the
// first step (the whole block is masked then), so the cache covers every row
// the later steps ask about.
func (ls *logitSource) stepLogits(cv *canvas, q *request, first bool, span func(r int) (int, int)) (logitRows, error) {
	if ls.cacher == nil || !first {
		return ls.eval(cv, q)
	}
	starts, width, err := blockStarts(q, span)
	if err != nil {
		return logitRows{}, err
	}
	return ls.beginBlock(cv, q, starts, width)
}

// beginBlock runs the first step of a block through the model's BlockCacher
// and keeps the cache for eval. starts[i] is the block start of canvas row
// q.rows[i]; every row's block is width wide.
func (ls *logitSource) beginBlock(cv *canvas, q *request, starts []int, width int) (logitRows, error) {
	ls.endBlock()
	in := ls.input(cv, q.rows, q)
	all := make([]int, 0, in.copies*len(starts))
	for range in.copies {
		all = append(all, starts...) // the unconditional copies have the same blocks
	}
	ls.release()
	bc, raw, err := ls.cacher.BeginBlock(in.ids, in.batch, cv.width, cv.keyMask(q.rows, in.copies), all, width, in.flat)
	if err != nil {
		return logitRows{}, err
	}
	ls.cache = &blockCache{c: bc, rows: q.rows}
	ls.passes += in.copies
	return ls.take(raw, len(in.flat))
}

// evalCached is eval through the cache of the block in progress.
func (ls *logitSource) evalCached(cv *canvas, q *request) (logitRows, error) {
	for _, r := range q.rows {
		if !slices.Contains(ls.cache.rows, r) {
			return logitRows{}, fmt.Errorf("mdlm: row %d asks for logits but is not in the block's cache", r)
		}
	}
	in := ls.input(cv, ls.cache.rows, q)
	ls.release()
	raw, err := ls.cache.c.Logits(in.ids, in.flat)
	if err != nil {
		return logitRows{}, err
	}
	ls.passes += in.copies
	ls.cachedPasses += in.copies
	return ls.take(raw, len(in.flat))
}

// endBlock releases the cache of the block in progress, if any.
func (ls *logitSource) endBlock() {
	if ls.cache != nil {
		ls.cache.c.Release()
		ls.cache = nil
	}
}

// blockStarts returns the block start of each requested row and the common
// block width, as span gives them.
func blockStarts(q *request, span func(r int) (int, int)) ([]int, int, error) {
	starts := make([]int, len(q.rows))
	width := -1
	for i, r := range q.rows {
		lo, hi := span(r)
		if width >= 0 && hi-lo != width {
			return nil, 0, fmt.Errorf("mdlm: block cache needs blocks of one width, got %d and %d", width, hi-lo)
		}
		starts[i], width = lo, hi-lo
	}
	return starts, width, nil
}
