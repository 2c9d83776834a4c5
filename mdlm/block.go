package mdlm

import (
	"fmt"
	"math/rand/v2"
	"slices"
)

// Generate continues each prompt with the block sampler of LLaDA and the dLLM
// framework. The canvas is the prompt followed by MaxNewTokens masks. The
// masks are cut into blocks of BlockSize, filled left to right; each block
// gets ceil(Steps/blocks) steps, and each step commits the best-ranked
// masked positions of the current block (the count from the schedule, or
// every position above Threshold with Fast-dLLM decoding). Only the current
// block's masks are ever candidates, so the model is asked for logits there
// and nowhere else.
//
// Rows of a batch may have different prompt lengths: each row's blocks start
// at its own prompt's end, and shorter rows are padded on the right with
// PadID, which the model is told not to attend to. Each row picks its own
// top-k.
//
// With Cache, the first step of each block runs the model through its
// BlockCacher and the block's later steps recompute only the block's
// positions (Fast-dLLM's DualCache; see BlockCacher).
func Generate(d Denoiser, prompts [][]int32, c SamplerConfig, rng *rand.Rand) (*Output, error) {
	c, err := c.withDefaults(d.VocabSize())
	if err != nil {
		return nil, err
	}
	if _, ok := d.(BlockCacher); c.Cache && !ok {
		return nil, fmt.Errorf("mdlm: Cache needs a model that implements BlockCacher; %T does not", d)
	}
	cv, err := newPromptCanvas(prompts, c.MaxNewTokens, c)
	if err != nil {
		return nil, err
	}
	blocks := (c.MaxNewTokens + c.BlockSize - 1) / c.BlockSize
	span := func(r, b int) (int, int) {
		lo := cv.lo[r] + b*c.BlockSize
		return lo, min(lo+c.BlockSize, cv.hi[r])
	}
	return runBlocks(d, cv, blocks, span, c, rng, true)
}

// Infill fills the masks of each text, wherever they are, and keeps every
// other token. The whole text is one block; Steps, Temperature, Remasking,
// Threshold and guidance work as in Generate (the unconditional copy masks
// every given token). Rows of different lengths are padded with PadID. It
// never stops early and returns no Answer. Cache is ignored: the block is the
// whole text, so nothing lies outside it.
func Infill(d Denoiser, texts [][]int32, c SamplerConfig, rng *rand.Rand) (*Output, error) {
	c, err := c.withDefaults(d.VocabSize())
	if err != nil {
		return nil, err
	}
	c.Cache = false
	cv, err := newInfillCanvas(texts, c)
	if err != nil {
		return nil, err
	}
	span := func(r, _ int) (int, int) { return 0, cv.hi[r] }
	return runBlocks(d, cv, 1, span, c, rng, false)
}

// runBlocks is the block loop shared by Generate and Infill; span gives the
// positions [lo, hi) of block b in row r.
func runBlocks(d Denoiser, cv *canvas, blocks int, span func(r, b int) (int, int), c SamplerConfig, rng *rand.Rand, answers bool) (*Output, error) {
	streams, err := rowStreams(rng, len(cv.rows), c.StreamOffset)
	if err != nil {
		return nil, err
	}
	ls := newLogitSource(d, c)
	defer ls.release() // the last step's logits go back to the model
	defer ls.endBlock()
	random := c.Temperature > 0 || c.Remasking == RandomRemasking
	perBlock := (c.Steps + blocks - 1) / blocks

	// Plan the transfer counts up front (every mask of a block is there when
	// the block starts), which also gives the trace its step count.
	counts := make([][][]int, blocks) // [block][row] -> count per step
	maxSteps := 0
	for b := range blocks {
		longest := 0
		for r := range cv.rows {
			lo, hi := span(r, b)
			n := len(cv.masksIn(r, lo, hi, c.MaskID))
			if c.Threshold > 0 {
				longest = max(longest, n) // at least one per step
				continue
			}
			counts[b] = append(counts[b], transferCounts(n, perBlock, c.Schedule, c.StochasticTransfer, streams[r]))
			longest = max(longest, len(counts[b][r]))
		}
		maxSteps += longest
	}
	cv.emit(c, 0, maxSteps, nil)

	steps := 0
	for b := range blocks {
		for j := 0; !cv.allDone(); j++ {
			var q request
			want := make([]int, len(cv.rows))
			for r := range cv.rows {
				if cv.done[r] {
					continue
				}
				lo, hi := span(r, b)
				if c.Threshold > 0 {
					q.add(r, cv.masksIn(r, lo, hi, c.MaskID))
				} else if j < len(counts[b][r]) {
					want[r] = counts[b][r][j]
					q.add(r, cv.masksIn(r, lo, hi, c.MaskID))
				}
			}
			if len(q.rows) == 0 {
				break
			}
			logits, err := ls.stepLogits(cv, &q, j == 0, func(r int) (int, int) { return span(r, b) })
			if err != nil {
				return nil, err
			}
			steps++
			seeds := noiseSeeds(&q, streams, random)
			picks, err := pickRows(logits, q.size(), c.Temperature, c.Remasking, seeds, c.Truncation)
			if err != nil {
				return nil, err
			}
			revealed := make([][]int, len(cv.rows))
			off := 0
			for i, r := range q.rows {
				pos := q.pos[i]
				cands := rankForReveal(pos, picks[off:off+len(pos)], c.algTemp(), streams[r])
				off += len(pos)
				k := want[r]
				if c.Threshold > 0 {
					k = 1
					for k < len(cands) && cands[k].conf >= c.Threshold {
						k++
					}
				}
				for _, cd := range cands[:k] {
					cv.rows[r][cd.pos] = cd.tok
					revealed[r] = append(revealed[r], cd.pos)
				}
				slices.Sort(revealed[r])
			}
			cv.checkStop(c)
			cv.emit(c, steps, maxSteps, revealed)
		}
		ls.endBlock()
	}
	out := cv.output(c, steps, ls.passes, answers)
	out.CachedPasses = ls.cachedPasses
	return out, nil
}
