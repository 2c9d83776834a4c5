package mdlm

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
)

// Remasking decides which masked positions of the current block a step
// commits: the ones the model is most sure of, or random ones.
type Remasking int

const (
	// LowConfidence commits the positions whose predicted token has the
	// highest (noise-free) softmax probability; the others stay masked.
	LowConfidence Remasking = iota
	// RandomRemasking commits uniformly random positions.
	RandomRemasking
)

// String returns the reference's spelling.
func (r Remasking) String() string {
	switch r {
	case LowConfidence:
		return "low_confidence"
	case RandomRemasking:
		return "random"
	}
	return fmt.Sprintf("Remasking(%d)", int(r))
}

// ParseRemasking reads "low_confidence" or "random".
func ParseRemasking(name string) (Remasking, error) {
	for _, r := range []Remasking{LowConfidence, RandomRemasking} {
		if name == r.String() {
			return r, nil
		}
	}
	return 0, fmt.Errorf("mdlm: unknown remasking %q (want low_confidence or random)", name)
}

// SamplerConfig configures Generate, Infill and Ancestral. Zero sizes take
// the defaults of DefaultSamplerConfig; MaskID and PadID must always be set.
type SamplerConfig struct {
	// MaxNewTokens is the number of [MASK]s appended to the prompt (128).
	MaxNewTokens int
	// Steps is the total number of denoising steps over all blocks (128);
	// each block gets ceil(Steps/blocks). Steps that would reveal nothing are
	// skipped, as the model has no time input. Threshold decoding ignores it.
	Steps int
	// BlockSize is the width of the blocks filled left to right (32).
	// Ancestral and Infill use a single block.
	BlockSize int
	// Temperature > 0 samples each token from softmax(logits/T) by Gumbel-max
	// in float64; 0 takes the argmax.
	Temperature float64
	// Remasking ranks the candidates of a step.
	Remasking Remasking
	// Schedule sets the per-step transfer counts (nil: Linear, which reveals
	// round(remaining / steps left) per step).
	Schedule Schedule
	// StochasticTransfer draws each step's count from
	// Binomial(remaining, 1 - (1-α(s))/(1-α(t))) instead of rounding its mean.
	StochasticTransfer bool
	// Threshold > 0 switches Generate and Infill to Fast-dLLM parallel
	// decoding: each step commits every masked position of the block whose
	// confidence is at least Threshold, and always at least the best one.
	Threshold float64
	// CFGScale > 0 applies classifier-free guidance: the model also sees a
	// copy with the prompt (every given token) masked, and the logits become
	// un + (CFGScale+1)·(cond - un).
	CFGScale float64
	// SuppressTokens can never be generated. The mask id is always
	// suppressed (MDLM's "zero masking probabilities").
	SuppressTokens []int32
	// MaskID is the [MASK] token; PadID fills the canvas to a rectangle and
	// ends an answer.
	MaskID, PadID int32
	// StopSequences end an answer like PadID does: the answer is cut where
	// the first of them begins. "[/Answer]" is plain text, so pass its token
	// ids (and any other tokenisation the model may produce).
	StopSequences [][]int32
	// FullCanvas keeps sampling after every row's answer has ended. By
	// default a row stops once its committed prefix contains [PAD] or a stop
	// sequence: later tokens would be cut anyway, and committed tokens never
	// change, so the answer is the same with fewer steps.
	FullCanvas bool
	// Trace, if set, receives one Frame per row before the first step and
	// after each step.
	Trace TraceFunc
}

// Default sampler settings of the BERT-chat recipe.
const (
	DefaultMaxNewTokens = 128
	DefaultSteps        = 128
	DefaultBlockSize    = 32
)

// DefaultSamplerConfig returns the chat defaults: 128 new tokens, 128 steps,
// blocks of 32, temperature 0, low-confidence remasking.
func DefaultSamplerConfig(maskID, padID int32) SamplerConfig {
	return SamplerConfig{
		MaxNewTokens: DefaultMaxNewTokens,
		Steps:        DefaultSteps,
		BlockSize:    DefaultBlockSize,
		MaskID:       maskID,
		PadID:        padID,
	}
}

func (c SamplerConfig) withDefaults(vocab int) (SamplerConfig, error) {
	if c.MaxNewTokens == 0 {
		c.MaxNewTokens = DefaultMaxNewTokens
	}
	if c.Steps == 0 {
		c.Steps = DefaultSteps
	}
	if c.BlockSize == 0 {
		c.BlockSize = DefaultBlockSize
	}
	if c.Schedule == nil {
		c.Schedule = Linear{}
	}
	inVocab := func(id int32) bool { return id >= 0 && int(id) < vocab }
	switch {
	case vocab <= 0:
		return c, fmt.Errorf("mdlm: model reports vocabulary size %d", vocab)
	case c.MaxNewTokens < 0 || c.Steps < 0 || c.BlockSize < 0:
		return c, fmt.Errorf("mdlm: negative size (max new tokens %d, steps %d, block size %d)", c.MaxNewTokens, c.Steps, c.BlockSize)
	case !(c.Temperature >= 0) || math.IsInf(c.Temperature, 0):
		return c, fmt.Errorf("mdlm: temperature %v", c.Temperature)
	case !(c.Threshold >= 0 && c.Threshold <= 1):
		return c, fmt.Errorf("mdlm: threshold %v outside [0, 1]", c.Threshold)
	case !(c.CFGScale >= 0) || math.IsInf(c.CFGScale, 0):
		return c, fmt.Errorf("mdlm: cfg scale %v", c.CFGScale)
	case c.Remasking != LowConfidence && c.Remasking != RandomRemasking:
		return c, fmt.Errorf("mdlm: unknown remasking %d", c.Remasking)
	case c.Threshold > 0 && c.Remasking == RandomRemasking:
		return c, fmt.Errorf("mdlm: threshold decoding ranks by confidence; it cannot use random remasking")
	case !inVocab(c.MaskID) || !inVocab(c.PadID):
		return c, fmt.Errorf("mdlm: mask id %d or pad id %d outside vocabulary of %d", c.MaskID, c.PadID, vocab)
	case c.MaskID == c.PadID:
		return c, fmt.Errorf("mdlm: mask id and pad id are both %d", c.MaskID)
	}
	for _, id := range c.SuppressTokens {
		if !inVocab(id) {
			return c, fmt.Errorf("mdlm: suppressed token %d outside vocabulary of %d", id, vocab)
		}
	}
	for _, seq := range c.StopSequences {
		if len(seq) == 0 {
			return c, fmt.Errorf("mdlm: empty stop sequence")
		}
	}
	return c, nil
}

// Output is what a sampler returns for a batch.
type Output struct {
	// Samples holds one entry per input row, in order.
	Samples []Sample
	// Steps counts the denoising steps taken; ForwardPasses the model
	// evaluations of the batch (a guided step counts two: the conditional
	// and the unconditional copy).
	Steps, ForwardPasses int
}

// Sample is one row's result.
type Sample struct {
	// Canvas is the row's final canvas: the prompt followed by the generated
	// region (for Infill, the filled input). After an early stop, positions
	// past the end of the answer may still hold the mask id.
	Canvas []int32
	// PromptLen is the number of leading prompt tokens of Canvas.
	PromptLen int
	// Answer is the generated region cut at the first [PAD] or stop
	// sequence (nil for Infill).
	Answer []int32
	// Stopped reports that the answer ended (with [PAD] or a stop sequence)
	// inside the generated region.
	Stopped bool
}

// Frame is a snapshot of one row after a denoising step, for visualisation.
type Frame struct {
	// Step is 0 for the initial canvas, then 1, 2, ... per step.
	Step int
	// MaxSteps is the planned number of steps (an upper bound for threshold
	// decoding and early stopping).
	MaxSteps int
	// Row is the row of the batch this frame shows.
	Row int
	// Canvas is a copy of the row's canvas (prompt and generated region).
	Canvas []int32
	// PromptLen is the number of leading prompt tokens of Canvas.
	PromptLen int
	// Revealed lists the canvas positions committed in this step.
	Revealed []int
	// Masked counts the masks left in the row; Total the masks it started with.
	Masked, Total int
	// MaskID identifies the masks in Canvas.
	MaskID int32
}

// TraceFunc receives frames as a sampler runs.
type TraceFunc func(Frame)

// CutAnswer returns the prefix of ids before the first padID or the first
// occurrence of any stop sequence, and whether it cut anything.
func CutAnswer(ids []int32, padID int32, stops [][]int32) ([]int32, bool) {
	for i := range ids {
		if ids[i] == padID {
			return ids[:i], true
		}
		for _, stop := range stops {
			if len(stop) > 0 && len(ids)-i >= len(stop) && slices.Equal(ids[i:i+len(stop)], stop) {
				return ids[:i], true
			}
		}
	}
	return ids, false
}

// canvas is the batch being denoised. Each row is padded with PadID to a
// common width; a row's generated region is [lo, hi).
type canvas struct {
	rows     [][]int32
	width    int
	lo, hi   []int    // generated region of each row
	given    [][]bool // positions the unconditional (CFG) copy masks
	total    []int    // masks per row at the start
	done     []bool   // row's answer has ended: no more steps for it
	stopping bool     // rows may end early (Generate, Ancestral)
}

// newPromptCanvas lays out prompt + maxNew masks per row, right-padded.
func newPromptCanvas(prompts [][]int32, maxNew int, c SamplerConfig) (*canvas, error) {
	if len(prompts) == 0 {
		return nil, fmt.Errorf("mdlm: no prompts")
	}
	width := 0
	for i, p := range prompts {
		if slices.Contains(p, c.MaskID) {
			return nil, fmt.Errorf("mdlm: prompt %d contains the mask id %d (use Infill to fill given masks)", i, c.MaskID)
		}
		width = max(width, len(p)+maxNew)
	}
	cv := &canvas{width: width, stopping: !c.FullCanvas}
	for _, p := range prompts {
		row := make([]int32, width)
		copy(row, p)
		for s := len(p); s < width; s++ {
			if s < len(p)+maxNew {
				row[s] = c.MaskID
			} else {
				row[s] = c.PadID
			}
		}
		given := make([]bool, width)
		for s := range p {
			given[s] = true
		}
		cv.rows = append(cv.rows, row)
		cv.lo = append(cv.lo, len(p))
		cv.hi = append(cv.hi, len(p)+maxNew)
		cv.given = append(cv.given, given)
		cv.total = append(cv.total, maxNew)
	}
	cv.done = make([]bool, len(prompts))
	return cv, nil
}

// newInfillCanvas takes texts with masks anywhere; every position is region.
func newInfillCanvas(texts [][]int32, c SamplerConfig) (*canvas, error) {
	if len(texts) == 0 {
		return nil, fmt.Errorf("mdlm: no inputs")
	}
	width := 0
	for i, t := range texts {
		if len(t) == 0 {
			return nil, fmt.Errorf("mdlm: input %d is empty", i)
		}
		width = max(width, len(t))
	}
	cv := &canvas{width: width}
	for _, t := range texts {
		row := make([]int32, width)
		copy(row, t)
		given := make([]bool, width)
		masks := 0
		for s := range row {
			switch {
			case s >= len(t):
				row[s] = c.PadID
			case t[s] == c.MaskID:
				masks++
			default:
				given[s] = true
			}
		}
		cv.rows = append(cv.rows, row)
		cv.lo = append(cv.lo, 0)
		cv.hi = append(cv.hi, len(t))
		cv.given = append(cv.given, given)
		cv.total = append(cv.total, masks)
	}
	cv.done = make([]bool, len(texts))
	return cv, nil
}

// masksIn lists the masked positions of row r in [lo, hi).
func (cv *canvas) masksIn(r, lo, hi int, maskID int32) []int {
	var pos []int
	for s := lo; s < hi; s++ {
		if cv.rows[r][s] == maskID {
			pos = append(pos, s)
		}
	}
	return pos
}

// checkStop marks rows whose committed answer prefix has ended.
func (cv *canvas) checkStop(c SamplerConfig) {
	if !cv.stopping {
		return
	}
	for r := range cv.rows {
		if cv.done[r] {
			continue
		}
		region := cv.rows[r][cv.lo[r]:cv.hi[r]]
		committed := region
		if i := slices.Index(region, c.MaskID); i >= 0 {
			committed = region[:i]
		}
		if _, cut := CutAnswer(committed, c.PadID, c.StopSequences); cut {
			cv.done[r] = true
		}
	}
}

func (cv *canvas) allDone() bool { return !slices.Contains(cv.done, false) }

// emit sends one frame per row to the trace.
func (cv *canvas) emit(c SamplerConfig, step, maxSteps int, revealed [][]int) {
	if c.Trace == nil {
		return
	}
	for r, row := range cv.rows {
		f := Frame{
			Step:      step,
			MaxSteps:  maxSteps,
			Row:       r,
			Canvas:    slices.Clone(row[:cv.hi[r]]),
			PromptLen: cv.lo[r],
			Total:     cv.total[r],
			MaskID:    c.MaskID,
		}
		if revealed != nil {
			f.Revealed = slices.Clone(revealed[r])
		}
		for _, id := range f.Canvas {
			if id == c.MaskID {
				f.Masked++
			}
		}
		c.Trace(f)
	}
}

func (cv *canvas) output(c SamplerConfig, steps, passes int, answers bool) *Output {
	out := &Output{Steps: steps, ForwardPasses: passes}
	for r, row := range cv.rows {
		s := Sample{Canvas: slices.Clone(row[:cv.hi[r]]), PromptLen: cv.lo[r]}
		if answers {
			region := s.Canvas[cv.lo[r]:]
			s.Answer, s.Stopped = CutAnswer(region, c.PadID, c.StopSequences)
			s.Answer = slices.Clone(s.Answer)
		}
		out.Samples = append(out.Samples, s)
	}
	return out
}

// request is the set of positions whose logits one step needs.
type request struct {
	rows []int   // canvas rows, increasing
	pos  [][]int // positions per requested row
}

func (q *request) add(r int, pos []int) {
	if len(pos) > 0 {
		q.rows = append(q.rows, r)
		q.pos = append(q.pos, pos)
	}
}

func (q *request) size() int {
	n := 0
	for _, p := range q.pos {
		n += len(p)
	}
	return n
}

// logitSource evaluates the model at requested positions, with guidance and
// suppression applied, in float64.
type logitSource struct {
	d      Denoiser
	vocab  int
	maskID int32
	cfg    float64
	banned []int32
	passes int
}

func newLogitSource(d Denoiser, c SamplerConfig) *logitSource {
	banned := append([]int32{c.MaskID}, c.SuppressTokens...)
	return &logitSource{d: d, vocab: d.VocabSize(), maskID: c.MaskID, cfg: c.CFGScale, banned: banned}
}

// eval returns q.size() rows of vocab logits, in request order. Only the
// requested canvas rows are sent to the model.
func (ls *logitSource) eval(cv *canvas, q *request) ([]float64, error) {
	n := len(q.rows)
	w := cv.width
	copies := 1
	if ls.cfg > 0 {
		copies = 2
	}
	ids := make([]int32, copies*n*w)
	var flat []int32
	for i, r := range q.rows {
		copy(ids[i*w:], cv.rows[r])
		for _, s := range q.pos[i] {
			flat = append(flat, int32(i*w+s))
		}
	}
	if copies == 2 {
		// The unconditional copy: the same canvases with every given token
		// masked, asked for the same positions.
		for i, r := range q.rows {
			un := ids[(n+i)*w : (n+i+1)*w]
			copy(un, cv.rows[r])
			for s, g := range cv.given[r] {
				if g {
					un[s] = ls.maskID
				}
			}
		}
		m := len(flat)
		for j := range m {
			flat = append(flat, flat[j]+int32(n*w))
		}
	}
	raw, err := ls.d.Logits(ids, copies*n, w, flat)
	if err != nil {
		return nil, err
	}
	ls.passes += copies
	if len(raw) != len(flat)*ls.vocab {
		return nil, fmt.Errorf("mdlm: model returned %d logits for %d rows of %d", len(raw), len(flat), ls.vocab)
	}
	m := len(flat) / copies
	out := make([]float64, m*ls.vocab)
	if copies == 1 {
		for i, v := range raw {
			out[i] = float64(v)
		}
	} else {
		cond, un := raw[:m*ls.vocab], raw[m*ls.vocab:]
		scale := ls.cfg + 1
		for i := range out {
			u := float64(un[i])
			out[i] = u + scale*(float64(cond[i])-u)
		}
	}
	for i := range m {
		row := out[i*ls.vocab : (i+1)*ls.vocab]
		for _, id := range ls.banned {
			row[id] = math.Inf(-1)
		}
	}
	return out, nil
}

// pick chooses a token from one row of logits: the argmax (lowest id on
// ties) at temperature 0, else a sample from softmax(logits/T) by Gumbel-max
// in float64. The Gumbel-max is written in LLaDA's exponential-race form,
// argmax_v exp(l_v/T) / E_v with E_v ~ Exp(1) (E = -log U, so this is the
// argmax of l/T + Gumbel noise), which needs no logarithm per token.
// It returns the token and its noise-free softmax probability, the
// confidence low-confidence remasking ranks by.
func pick(l []float64, temp float64, rng *rand.Rand) (int32, float64, error) {
	m := math.Inf(-1)
	for v, x := range l {
		if x != x {
			return 0, 0, fmt.Errorf("mdlm: model returned NaN logit for token %d", v)
		}
		if x > m {
			m = x
		}
	}
	if math.IsInf(m, -1) {
		return 0, 0, fmt.Errorf("mdlm: every token is suppressed or -inf")
	}
	if math.IsInf(m, 1) {
		return 0, 0, fmt.Errorf("mdlm: model returned +inf logit")
	}
	best, sum := -1, 0.0
	if temp == 0 {
		for v, x := range l {
			if best < 0 && x == m {
				best = v
			}
			sum += math.Exp(x - m)
		}
		return int32(best), 1 / sum, nil
	}
	bestScore := -1.0
	for v, x := range l {
		e := math.Exp(x - m)
		sum += e
		if temp != 1 {
			e = math.Exp((x - m) / temp)
		}
		if score := e / rng.ExpFloat64(); score > bestScore {
			best, bestScore = v, score
		}
	}
	return int32(best), math.Exp(l[best]-m) / sum, nil
}

// choice is a token picked at one position and the score it is ranked by.
type choice struct {
	tok  int32
	conf float64
}

// pickAll picks a token for each of the n rows of logits, in parallel: the
// vocabulary-wide softmax and noise dominate a sampler step on the CPU. Each
// row draws from its own generator, seeded in row order from rng, so the
// result does not depend on how the rows are scheduled. randomConf replaces
// the confidence with a uniform draw (random remasking).
func pickAll(logits []float64, n, vocab int, temp float64, randomConf bool, rng *rand.Rand) ([]choice, error) {
	out := make([]choice, n)
	var seeds [][2]uint64
	if temp > 0 || randomConf {
		seeds = make([][2]uint64, n)
		for i := range seeds {
			seeds[i] = [2]uint64{rng.Uint64(), rng.Uint64()}
		}
	}
	errs := make([]error, n)
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), n) {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				var r *rand.Rand
				if seeds != nil {
					r = rand.New(rand.NewPCG(seeds[i][0], seeds[i][1]))
				}
				tok, conf, err := pick(logits[i*vocab:(i+1)*vocab], temp, r)
				if randomConf {
					conf = r.Float64()
				}
				out[i], errs[i] = choice{tok, conf}, err
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// transferCounts splits n masks over at most steps steps following the
// schedule: step j (time t = (steps-j)/steps to s = t - 1/steps) reveals
// each remaining mask with probability 1 - (1-α(s))/(1-α(t)), rounded
// half to even or drawn as a binomial. Steps revealing nothing are dropped;
// the last step reveals everything left.
func transferCounts(n, steps int, sched Schedule, stochastic bool, rng *rand.Rand) []int {
	var counts []int
	left := n
	for j := 0; j < steps && left > 0; j++ {
		t := float64(steps-j) / float64(steps)
		s := float64(steps-j-1) / float64(steps)
		p := 1 - maskProb(sched, s)/maskProb(sched, t)
		var k int
		if stochastic {
			for range left {
				if rng.Float64() < p {
					k++
				}
			}
		} else {
			k = int(math.RoundToEven(float64(left) * p))
		}
		k = min(k, left)
		if j == steps-1 {
			k = left
		}
		if k > 0 {
			counts = append(counts, k)
			left -= k
		}
	}
	return counts
}

// candidate is a masked position with the token a step would commit there.
type candidate struct {
	pos  int
	tok  int32
	conf float64
}

// rankCandidates pairs the masked positions pos of one row with their
// choices and sorts them best first (ties: lower position first).
func rankCandidates(pos []int, picks []choice) []candidate {
	cands := make([]candidate, len(pos))
	for i, s := range pos {
		cands[i] = candidate{pos: s, tok: picks[i].tok, conf: picks[i].conf}
	}
	slices.SortStableFunc(cands, func(a, b candidate) int {
		switch {
		case a.conf > b.conf:
			return -1
		case a.conf < b.conf:
			return 1
		}
		return a.pos - b.pos
	})
	return cands
}
