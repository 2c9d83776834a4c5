package mdlm

import "math/rand/v2"

// ancestralTMin is where MDLM's sampler stops the reverse process; what is
// still masked there is filled by one argmax pass ("noise removal").
const ancestralTMin = 1e-5

// Ancestral continues each prompt with MDLM's ancestral (DDPM-style)
// sampler. Time runs from 1 down to 1e-5 in Steps equal steps; going from t
// to s < t, each masked position stays masked with probability
// (1-α(s))/(1-α(t)) (s/t for the linear schedule) and otherwise takes a token
// drawn from the model at Temperature. MDLM samples at temperature 1; the
// default 0 takes the argmax. Masks left at the end are filled by argmax.
//
// The stay-or-reveal coin is flipped before the model runs, and the model is
// asked only for the positions being revealed. A step that reveals nothing
// costs no forward pass, which is MDLM's cache for a model without time input.
// Frames are emitted only for steps that changed the canvas. BlockSize,
// Remasking and Threshold do not apply.
func Ancestral(d Denoiser, prompts [][]int32, c SamplerConfig, rng *rand.Rand) (*Output, error) {
	c, err := c.withDefaults(d.VocabSize())
	if err != nil {
		return nil, err
	}
	cv, err := newPromptCanvas(prompts, c.MaxNewTokens, c)
	if err != nil {
		return nil, err
	}
	streams, err := rowStreams(rng, len(cv.rows), c.StreamOffset)
	if err != nil {
		return nil, err
	}
	ls := newLogitSource(d, c)
	defer ls.release() // the last step's logits go back to the model
	cv.emit(c, 0, c.Steps, nil)

	// fill commits a token at every requested position from one forward pass.
	fill := func(q *request, temp float64) ([][]int, error) {
		logits, err := ls.eval(cv, q)
		if err != nil {
			return nil, err
		}
		picks, err := pickRows(logits, q.size(), temp, LowConfidence, noiseSeeds(q, streams, temp > 0), c.Truncation)
		if err != nil {
			return nil, err
		}
		revealed := make([][]int, len(cv.rows))
		off := 0
		for i, r := range q.rows {
			for _, s := range q.pos[i] {
				cv.rows[r][s] = picks[off].tok
				off++
				revealed[r] = append(revealed[r], s)
			}
		}
		return revealed, nil
	}

	dt := (1 - ancestralTMin) / float64(c.Steps)
	steps := 0
	for i := 0; i < c.Steps && !cv.allDone(); i++ {
		t := 1 - float64(i)*dt
		s := max(t-dt, ancestralTMin)
		stay := maskProb(c.Schedule, s) / maskProb(c.Schedule, t)
		steps++
		var q request
		for r := range cv.rows {
			if cv.done[r] {
				continue
			}
			var reveal []int
			for _, p := range cv.masksIn(r, cv.lo[r], cv.hi[r], c.MaskID) {
				if streams[r].Float64() >= stay {
					reveal = append(reveal, p)
				}
			}
			q.add(r, reveal)
		}
		if len(q.rows) == 0 {
			continue
		}
		revealed, err := fill(&q, c.Temperature)
		if err != nil {
			return nil, err
		}
		cv.checkStop(c)
		cv.emit(c, steps, c.Steps, revealed)
	}

	var q request
	for r := range cv.rows {
		if !cv.done[r] {
			q.add(r, cv.masksIn(r, cv.lo[r], cv.hi[r], c.MaskID))
		}
	}
	if len(q.rows) > 0 {
		revealed, err := fill(&q, 0)
		if err != nil {
			return nil, err
		}
		steps++
		cv.checkStop(c)
		cv.emit(c, steps, c.Steps, revealed)
	}
	return cv.output(c, steps, ls.passes, true), nil
}
