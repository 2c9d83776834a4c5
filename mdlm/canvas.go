package mdlm

import (
	"fmt"
	"slices"
)

// canvas is the batch being denoised. Each row is padded with PadID to a
// common width; a row's generated region is [lo, hi). Everything before hi is
// the row's own text (prompt, given tokens, masks and what was generated in
// their place), everything from hi on is padding that the model is told to
// ignore (keyMask).
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

// keyMask returns the attention key mask for sending rows to the model,
// repeated copies times (the guided and the unguided copy): 1 for each
// position before the row's hi, 0 for the padding after it. Padding is told
// apart by position, not by id: a [PAD] the model generated inside the
// region is part of the answer and stays visible, as it is when the row is
// sampled alone. When none of the rows is padded the mask would be all ones
// and keyMask returns nil, so a single prompt takes the mask-free path.
func (cv *canvas) keyMask(rows []int, copies int) []int32 {
	padded := false
	for _, r := range rows {
		padded = padded || cv.hi[r] < cv.width
	}
	if !padded {
		return nil
	}
	w, n := cv.width, len(rows)
	mask := make([]int32, copies*n*w)
	for i, r := range rows {
		for s := range cv.hi[r] {
			mask[i*w+s] = 1
		}
	}
	for c := 1; c < copies; c++ {
		copy(mask[c*n*w:], mask[:n*w])
	}
	return mask
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
