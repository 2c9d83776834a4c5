package mdlm

import (
	"fmt"
	"math"
	"slices"
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
	// EntropyRemasking commits the positions whose predictive distribution
	// (softmax of logits/T, T = 1 at temperature 0) has the lowest entropy:
	// Dream's "entropy", confidence Σ p·log(p + 1e−10).
	EntropyRemasking
	// MarginRemasking commits the positions with the largest gap between
	// the two most probable tokens: Dream's "topk_margin".
	MarginRemasking
)

// String returns the reference's spelling.
func (r Remasking) String() string {
	switch r {
	case LowConfidence:
		return "low_confidence"
	case RandomRemasking:
		return "random"
	case EntropyRemasking:
		return "entropy"
	case MarginRemasking:
		return "topk_margin"
	}
	return fmt.Sprintf("Remasking(%d)", int(r))
}

// ParseRemasking reads "low_confidence" (or Dream's "maskgit_plus", the
// same ranking), "random", "entropy" or "topk_margin".
func ParseRemasking(name string) (Remasking, error) {
	if name == "maskgit_plus" {
		return LowConfidence, nil
	}
	for _, r := range []Remasking{LowConfidence, RandomRemasking, EntropyRemasking, MarginRemasking} {
		if name == r.String() {
			return r, nil
		}
	}
	return 0, fmt.Errorf("mdlm: unknown remasking %q (want low_confidence, maskgit_plus, random, entropy or topk_margin)", name)
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
	// Truncation filters each position's distribution by top-k and top-p
	// (Dream's sampler); the zero value keeps every token.
	Truncation Truncation
	// Schedule sets the per-step transfer counts (nil: Linear, which reveals
	// round(remaining / steps left) per step).
	Schedule Schedule
	// StochasticTransfer draws each step's count from
	// Binomial(remaining, 1 - (1-α(s))/(1-α(t))) instead of rounding its mean.
	StochasticTransfer bool
	// AlgTemp > 0 (Dream's alg_temp) chooses the positions a step reveals by
	// sampling them without replacement from softmax(confidence/AlgTemp)
	// instead of taking the most confident; 0 takes the top k. Threshold
	// decoding ignores it.
	AlgTemp float64
	// Threshold > 0 switches Generate and Infill to Fast-dLLM parallel
	// decoding: each step commits every masked position of the block whose
	// confidence is at least Threshold, and always at least the best one.
	Threshold float64
	// CFGScale > 0 applies classifier-free guidance: the model also sees a
	// copy with the prompt (every given token) masked, and the logits become
	// un + (CFGScale+1)·(cond - un).
	CFGScale float64
	// Cache runs Generate's blocks with Fast-dLLM's DualCache: the model
	// (which must implement BlockCacher) keeps the keys and values of every
	// position at a block's first step and recomputes only the block during
	// its later steps. Faster, and approximate: positions outside the block
	// do not see the block's new tokens until the next block starts. Off by
	// default, so results are exactly the uncached ones; Infill and
	// Ancestral ignore it.
	Cache bool
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
	// StreamOffset numbers the rows for their random streams: row r of a
	// call draws from stream StreamOffset+r of the call's base seed, so row
	// r of a batch samples exactly like its input alone with StreamOffset+r
	// (see the package documentation). A job split over several calls, each
	// given a generator in the same state, passes each call the index of its
	// first input, and every input then samples the same however the job is
	// split into batches. Must not be negative.
	StreamOffset int
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
	case c.StreamOffset < 0:
		return c, fmt.Errorf("mdlm: negative stream offset %d", c.StreamOffset)
	case !(c.Temperature >= 0) || math.IsInf(c.Temperature, 0):
		return c, fmt.Errorf("mdlm: temperature %v", c.Temperature)
	case c.Truncation.TopK < 0 || !(c.Truncation.TopP >= 0 && c.Truncation.TopP <= 1):
		return c, fmt.Errorf("mdlm: top-k %d or top-p %v outside its range", c.Truncation.TopK, c.Truncation.TopP)
	case !(c.Threshold >= 0 && c.Threshold <= 1):
		return c, fmt.Errorf("mdlm: threshold %v outside [0, 1]", c.Threshold)
	case !(c.CFGScale >= 0) || math.IsInf(c.CFGScale, 0):
		return c, fmt.Errorf("mdlm: cfg scale %v", c.CFGScale)
	case !(c.AlgTemp >= 0) || math.IsInf(c.AlgTemp, 0):
		return c, fmt.Errorf("mdlm: alg_temp %v must be a finite number >= 0", c.AlgTemp)
	case c.Remasking < LowConfidence || c.Remasking > MarginRemasking:
		return c, fmt.Errorf("mdlm: unknown remasking %d", c.Remasking)
	case c.Threshold > 0 && c.Remasking != LowConfidence:
		return c, fmt.Errorf("mdlm: threshold decoding ranks by confidence; it cannot use %s remasking", c.Remasking)
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
	// CachedPasses counts the ForwardPasses that ran from a block cache
	// (SamplerConfig.Cache): over the block's positions only.
	CachedPasses int
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

// algTemp is the AlgTemp that ranking uses: none under threshold decoding,
// which reveals by confidence alone.
func (c SamplerConfig) algTemp() float64 {
	if c.Threshold > 0 {
		return 0
	}
	return c.AlgTemp
}
