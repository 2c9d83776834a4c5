package mdlm

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
)

// Sequence is Generate's block sampler for one prompt, run one denoising
// step at a time, so that a server can put the steps of many independent
// requests into shared forward passes (StepSequences). Each sequence keeps
// its own canvas, sampler settings, step schedule and random stream; it
// samples exactly what Generate samples for its prompt alone with the same
// base seed and StreamOffset, whatever else shares its model calls and
// whenever it joins or leaves them.
type Sequence struct {
	c      SamplerConfig
	ls     *logitSource // guidance and suppression of this sequence's logits
	row    []int32      // prompt followed by MaxNewTokens masks
	given  []bool       // prompt positions (masked in the guidance copy)
	lo, hi int          // the generated region
	stream *rand.Rand
	random bool

	counts   [][]int // transfer counts per block and step (nil with Threshold)
	blocks   int
	block, j int // current block and its step

	steps, maxSteps, passes int
	done, stopped           bool
	err                     error

	// pos is what the current step asks for, want how many of them it commits.
	pos  []int
	want int
}

// NewSequence prepares the block sampling of prompt with c. base is the base
// seed of the sampler call's row streams: Generate takes it from its
// generator as rng.Uint64(), so NewSequence(d, p, c, NewRand(s).Uint64())
// samples what Generate(d, [][]int32{p}, c, NewRand(s)) does, and with
// c.StreamOffset = r what row r of a batch samples. d is only asked for its
// vocabulary size. Cache is not supported (a block cache is built for a
// fixed batch). The initial frame goes to c.Trace.
func NewSequence(d Denoiser, prompt []int32, c SamplerConfig, base uint64) (*Sequence, error) {
	c, err := c.withDefaults(d.VocabSize())
	if err != nil {
		return nil, err
	}
	if c.Cache {
		return nil, errors.New("mdlm: a Sequence cannot run from a block cache")
	}
	for i, id := range prompt {
		if id < 0 || int(id) >= d.VocabSize() {
			return nil, fmt.Errorf("mdlm: prompt token %d at %d outside vocabulary of %d", id, i, d.VocabSize())
		}
	}
	cv, err := newPromptCanvas([][]int32{prompt}, c.MaxNewTokens, c)
	if err != nil {
		return nil, err
	}
	s := &Sequence{
		c: c, ls: newLogitSource(d, c),
		row: cv.rows[0], given: cv.given[0], lo: cv.lo[0], hi: cv.hi[0],
		stream: rowStream(base, uint64(c.StreamOffset)),
		random: c.Temperature > 0 || c.Remasking == RandomRemasking,
		blocks: (c.MaxNewTokens + c.BlockSize - 1) / c.BlockSize,
	}
	// The plan of runBlocks for one row: every block's counts up front, drawn
	// from the row's stream in block order.
	perBlock := (c.Steps + s.blocks - 1) / s.blocks
	for b := range s.blocks {
		lo, hi := s.span(b)
		n := hi - lo
		if c.Threshold > 0 {
			s.maxSteps += n
			continue
		}
		cnt := transferCounts(n, perBlock, c.Schedule, c.StochasticTransfer, s.stream)
		s.counts = append(s.counts, cnt)
		s.maxSteps += len(cnt)
	}
	s.emit(nil)
	s.plan()
	return s, nil
}

// span is block b's positions [lo, hi).
func (s *Sequence) span(b int) (int, int) {
	lo := s.lo + b*s.c.BlockSize
	return lo, min(lo+s.c.BlockSize, s.hi)
}

// plan finds the next step's positions, moving on to the next block when the
// current one is finished; with none left the sequence is done.
func (s *Sequence) plan() {
	s.pos, s.want = nil, 0
	for !s.done {
		if s.block >= s.blocks {
			s.done = true
			return
		}
		lo, hi := s.span(s.block)
		var pos []int
		for i := lo; i < hi; i++ {
			if s.row[i] == s.c.MaskID {
				pos = append(pos, i)
			}
		}
		switch {
		case s.c.Threshold > 0 && len(pos) > 0:
			s.pos = pos
			return
		case s.c.Threshold == 0 && s.j < len(s.counts[s.block]):
			s.pos, s.want = pos, s.counts[s.block][s.j]
			return
		}
		s.block, s.j = s.block+1, 0
	}
}

// Done reports that the sequence has finished: its answer ended, every
// block is filled, or a step failed (Err).
func (s *Sequence) Done() bool { return s.done }

// Err is the error that ended the sequence, if any.
func (s *Sequence) Err() error { return s.err }

// Passes is the number of model evaluations one step of this sequence needs
// (2 with guidance).
func (s *Sequence) Passes() int {
	if s.c.CFGScale > 0 {
		return 2
	}
	return 1
}

// Committed returns the generated tokens committed so far before the first
// mask, cut like an answer, and whether the answer has ended there.
func (s *Sequence) Committed() ([]int32, bool) {
	region := s.row[s.lo:s.hi]
	if i := slices.Index(region, s.c.MaskID); i >= 0 {
		region = region[:i]
	}
	return CutAnswer(region, s.c.PadID, s.c.StopSequences)
}

// Output returns the result as Generate does for one prompt.
func (s *Sequence) Output() *Output {
	smp := Sample{Canvas: slices.Clone(s.row), PromptLen: s.lo}
	answer, stopped := CutAnswer(smp.Canvas[s.lo:], s.c.PadID, s.c.StopSequences)
	smp.Answer, smp.Stopped = slices.Clone(answer), stopped
	return &Output{Samples: []Sample{smp}, Steps: s.steps, ForwardPasses: s.passes}
}

// apply commits one step from the combined logits of s.pos.
func (s *Sequence) apply(logits logitRows) error {
	var seeds [][2]uint64
	if s.random {
		for range s.pos {
			seeds = append(seeds, [2]uint64{s.stream.Uint64(), s.stream.Uint64()})
		}
	}
	picks, err := pickRows(logits, len(s.pos), s.c.Temperature, s.c.Remasking, seeds, s.c.Truncation)
	if err != nil {
		return err
	}
	cands := rankForReveal(s.pos, picks, s.c.algTemp(), s.stream)
	k := s.want
	if s.c.Threshold > 0 {
		k = 1
		for k < len(cands) && cands[k].conf >= s.c.Threshold {
			k++
		}
	}
	var revealed []int
	for _, cd := range cands[:k] {
		s.row[cd.pos] = cd.tok
		revealed = append(revealed, cd.pos)
	}
	slices.Sort(revealed)
	s.steps++
	s.passes += s.Passes()
	s.j++
	if !s.c.FullCanvas {
		if _, cut := s.Committed(); cut {
			s.stopped, s.done = true, true
		}
	}
	s.emit(revealed)
	s.plan()
	return nil
}

func (s *Sequence) emit(revealed []int) {
	if s.c.Trace == nil {
		return
	}
	f := Frame{
		Step: s.steps, MaxSteps: s.maxSteps, Canvas: slices.Clone(s.row), PromptLen: s.lo,
		Revealed: revealed, Total: s.hi - s.lo, MaskID: s.c.MaskID,
	}
	for _, id := range f.Canvas {
		if id == s.c.MaskID {
			f.Masked++
		}
	}
	s.c.Trace(f)
}

// StepSequences runs one denoising step of every unfinished sequence of seqs
// in a single model call: their canvases, each with its own length, are
// padded on the right to a common width and the padding is masked from
// attention, as Generate pads the prompts of a batch; guided sequences add
// their unconditional copy after all the conditional rows. It returns the
// number of rows sent to the model. An error of the model call is returned
// (and leaves every sequence as it was); an error of one sequence's step
// (a NaN logit) ends that sequence with Err and spares the others.
func StepSequences(d Denoiser, seqs []*Sequence) (int, error) {
	var live []*Sequence
	width := 0
	for _, s := range seqs {
		if !s.done && len(s.pos) > 0 {
			live = append(live, s)
			width = max(width, len(s.row))
		}
	}
	if len(live) == 0 {
		return 0, nil
	}
	n := len(live)
	var guided []int // indices into live of the guided sequences
	for i, s := range live {
		if s.c.CFGScale > 0 {
			guided = append(guided, i)
		}
	}
	batch := n + len(guided)
	ids := make([]int32, batch*width)
	var keyMask []int32
	for _, s := range live {
		if len(s.row) < width {
			keyMask = make([]int32, batch*width)
			break
		}
	}
	var flat []int32
	put := func(slot int, s *Sequence, uncond bool) {
		dst := ids[slot*width : (slot+1)*width]
		copy(dst, s.row)
		for p := len(s.row); p < width; p++ {
			dst[p] = s.c.PadID
		}
		if uncond {
			for p, g := range s.given {
				if g {
					dst[p] = s.c.MaskID
				}
			}
		}
		if keyMask != nil {
			for p := range s.row {
				keyMask[slot*width+p] = 1
			}
		}
		for _, p := range s.pos {
			flat = append(flat, int32(slot*width+p))
		}
	}
	for i, s := range live {
		put(i, s, false)
	}
	for k, i := range guided {
		put(n+k, live[i], true)
	}
	raw, err := d.Logits(ids, batch, width, keyMask, flat)
	vocab := d.VocabSize()
	if err == nil && len(raw) != len(flat)*vocab {
		err = fmt.Errorf("mdlm: model returned %d logits for %d rows of %d", len(raw), len(flat), vocab)
	}
	if err != nil {
		return batch, err
	}
	// Cut the output back into each sequence's rows: its conditional ones,
	// then its unconditional ones, as combine expects them.
	own := make([][]float32, n)
	off := 0
	for i, s := range live {
		m := len(s.pos) * vocab
		own[i] = raw[off : off+m : off+m]
		off += m
	}
	for _, i := range guided {
		m := len(live[i].pos) * vocab
		own[i] = append(own[i], raw[off:off+m]...)
		off += m
	}
	for i, s := range live {
		logits, err := s.ls.combine(own[i], len(own[i])/vocab)
		if err == nil {
			err = s.apply(logits)
		}
		if err != nil {
			s.err, s.done, s.pos = err, true, nil
		}
	}
	if r, ok := d.(LogitsRecycler); ok { // every row was copied or combined
		r.RecycleLogits(raw)
	}
	return batch, nil
}
