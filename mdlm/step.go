package mdlm

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"sort"
	"sync"
	"sync/atomic"

	"github.com/dllmgo/dllm/tensor"
)

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
	// cacher is set when the sampler runs blocks from a cache
	// (SamplerConfig.Cache); cache is the block in progress.
	cacher       BlockCacher
	cache        *blockCache
	cachedPasses int
	// buf holds the float32 logits combine returns without guidance.
	buf []float32
	// held is the model's own logits, used in place as the last step's
	// rows (take); they go back to the model (LogitsRecycler) before its
	// next call.
	held []float32
}

func newLogitSource(d Denoiser, c SamplerConfig) *logitSource {
	banned := append([]int32{c.MaskID}, c.SuppressTokens...)
	ls := &logitSource{d: d, vocab: d.VocabSize(), maskID: c.MaskID, cfg: c.CFGScale, banned: banned}
	if c.Cache {
		ls.cacher, _ = d.(BlockCacher) // Generate checked it
	}
	return ls
}

// modelInput is one model call: copies·len(batch rows) canvases of the
// canvas width and the flat positions asked for.
type modelInput struct {
	ids    []int32
	batch  int
	copies int // 2 with guidance: the conditional and the unconditional copy
	flat   []int32
}

// input lays out the canvas rows batch (which holds every row of q) for the
// model and lists q's positions in q's order; with guidance the
// unconditional copies follow, asked for the same positions.
func (ls *logitSource) input(cv *canvas, batch []int, q *request) modelInput {
	n := len(batch)
	w := cv.width
	copies := 1
	if ls.cfg > 0 {
		copies = 2
	}
	in := modelInput{ids: make([]int32, copies*n*w), batch: copies * n, copies: copies}
	slot := make(map[int]int, n) // canvas row -> index in the batch
	for i, r := range batch {
		copy(in.ids[i*w:], cv.rows[r])
		slot[r] = i
	}
	for i, r := range q.rows {
		for _, s := range q.pos[i] {
			in.flat = append(in.flat, int32(slot[r]*w+s))
		}
	}
	if copies == 2 {
		// The unconditional copy: the same canvases with every given token
		// masked, asked for the same positions.
		for i, r := range batch {
			un := in.ids[(n+i)*w : (n+i+1)*w]
			copy(un, cv.rows[r])
			for s, g := range cv.given[r] {
				if g {
					un[s] = ls.maskID
				}
			}
		}
		m := len(in.flat)
		for j := range m {
			in.flat = append(in.flat, in.flat[j]+int32(n*w))
		}
	}
	return in
}

// eval returns q.size() rows of vocab logits, in request order. Only the
// requested canvas rows are sent to the model, or, while a block runs from
// a cache, the rows the cache was built for.
func (ls *logitSource) eval(cv *canvas, q *request) (logitRows, error) {
	if ls.cache != nil {
		return ls.evalCached(cv, q)
	}
	in := ls.input(cv, q.rows, q)
	ls.release()
	raw, err := ls.d.Logits(in.ids, in.batch, cv.width, cv.keyMask(q.rows, in.copies), in.flat)
	if err != nil {
		return logitRows{}, err
	}
	ls.passes += in.copies
	return ls.take(raw, len(in.flat))
}

// take turns the model's raw logits for nflat rows into the step's rows.
// From a LogitsRecycler without guidance the rows are raw itself, banned
// tokens set in place, and raw goes back to the model before its next call
// (release): the step's rows are dead by then. Otherwise combine copies or
// combines raw, which goes back at once.
func (ls *logitSource) take(raw []float32, nflat int) (logitRows, error) {
	if _, ok := ls.d.(LogitsRecycler); !ok || ls.cfg > 0 || len(raw) != nflat*ls.vocab {
		defer ls.recycle(raw)
		return ls.combine(raw, nflat)
	}
	ls.ban32(raw, nflat)
	ls.held = raw
	return logitRows{vocab: ls.vocab, f32: raw}, nil
}

// release hands the last step's rows held from the model back to it.
func (ls *logitSource) release() {
	ls.recycle(ls.held)
	ls.held = nil
}

// recycle hands the model's raw logits back once they have been read
// (LogitsRecycler).
func (ls *logitSource) recycle(raw []float32) {
	if r, ok := ls.d.(LogitsRecycler); ok && raw != nil {
		r.RecycleLogits(raw)
	}
}

// ban32 sets the banned tokens of nflat float32 rows to −Inf.
func (ls *logitSource) ban32(rows []float32, nflat int) {
	for i := range nflat {
		row := rows[i*ls.vocab : (i+1)*ls.vocab]
		for _, id := range ls.banned {
			row[id] = float32(math.Inf(-1))
		}
	}
}

// logitRows is one step's logits at the requested positions, vocab per
// row in request order. Without guidance they are the model's own float32
// values (a copy, suppressed tokens at −Inf), which widen to float64
// exactly; with guidance the combination is computed, and kept, in float64.
type logitRows struct {
	vocab int
	f32   []float32
	f64   []float64
}

// row returns row i in float64: a slice of f64, or f32's row widened into
// buf (of at least vocab floats).
func (l logitRows) row(i int, buf []float64) []float64 {
	if l.f32 == nil {
		return l.f64[i*l.vocab : (i+1)*l.vocab]
	}
	buf = buf[:l.vocab]
	for v, x := range l.f32[i*l.vocab : (i+1)*l.vocab] {
		buf[v] = float64(x)
	}
	return buf
}

// combine turns the model's raw logits for nflat rows (both copies with
// guidance) into the sampler's logits: guidance applied in float64, banned
// tokens at -inf. Without guidance the rows stay float32, in a buffer of ls
// that the next call reuses.
func (ls *logitSource) combine(raw []float32, nflat int) (logitRows, error) {
	if len(raw) != nflat*ls.vocab {
		return logitRows{}, fmt.Errorf("mdlm: model returned %d logits for %d rows of %d", len(raw), nflat, ls.vocab)
	}
	if ls.cfg <= 0 {
		if cap(ls.buf) < len(raw) {
			ls.buf = make([]float32, len(raw))
		}
		out := ls.buf[:len(raw)]
		copy(out, raw)
		ls.ban32(out, nflat)
		return logitRows{vocab: ls.vocab, f32: out}, nil
	}
	m := nflat / 2
	out := make([]float64, m*ls.vocab)
	cond, un := raw[:m*ls.vocab], raw[m*ls.vocab:]
	scale := ls.cfg + 1
	for i := range out {
		u := float64(un[i])
		out[i] = u + scale*(float64(cond[i])-u)
	}
	for i := range m {
		row := out[i*ls.vocab : (i+1)*ls.vocab]
		for _, id := range ls.banned {
			row[id] = math.Inf(-1)
		}
	}
	return logitRows{vocab: ls.vocab, f64: out}, nil
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

// pickArgmax is pick at temperature 0 on float32 logits: the same token
// (the float32 argmax is the float64 one, lowest id on ties, as widening is
// exact) and the same confidence 1/Σ e^(l−max), summed in float64 from
// exponentials vectorised to a relative error below 1e-9 (tensor.SumExp)
// instead of math.Exp's last bits. So the chosen token never differs from
// pick's; the confidences differ by about 1e-9 relative, which can reorder
// only positions whose confidences agree to that.
func pickArgmax(l []float32) (int32, float64, error) {
	// The maximum by the vector kernel, then its first index by another:
	// the same token as the one-pass loop below, which runs only to name a
	// NaN.
	if m, nan := tensor.MaxF32(l); !nan && !math.IsInf(float64(m), 0) {
		if v := tensor.IndexF32(l, m); v >= 0 {
			return int32(v), 1 / tensor.SumExp(l, float64(m)), nil
		}
	}
	m, best := float32(math.Inf(-1)), -1
	for v, x := range l {
		if x != x {
			return 0, 0, fmt.Errorf("mdlm: model returned NaN logit for token %d", v)
		}
		if x > m {
			m, best = x, v
		}
	}
	if best < 0 {
		return 0, 0, fmt.Errorf("mdlm: every token is suppressed or -inf")
	}
	if math.IsInf(float64(m), 1) {
		return 0, 0, fmt.Errorf("mdlm: model returned +inf logit")
	}
	return int32(best), 1 / tensor.SumExp(l, float64(m)), nil
}

// Truncation is Dream's top-k and nucleus (top-p) filtering of each
// position's distribution before a token is drawn and its confidence taken:
// TopK > 0 drops the logits below the TopK-th largest; 0 < TopP < 1 sorts
// softmax(logits/T) (T = 1 at temperature 0) in decreasing order and drops
// every token after the first whose cumulative probability exceeds TopP
// (the most probable is always kept). Dropped tokens can never be drawn,
// and the confidence is the probability among the kept ones.
type Truncation struct {
	TopK int
	TopP float64
}

func (tr Truncation) active() bool { return tr.TopK > 0 || (tr.TopP > 0 && tr.TopP < 1) }

// apply returns a copy of l with the dropped tokens at −Inf.
func (tr Truncation) apply(l []float64, temp float64) []float64 {
	out := append([]float64(nil), l...)
	if temp <= 0 {
		temp = 1
	}
	order := make([]int, len(l))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return l[order[a]] > l[order[b]] })
	if tr.TopP > 0 && tr.TopP < 1 {
		m := l[order[0]]
		sum := 0.0
		for _, x := range l {
			sum += math.Exp((x - m) / temp)
		}
		cum := 0.0
		for k, v := range order {
			if k > 0 && cum > tr.TopP {
				out[v] = math.Inf(-1)
			}
			cum += math.Exp((l[v]-m)/temp) / sum
		}
	}
	if tr.TopK > 0 && tr.TopK < len(l) {
		kth := l[order[tr.TopK-1]]
		for v, x := range l {
			if x < kth {
				out[v] = math.Inf(-1)
			}
		}
	}
	return out
}

// spread is the confidence of Dream's entropy and topk_margin rankings on
// the distribution p = softmax(l/T) (T = 1 at temperature 0):
// Σ p·log(p + 1e−10), or the top probability minus the second.
func spread(l []float64, temp float64, rank Remasking) float64 {
	if temp <= 0 {
		temp = 1
	}
	m := math.Inf(-1)
	for _, x := range l {
		m = max(m, x)
	}
	p := make([]float64, len(l))
	sum := 0.0
	for v, x := range l {
		p[v] = math.Exp((x - m) / temp)
		sum += p[v]
	}
	if rank == MarginRemasking {
		first, second := 0.0, 0.0
		for _, x := range p {
			switch {
			case x > first:
				first, second = x, first
			case x > second:
				second = x
			}
		}
		return (first - second) / sum
	}
	h := 0.0
	for _, x := range p {
		x /= sum
		h += x * math.Log(x+1e-10)
	}
	return h
}

// choice is a token picked at one position and the score it is ranked by.
type choice struct {
	tok  int32
	conf float64
}

// pickAll picks a token for each of the n rows of logits, in parallel: the
// vocabulary-wide softmax and noise dominate a sampler step on the CPU.
// seeds (from noiseSeeds; nil when temp is 0 and rank is not random) give
// each row its own generator, so the result does not depend on how the
// rows are scheduled. rank sets the confidence: the token's probability,
// a uniform draw (random remasking), the negative entropy or the top-two
// margin of the distribution.
func pickAll(logits []float64, n, vocab int, temp float64, rank Remasking, seeds [][2]uint64, truncate ...Truncation) ([]choice, error) {
	return pickRows(logitRows{vocab: vocab, f64: logits}, n, temp, rank, seeds, truncate...)
}

// pickRows is pickAll on a step's logitRows. Float32 rows at temperature 0
// without truncation, ranked by the token's probability or at random, take
// pickArgmax; every other case (Gumbel-max sampling with a temperature,
// truncation, the entropy and margin rankings, guidance) runs in float64 as
// before.
func pickRows(l logitRows, n int, temp float64, rank Remasking, seeds [][2]uint64, truncate ...Truncation) ([]choice, error) {
	randomConf := rank == RandomRemasking
	if (temp > 0 || randomConf) && len(seeds) != n {
		return nil, fmt.Errorf("mdlm: %d noise seeds for %d positions", len(seeds), n)
	}
	vocab := l.vocab
	truncating := len(truncate) > 0 && truncate[0].active()
	fast := l.f32 != nil && temp == 0 && !truncating && (rank == LowConfidence || randomConf)
	out := make([]choice, n)
	errs := make([]error, n)
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), n) {
		wg.Go(func() {
			var buf []float64
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				var r *rand.Rand
				if seeds != nil {
					r = rand.New(rand.NewPCG(seeds[i][0], seeds[i][1]))
				}
				var tok int32
				var conf float64
				var err error
				var row []float64
				if fast {
					tok, conf, err = pickArgmax(l.f32[i*vocab : (i+1)*vocab])
				} else {
					if l.f32 != nil && buf == nil {
						buf = make([]float64, vocab)
					}
					row = l.row(i, buf)
					if truncating {
						row = truncate[0].apply(row, temp)
					}
					tok, conf, err = pick(row, temp, r)
				}
				switch {
				case err != nil:
				case randomConf:
					conf = r.Float64()
				case rank == EntropyRemasking || rank == MarginRemasking:
					conf = spread(row, temp, rank)
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
//
// The ratio is evaluated in float32, as the reference framework evaluates it
// (its schedulers turn s and t into float32 tensors): see revealProb. The
// rounding of left·p then happens in float64, as there.
func transferCounts(n, steps int, sched Schedule, stochastic bool, rng *rand.Rand) []int {
	var counts []int
	left := n
	for j := 0; j < steps && left > 0; j++ {
		t := float64(steps-j) / float64(steps)
		s := float64(steps-j-1) / float64(steps)
		p := revealProb(sched, s, t)
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

// TransferCounts is transferCounts for the deterministic case: how many of n
// masks each of at most steps steps reveals. Block samplers of other
// objectives (bd3lm) use it so that every sampler counts as the reference does.
func TransferCounts(n, steps int, sched Schedule) []int {
	return transferCounts(n, steps, sched, false, nil)
}

// revealProb is 1 - (1-α(s))/(1-α(t)), the probability that a mask still
// present at time t is revealed by time s, computed the way the reference
// computes it: s and t rounded to float32, α evaluated in float32 (Alpha32),
// the ratio divided in float32, and only the final 1 - ratio in float64.
// The float32 rounding matters: for the linear schedule, 1 - float32(1/3)
// is an exact tie in float32, and the rounded ratio decides whether 3 masks
// split as 1+2 or 2+1. Computed in float64 throughout, about a third of the
// linear schedule's (n, steps) pairs up to 64 would count differently.
func revealProb(sched Schedule, s, t float64) float64 {
	s32, t32 := float32(s), float32(t)
	num := float32(1) - alpha32(sched, s32)
	den := float32(1) - alpha32(sched, t32)
	return 1 - float64(num/den)
}

// Alpha32 is implemented by schedules that can evaluate α in float32 the way
// the reference's float32 tensors do.
type Alpha32 interface {
	Alpha32(t float32) float32
}

// alpha32 is α(t) in float32: the schedule's own float32 formula when it has
// one, else α in float64 rounded to float32.
func alpha32(sched Schedule, t float32) float32 {
	if a, ok := sched.(Alpha32); ok {
		return a.Alpha32(t)
	}
	return float32(sched.Alpha(float64(t)))
}

// rankForReveal orders a row's candidates for a step: best confidence first
// (rankCandidates), or, with algTemp > 0 (Dream's alg_temp), in the order of
// a draw without replacement from softmax(confidence/algTemp): each
// candidate's key is confidence/algTemp plus standard Gumbel noise, and the
// keys sorted descending give that draw's order (the Gumbel-top-k trick), so
// the first k are a sample of k positions. The noise comes from the row's
// own stream, one draw per candidate in position order.
func rankForReveal(pos []int, picks []choice, algTemp float64, rng *rand.Rand) []candidate {
	cands := rankCandidates(pos, picks)
	if algTemp <= 0 || len(cands) < 2 {
		return cands
	}
	keys := make(map[int]float64, len(cands))
	for i, p := range pos { // draws in position order, independent of the ranking
		u := rng.Float64()
		for u == 0 {
			u = rng.Float64()
		}
		keys[p] = picks[i].conf/algTemp - math.Log(-math.Log(u))
	}
	slices.SortStableFunc(cands, func(a, b candidate) int {
		switch ka, kb := keys[a.pos], keys[b.pos]; {
		case ka > kb:
			return -1
		case ka < kb:
			return 1
		}
		return a.pos - b.pos
	})
	return cands
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
