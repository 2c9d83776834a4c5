package main

import (
	"flag"

	"github.com/dllmgo/dllm/bd3lm"
	"github.com/dllmgo/dllm/editflow"
	"github.com/dllmgo/dllm/lm"
	"github.com/dllmgo/dllm/mdlm"
	"github.com/dllmgo/dllm/modeldir"
	"github.com/dllmgo/dllm/nn"
)

// samplerFlags are the sampling options shared by generate, chat and eval.
type samplerFlags struct {
	maxNew, steps, blockSize int
	temperature, threshold   float64
	cfg, topP                float64
	topK                     int
	remasking, sampler       string
	precision                string
	stochastic, cache        bool
	seed                     uint64
	// set records which flags the user gave, so that a model's own
	// defaults (generation_config.json) apply to the others.
	set map[string]bool
	// editTrace, if set, sees the steps of an Edit Flows model's sampler
	// (the live view).
	editTrace func(editflow.Step)
}

// noteSet remembers the flags given on the command line.
func (s *samplerFlags) noteSet(fs *flag.FlagSet) {
	s.set = map[string]bool{}
	fs.Visit(func(f *flag.Flag) { s.set[f.Name] = true })
}

func (s *samplerFlags) register(fs *flag.FlagSet) {
	fs.IntVar(&s.maxNew, "max-new-tokens", mdlm.DefaultMaxNewTokens, "length of the generated region ([MASK]s appended to the prompt)")
	fs.IntVar(&s.steps, "steps", mdlm.DefaultSteps, "denoising steps over all blocks (fewer steps reveal several tokens per step)")
	fs.IntVar(&s.blockSize, "block-size", mdlm.DefaultBlockSize, "blocks filled left to right")
	fs.Float64Var(&s.temperature, "temperature", 0, "0 takes the most likely token; > 0 samples (Gumbel-max in float64)")
	fs.IntVar(&s.topK, "top-k", 0, "sample among the k most likely tokens only (0: all; Dream's top_k)")
	fs.Float64Var(&s.topP, "top-p", 1, "sample among the most likely tokens whose probabilities reach p (1: all; Dream's top_p)")
	fs.StringVar(&s.remasking, "remasking", "low_confidence", "which masked positions to reveal each step: low_confidence (= maskgit_plus), random, or Dream's entropy and topk_margin")
	fs.Float64Var(&s.threshold, "threshold", 0, "> 0: Fast-dLLM parallel decoding, reveal every position at least this confident")
	fs.Float64Var(&s.cfg, "cfg", 0, "classifier-free guidance scale (0: off)")
	fs.BoolVar(&s.stochastic, "stochastic-transfer", false, "draw each step's number of revealed tokens instead of rounding its mean")
	fs.StringVar(&s.sampler, "sampler", "block", "block (LLaDA/dLLM low-confidence remasking), ancestral (MDLM) or bd3lm (block diffusion: blocks appended until one holds end-of-text; the default for a model trained with --objective bd3lm)")
	fs.BoolVar(&s.cache, "cache", false, "block sampler: Fast-dLLM DualCache, recompute only the active block between its full passes (faster, approximate); bd3lm: keep the finished blocks' keys and values (exact)")
	fs.Uint64Var(&s.seed, "seed", 0, "random seed (same seed, same answer)")
	fs.StringVar(&s.precision, "precision", "f32", "inference arithmetic: f32, or bf16 (bf16 operands, f32 sums: what a GPU wants, slower on cpu)")
}

// apply fills a sampler configuration from the flags; bad values are usage
// errors naming the flag.
func (s *samplerFlags) apply(c mdlm.SamplerConfig) (mdlm.SamplerConfig, error) {
	rm, err := mdlm.ParseRemasking(s.remasking)
	if err != nil {
		return c, badInput("--remasking: %v", err)
	}
	switch {
	case s.maxNew <= 0:
		return c, badInput("--max-new-tokens must be positive, got %d", s.maxNew)
	case s.steps <= 0:
		return c, badInput("--steps must be positive, got %d", s.steps)
	case s.blockSize <= 0:
		return c, badInput("--block-size must be positive, got %d", s.blockSize)
	case s.temperature < 0:
		return c, badInput("--temperature must be >= 0, got %g", s.temperature)
	case s.threshold < 0 || s.threshold > 1:
		return c, badInput("--threshold must be in [0, 1], got %g", s.threshold)
	case s.topK < 0:
		return c, badInput("--top-k must be >= 0, got %d", s.topK)
	case !(s.topP > 0 && s.topP <= 1):
		return c, badInput("--top-p must be in (0, 1], got %g", s.topP)
	case s.cfg < 0:
		return c, badInput("--cfg must be >= 0, got %g", s.cfg)
	case s.sampler != "block" && s.sampler != "ancestral" && s.sampler != bd3lm.ObjectiveName:
		return c, badInput("--sampler must be block, ancestral or bd3lm, got %q", s.sampler)
	case s.cache && s.sampler == "ancestral":
		return c, badInput("--cache caches the blocks of the block sampler; --sampler %s has none", s.sampler)
	}
	if _, err := nn.ParsePrecision(s.precision); err != nil {
		return c, badInput("--precision: %v", err)
	}
	// Sizes the user did not give keep the model's defaults.
	if s.set["max-new-tokens"] || c.MaxNewTokens == 0 {
		c.MaxNewTokens = s.maxNew
	}
	if s.set["steps"] || c.Steps == 0 {
		c.Steps = s.steps
	}
	if s.set["block-size"] || c.BlockSize == 0 {
		c.BlockSize = s.blockSize
	}
	if c.BlockSize > c.MaxNewTokens && s.sampler != bd3lm.ObjectiveName { // bd3lm's is the model's
		c.BlockSize = c.MaxNewTokens
	}
	c.Temperature, c.Remasking, c.Threshold, c.CFGScale = s.temperature, rm, s.threshold, s.cfg
	c.StochasticTransfer, c.Cache = s.stochastic, s.cache
	c.Truncation = mdlm.Truncation{TopK: s.topK, TopP: s.topP}
	return c, nil
}

// validate checks the flags before anything is loaded.
func (s *samplerFlags) validate() error {
	_, err := s.apply(mdlm.SamplerConfig{})
	return err
}

// openModel loads a chat model folder on a device and returns it with the
// sampler configuration these flags give.
func (s *samplerFlags) openModel(dir, device string) (*modeldir.Bundle, mdlm.SamplerConfig, error) {
	be, err := openDevice(device)
	if err != nil {
		return nil, mdlm.SamplerConfig{}, err
	}
	b, err := loadBundle(dir, be)
	if err != nil {
		return nil, mdlm.SamplerConfig{}, err
	}
	c := b.SamplerConfig()
	if g := b.Generation; g.Sampler == bd3lm.ObjectiveName {
		// A block-diffusion model samples block by block, in its training
		// blocks, unless the flags say otherwise.
		if !s.set["sampler"] {
			s.sampler = bd3lm.ObjectiveName
		}
		if g.BlockSize > 0 {
			c.BlockSize = g.BlockSize
		}
	}
	c, err = s.apply(c)
	if err != nil {
		return nil, c, err
	}
	if ps, ok := b.Model.(lm.PrecisionSetter); ok {
		p, _ := nn.ParsePrecision(s.precision) // apply checked it
		ps.SetPrecision(p)
	}
	lm.KeepPacked(b.Model) // the weights do not change while sampling
	return b, c, nil
}

// sample runs the chosen sampler, or tau-leaping on an Edit Flows model.
func (s *samplerFlags) sample(b *modeldir.Bundle, prompts [][]int32, c mdlm.SamplerConfig) (*mdlm.Output, error) {
	if m, ok := b.Model.(*editflow.Model); ok {
		return editFlowsSample(b, m, prompts, c, s.seed, s.editTrace)
	}
	rng := mdlm.NewRand(s.seed)
	if s.sampler == bd3lm.ObjectiveName {
		return bd3lm.Generate(b.Model, prompts, c, endOfText(b), rng)
	}
	d := b.Denoiser()
	if s.sampler == "ancestral" {
		return mdlm.Ancestral(d, prompts, c, rng)
	}
	return mdlm.Generate(d, prompts, c, rng)
}
