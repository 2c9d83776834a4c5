package bd3lm

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sort"

	"github.com/dllmgo/dllm/lm"
	"github.com/dllmgo/dllm/mdlm"
	"github.com/dllmgo/dllm/nn"
	"github.com/dllmgo/dllm/tensor"
)

// BlockCacher is a model that can keep the keys and values of a prefix
// computed under an attention pattern and run a block's steps against them
// (bert.Model.BeginMaskedBlock).
type BlockCacher interface {
	BeginMaskedBlock(ids []int32, batch, seqLen int, mask *lm.AttentionMask, keyMask []int32, starts []int, width int, rows []int32) (mdlm.BlockCache, []float32, error)
}

// Generate samples answers to prompts block by block (the package
// documentation's sampler). From c it uses MaxNewTokens (an upper bound:
// sampling stops after the first block in which every row has produced
// eos), BlockSize (the model's training block size), Steps (over all
// blocks: each block gets ⌈Steps/blocks⌉, steps that would reveal nothing
// dropped), Temperature, Remasking, Threshold, CFGScale, SuppressTokens,
// MaskID, PadID, StopSequences, Cache and Trace. eos is the model's
// end-of-text token.
//
// Threshold > 0 (Fast-dLLM's parallel decoding, which the reference's BD3LM
// sampler lacks) commits, at each step of a block, every masked position
// whose confidence is at least Threshold and always the best one, until the
// block is full; Steps is then unused. CFGScale > 0 adds classifier-free
// guidance as the reference does: a second canvas whose prompt tokens are
// masks (the generated blocks are not), run alongside with its own prefix
// cache, and the logits un + (CFGScale+1)·(cond − un).
//
// The prompts are padded on the left to a common length that is a multiple
// of the block size, so that the blocks of every row start together. Each
// block appends its masks to every row and is denoised with the
// block-causal mask (a token sees every real token of its own and earlier
// blocks). With c.Cache and a BlockCacher model, the prefix's keys and
// values are computed once per block, at the block's first step, and the
// later steps run the block's tokens only: exact, because the prefix never
// sees the block. The random stream is consumed the same way either way, so
// cached and uncached sampling give the same tokens for a seed.
//
// By default the prefix cache grows block by block (SampleOptions explains how,
// and GenerateWith takes the reference's rebuild instead).
func Generate(m lm.Model, prompts [][]int32, c mdlm.SamplerConfig, eos int32, rng *rand.Rand) (*mdlm.Output, error) {
	return GenerateWith(m, prompts, c, eos, rng, SampleOptions{})
}

// Advancer is a block cache that can take its block as finished and move on
// to the next block, appended after it (bert.BlockCache.Advance): ids is
// the batch in the cache's current layout with the block's tokens
// committed, width the next block's size and keyMask the key mask of the
// grown batch.
type Advancer interface {
	Advance(ids []int32, width int, keyMask []int32) error
}

// SampleOptions are the sampler's choices beyond mdlm.SamplerConfig.
type SampleOptions struct {
	// Rebuild recomputes the prefix cache from the whole prefix at the first
	// step of every block, as the reference's sampler does. Without it (the
	// default), a cache that is an Advancer is kept from block to block:
	// when a block is finished, one cached pass over its committed tokens,
	// against the cached prefix, appends their keys and values, and the next
	// block's first step is a cached step too. Under the block-causal mask
	// the finished block's keys and values depend only on the prefix and
	// the block, which is exactly what that pass sees, so both ways compute
	// the same numbers, up to float rounding (the cached attention is
	// composed from other kernels than the fused one); the time per block
	// no longer grows with the prefix. Rebuild is the reference-exact mode
	// for checking that.
	Rebuild bool
}

// GenerateWith is Generate with the options o.
func GenerateWith(m lm.Model, prompts [][]int32, c mdlm.SamplerConfig, eos int32, rng *rand.Rand, o SampleOptions) (*mdlm.Output, error) {
	bs, maxNew, steps := c.BlockSize, c.MaxNewTokens, c.Steps
	if bs <= 0 {
		bs = DefaultBlockSize
	}
	if maxNew <= 0 {
		maxNew = mdlm.DefaultMaxNewTokens
	}
	if steps <= 0 {
		steps = mdlm.DefaultSteps
	}
	vocab := m.VocabSize()
	switch {
	case len(prompts) == 0:
		return &mdlm.Output{}, nil
	case m.Spec().ShiftLogits:
		return nil, fmt.Errorf("bd3lm: the sampler does not shift logits yet (a %s model predicts the next position)", m.Spec().Family)
	case !(c.Threshold >= 0 && c.Threshold <= 1):
		return nil, fmt.Errorf("bd3lm: threshold %v outside [0, 1]", c.Threshold)
	case c.Threshold > 0 && c.Remasking != mdlm.LowConfidence:
		return nil, fmt.Errorf("bd3lm: threshold decoding ranks by confidence; random remasking does not apply")
	case !(c.CFGScale >= 0) || math.IsInf(c.CFGScale, 0):
		return nil, fmt.Errorf("bd3lm: cfg scale %v", c.CFGScale)
	case c.Temperature < 0 || math.IsNaN(c.Temperature):
		return nil, fmt.Errorf("bd3lm: temperature %v", c.Temperature)
	case eos < 0 || int(eos) >= vocab || c.MaskID < 0 || int(c.MaskID) >= vocab:
		return nil, fmt.Errorf("bd3lm: eos %d or mask %d outside the vocabulary of %d", eos, c.MaskID, vocab)
	}
	cacher, _ := m.(BlockCacher)
	if !c.Cache {
		cacher = nil
	}
	if _, ok := m.(lm.MaskAttender); !ok && cacher == nil {
		return nil, fmt.Errorf("bd3lm: the %s model takes no attention mask", m.Spec().Family)
	}
	suppress := append([]int32{c.MaskID}, c.SuppressTokens...)

	// The canvas: rows of equal length, prompts right-aligned to a block
	// boundary, pads (never queries or keys) on the left.
	longest := 0
	for _, p := range prompts {
		longest = max(longest, len(p))
	}
	batch, start := len(prompts), Blocks(longest, bs)*bs
	rows := make([][]int32, batch)
	for r, p := range prompts {
		rows[r] = append(slices.Repeat([]int32{c.PadID}, start-len(p)), p...)
	}
	guided := c.CFGScale > 0
	var unRows [][]int32 // the unconditional canvas (guidance): the prompts masked
	if guided {
		unRows = make([][]int32, batch)
		for r, p := range prompts {
			unRows[r] = append(slices.Repeat([]int32{c.PadID}, start-len(p)), slices.Repeat([]int32{c.MaskID}, len(p))...)
		}
	}
	nb := Blocks(maxNew, bs)
	perBlock := (steps + nb - 1) / nb
	out := &mdlm.Output{}
	done := make([]bool, batch)
	// The prefix caches (the conditional canvas's, the unconditional
	// one's), and the ids each was last run on: with Rebuild, or a cache
	// that cannot advance, they live for one block.
	var caches [2]mdlm.BlockCache
	var last [2][]int32
	release := func() {
		for i, ch := range caches {
			if ch != nil {
				ch.Release()
			}
			caches[i] = nil
		}
	}
	defer release()
	for blk := range nb {
		w := min(bs, maxNew-blk*bs)
		lo := len(rows[0])
		for r := range rows {
			rows[r] = append(rows[r], slices.Repeat([]int32{c.MaskID}, w)...)
			if guided {
				unRows[r] = append(unRows[r], slices.Repeat([]int32{c.MaskID}, w)...)
			}
		}
		n := lo + w
		flat := func(rs [][]int32) []int32 {
			ids := make([]int32, 0, batch*n)
			for _, row := range rs {
				ids = append(ids, row...)
			}
			return ids
		}
		ids := flat(rows)
		var unIDs []int32
		if guided {
			unIDs = flat(unRows)
		}
		mask, keys := blockCausal(batch, n, bs, start, prompts)
		if denseForTest {
			mask = denseBlockCausal(batch, n, bs, keys)
		}
		want := make([]int32, 0, batch*w) // the block's rows
		for r := range batch {
			for t := range w {
				want = append(want, int32(r*n+lo+t))
			}
		}
		// logitsOf runs one canvas (which = 0 conditional, 1 unconditional)
		// at step j.
		logitsOf := func(which, j int, x []int32) ([]float32, error) {
			switch {
			case cacher != nil && j == 0 && caches[which] != nil:
				// The cache of the block before, kept: append that block.
				if err := caches[which].(Advancer).Advance(last[which], w, keys); err != nil {
					return nil, err
				}
				out.ForwardPasses++ // the finished block's pass, then this step's
				out.CachedPasses += 2
				return caches[which].Logits(x, want)
			case cacher != nil && j == 0:
				var logits []float32
				var err error
				caches[which], logits, err = cacher.BeginMaskedBlock(x, batch, n, mask, keys, slices.Repeat([]int{lo}, batch), w, want)
				return logits, err
			case cacher != nil:
				out.CachedPasses++
				return caches[which].Logits(x, want)
			}
			return forward(m, x, batch, n, mask, keys, want)
		}
		var counts []int
		if c.Threshold == 0 {
			counts = transferCounts(w, perBlock, c.Schedule)
		}
		for j := 0; ; j++ {
			k := 0 // reveals per row this step (threshold decoding: decided per row)
			if c.Threshold == 0 {
				if j == len(counts) {
					break
				}
				k = counts[j]
			} else if !anyMasked(rows, lo, c.MaskID) {
				break
			}
			logits, err := logitsOf(0, j, ids)
			if err == nil && guided {
				var un []float32
				un, err = logitsOf(1, j, unIDs)
				if err == nil {
					guide(logits, un, c.CFGScale)
				}
				out.ForwardPasses++
			}
			if err != nil {
				return nil, err
			}
			out.ForwardPasses++
			out.Steps++
			for r := range batch {
				revealed, err := commit(rows[r][lo:], logits[r*w*vocab:(r+1)*w*vocab], vocab, k, c, suppress, rng)
				if err != nil {
					return nil, err
				}
				copy(ids[r*n+lo:], rows[r][lo:])
				if guided {
					copy(unRows[r][lo:], rows[r][lo:])
					copy(unIDs[r*n+lo:], rows[r][lo:])
				}
				if c.Trace != nil {
					for i := range revealed {
						revealed[i] += lo - (start - len(prompts[r]))
					}
					total := nb * perBlock
					if c.Threshold > 0 {
						total = out.Steps + countMasked(rows, lo, c.MaskID)
					}
					c.Trace(frame(rows[r][start-len(prompts[r]):], len(prompts[r]), out.Steps, total, r, revealed, maxNew, c.MaskID))
				}
			}
		}
		last = [2][]int32{ids, unIDs}
		if _, ok := caches[0].(Advancer); o.Rebuild || !ok {
			release()
		}
		for r := range batch {
			done[r] = done[r] || slices.Contains(rows[r][lo:], eos)
		}
		if !slices.Contains(done, false) {
			break
		}
	}
	stops := append(slices.Clone(c.StopSequences), []int32{eos})
	for r, p := range prompts {
		canvas := rows[r][start-len(p):]
		answer, stopped := mdlm.CutAnswer(canvas[len(p):], c.PadID, stops)
		out.Samples = append(out.Samples, mdlm.Sample{Canvas: canvas, PromptLen: len(p), Answer: answer, Stopped: stopped})
	}
	return out, nil
}

// blockCausal is the sampling mask of a canvas of batch rows of n tokens
// whose generated blocks start at start (a multiple of bs), as structure: a
// query may see a key iff the key's block is not after the query's, blocks
// counted from the canvas's first position (tensor.BlockPattern with Half
// 0), and the key is a real token, not the left padding (keys, the key
// mask). The prompts' blocks thus see each other block-causally too, as in
// training. The padding's own rows see keys too, but nothing reads them.
func blockCausal(batch, n, bs, start int, prompts [][]int32) (*lm.AttentionMask, []int32) {
	keys := make([]int32, batch*n)
	for r := range batch {
		for k := start - len(prompts[r]); k < n; k++ { // from the row's first real token
			keys[r*n+k] = 1
		}
	}
	return &lm.AttentionMask{Blocks: tensor.BlockPattern{Size: bs}, Rows: batch}, keys
}

// denseForTest makes Generate hand the model blockCausal's pattern as a
// dense matrix (denseBlockCausal) instead of as structure: the reference
// the tests hold the fused kernels' sampling to.
var denseForTest bool

// denseBlockCausal is blockCausal's pattern as a dense [batch·n·n] matrix,
// padding neither query nor key.
func denseBlockCausal(batch, n, bs int, keys []int32) *lm.AttentionMask {
	allow := make([]bool, batch*n*n)
	for r := range batch {
		for q := range n {
			for k := 0; k < n && k/bs <= q/bs; k++ {
				allow[(r*n+q)*n+k] = keys[r*n+q] == 1 && keys[r*n+k] == 1
			}
		}
	}
	return &lm.AttentionMask{Allow: allow, Rows: batch}
}

// forward is one uncached step: the model on the whole canvas under the
// mask (keys the key padding), logits at the block's rows.
func forward(m lm.Model, ids []int32, batch, n int, mask *lm.AttentionMask, keys, rows []int32) ([]float32, error) {
	be := m.Backend()
	o := m.Forward(nn.NoGrad(be), lm.Input{
		IDs:     be.FromHost(tensor.FromI32(ids, batch, n)),
		KeyMask: be.FromHost(tensor.FromI32(keys, batch, n)),
		Rows:    be.FromHost(tensor.FromI32(rows, len(rows))),
		Mask:    mask,
	})
	return o.Logits.Value.ToCPU().F32(), nil
}

// anyMasked reports whether some row still has a mask from lo on.
func anyMasked(rows [][]int32, lo int, maskID int32) bool { return countMasked(rows, lo, maskID) > 0 }

// countMasked is the largest number of masks from lo on in a row.
func countMasked(rows [][]int32, lo int, maskID int32) int {
	most := 0
	for _, row := range rows {
		n := 0
		for _, id := range row[lo:] {
			if id == maskID {
				n++
			}
		}
		most = max(most, n)
	}
	return most
}

// guide turns the conditional logits cond into classifier-free guidance's
// un + (scale+1)·(cond − un), in place.
func guide(cond, un []float32, scale float64) {
	for i, c := range cond {
		u := float64(un[i])
		cond[i] = float32(u + (scale+1)*(float64(c)-u))
	}
}

// transferCounts is the reference's count plan for one block (the same
// get_num_transfer_tokens as the MDLM sampler, with the sampler's noise
// schedule, linear unless set): ratios in float32, halves rounded to even,
// steps that would reveal nothing dropped.
func transferCounts(n, steps int, sched mdlm.Schedule) []int {
	if sched == nil {
		sched = mdlm.Linear{}
	}
	return mdlm.TransferCounts(n, steps, sched)
}

// commit picks a token at every masked position of block (a row's block,
// logits [len(block), vocab]) and commits the k best by confidence (the
// picked token's probability, or a uniform draw for random remasking); with
// c.Threshold > 0, the best one and every other whose confidence is at
// least the threshold. It returns the committed offsets. The draws follow the block's positions in
// order, so they do not depend on how the logits were computed.
func commit(block []int32, logits []float32, vocab, k int, c mdlm.SamplerConfig, suppress []int32, rng *rand.Rand) ([]int, error) {
	type cand struct {
		pos  int
		tok  int32
		conf float64
	}
	var cands []cand
	l := make([]float64, vocab)
	for i, id := range block {
		if id != c.MaskID {
			continue
		}
		for v := range vocab {
			l[v] = float64(logits[i*vocab+v])
		}
		for _, s := range suppress {
			l[s] = math.Inf(-1)
		}
		tok, conf, err := pick(l, c.Temperature, rng)
		if err != nil {
			return nil, err
		}
		if c.Remasking == mdlm.RandomRemasking {
			conf = rng.Float64()
		}
		cands = append(cands, cand{i, tok, conf})
	}
	sort.SliceStable(cands, func(a, b int) bool { return cands[a].conf > cands[b].conf })
	if c.Threshold > 0 && len(cands) > 0 {
		k = 1
		for k < len(cands) && cands[k].conf >= c.Threshold {
			k++
		}
	}
	var revealed []int
	for _, x := range cands[:min(k, len(cands))] {
		block[x.pos] = x.tok
		revealed = append(revealed, x.pos)
	}
	sort.Ints(revealed)
	return revealed, nil
}

// pick is the token at temperature temp (0: the argmax; else Gumbel-max in
// float64, argmax of l/T + Gumbel noise) and its noise-free probability.
func pick(l []float64, temp float64, rng *rand.Rand) (int32, float64, error) {
	m := math.Inf(-1)
	for _, x := range l {
		if math.IsNaN(x) {
			return 0, 0, fmt.Errorf("bd3lm: the model returned a NaN logit")
		}
		m = max(m, x)
	}
	if math.IsInf(m, 0) {
		return 0, 0, fmt.Errorf("bd3lm: no token has a finite logit")
	}
	best, bestScore, sum := 0, math.Inf(-1), 0.0
	for v, x := range l {
		sum += math.Exp(x - m)
		score := x
		if temp > 0 {
			score = (x-m)/temp - math.Log(-math.Log(1-rng.Float64()))
		}
		if score > bestScore {
			best, bestScore = v, score
		}
	}
	return int32(best), math.Exp(l[best]-m) / sum, nil
}

// frame is the trace of one row after a step.
func frame(canvas []int32, promptLen, step, maxSteps, row int, revealed []int, total int, maskID int32) mdlm.Frame {
	masked := 0
	for _, id := range canvas[promptLen:] {
		if id == maskID {
			masked++
		}
	}
	return mdlm.Frame{Step: step, MaxSteps: maxSteps, Row: row, Canvas: slices.Clone(canvas), PromptLen: promptLen,
		Revealed: revealed, Masked: masked + total - (len(canvas) - promptLen), Total: total, MaskID: maskID}
}
