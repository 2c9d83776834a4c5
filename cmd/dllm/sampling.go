package main

import (
	"flag"
	"fmt"
	"io"
	"math"
	"path/filepath"
	"sort"
	"strings"

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
	cfg, topP, algTemp       float64
	topK                     int
	remasking, sampler       string
	precision                string
	stochastic, cache        bool
	seed                     uint64
	// set records which flags the user gave, so that a model's own
	// defaults (generation_config.json) apply to the others.
	set map[string]bool
	// fromModel names the flags whose values the model folder's
	// generation_config.json gives: an explicit flag still wins.
	fromModel map[string]bool
	// editTrace, if set, sees the steps of an Edit Flows model's sampler
	// (the live view).
	editTrace func(editflow.Step)
}

// fromModel ends the help of the flags whose default a model folder may set.
const fromModel = "; a model's generation_config.json sets its own default, which the command reports on stderr"

// noteSet remembers the flags given on the command line.
func (s *samplerFlags) noteSet(fs *flag.FlagSet) {
	s.set = map[string]bool{}
	fs.Visit(func(f *flag.Flag) { s.set[f.Name] = true })
}

func (s *samplerFlags) register(fs *flag.FlagSet) {
	fs.IntVar(&s.maxNew, "max-new-tokens", mdlm.DefaultMaxNewTokens, "length of the generated region ([MASK]s appended to the prompt)"+fromModel)
	fs.IntVar(&s.steps, "steps", mdlm.DefaultSteps, "denoising steps over all blocks (fewer steps reveal several tokens per step)"+fromModel)
	fs.IntVar(&s.blockSize, "block-size", mdlm.DefaultBlockSize, "blocks filled left to right, at most --max-new-tokens"+fromModel)
	fs.Float64Var(&s.temperature, "temperature", 0, "0 takes the most likely token; > 0 samples (Gumbel-max in float64)")
	fs.IntVar(&s.topK, "top-k", 0, "sample among the k most likely tokens only (0: all; Dream's top_k)")
	fs.Float64Var(&s.topP, "top-p", 1, "sample among the most likely tokens whose probabilities reach p (1: all; Dream's top_p)")
	fs.StringVar(&s.remasking, "remasking", "low_confidence", "which masked positions to reveal each step: low_confidence (= maskgit_plus), random, or Dream's entropy and topk_margin")
	fs.Float64Var(&s.algTemp, "alg-temp", 0, "> 0: choose the positions each step reveals by sampling from softmax(confidence/alg-temp) instead of the most confident (Dream's alg_temp)")
	fs.Float64Var(&s.threshold, "threshold", 0, "> 0: Fast-dLLM parallel decoding, reveal every position at least this confident")
	fs.Float64Var(&s.cfg, "cfg", 0, "classifier-free guidance scale (0: off)")
	fs.BoolVar(&s.stochastic, "stochastic-transfer", false, "draw each step's number of revealed tokens instead of rounding its mean")
	fs.StringVar(&s.sampler, "sampler", "block", "block (LLaDA/dLLM low-confidence remasking), ancestral (MDLM) or bd3lm (block diffusion: blocks appended until one holds end-of-text; the default for a model whose generation_config.json names it, as --objective bd3lm writes)")
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
	case !(s.algTemp >= 0) || math.IsInf(s.algTemp, 0):
		return c, badInput("--alg-temp must be a finite number >= 0, got %g", s.algTemp)
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
	// Knobs the model's generation_config.json sets keep its values unless
	// the flag was given.
	flagWins := func(name string) bool { return s.set[name] || !s.fromModel[name] }
	if flagWins("temperature") {
		c.Temperature = s.temperature
	}
	if flagWins("remasking") {
		c.Remasking = rm
	}
	if flagWins("threshold") {
		c.Threshold = s.threshold
	}
	if flagWins("cfg") {
		c.CFGScale = s.cfg
	}
	if flagWins("alg-temp") {
		c.AlgTemp = s.algTemp
	}
	if flagWins("stochastic-transfer") {
		c.StochasticTransfer = s.stochastic
	}
	if flagWins("top-k") {
		c.Truncation.TopK = s.topK
	}
	if flagWins("top-p") {
		c.Truncation.TopP = s.topP
	}
	c.Cache = s.cache
	return c, nil
}

// validate checks the flags before anything is loaded.
func (s *samplerFlags) validate() error {
	_, err := s.apply(mdlm.SamplerConfig{})
	return err
}

// openModel loads a chat model folder on a device and returns it with the
// sampler configuration these flags give. What the folder's
// generation_config.json set in place of a flag's default, and a flag
// capped to the canvas, are reported on stderr.
func (s *samplerFlags) openModel(dir, device string, stderr io.Writer) (*modeldir.Bundle, mdlm.SamplerConfig, error) {
	be, err := openDevice(device)
	if err != nil {
		return nil, mdlm.SamplerConfig{}, err
	}
	prec, _ := nn.ParsePrecision(s.precision) // validate checked it
	b, err := loadBundle(dir, be, inferenceOptions(prec, be))
	if err != nil {
		return nil, mdlm.SamplerConfig{}, err
	}
	c := b.SamplerConfig()
	s.fromModel = map[string]bool{}
	for _, k := range b.Generation.Knobs() {
		s.fromModel[k] = true
	}
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
	_, edits := b.Model.(*editflow.Model)
	for _, note := range s.notes(dir, b.Generation, c, !edits) {
		fmt.Fprintln(stderr, note)
	}
	if ps, ok := b.Model.(lm.PrecisionSetter); ok {
		p, _ := nn.ParsePrecision(s.precision) // apply checked it
		ps.SetPrecision(p)
	}
	lm.KeepPacked(b.Model) // the weights do not change while sampling
	return b, c, nil
}

// notes says which sampling settings came from a model's
// generation_config.json rather than the flags' defaults, and which flags
// the canvas capped: one line each, nothing when the flags rule.
func (s *samplerFlags) notes(dir string, g modeldir.Generation, c mdlm.SamplerConfig, masked bool) []string {
	var taken []string
	add := func(flag string, v int) {
		if !s.set[flag] {
			taken = append(taken, fmt.Sprintf("--%s %d", flag, v))
		}
	}
	if g.MaxNewTokens > 0 {
		add("max-new-tokens", c.MaxNewTokens)
		add("steps", c.Steps)
		add("block-size", c.BlockSize)
	} else if g.BlockSize > 0 && g.Sampler == bd3lm.ObjectiveName {
		add("block-size", c.BlockSize)
	}
	if g.Sampler != "" && !s.set["sampler"] {
		taken = append(taken, "--sampler "+g.Sampler)
	}
	taken = append(taken, s.knobsTaken(c)...)
	var out []string
	if len(taken) > 0 {
		out = append(out, fmt.Sprintf("%s: the model's defaults: %s (a flag given overrides them)",
			filepath.Join(dir, modeldir.GenerationConfigFile), strings.Join(taken, ", ")))
	}
	if s.set["block-size"] && s.blockSize > c.BlockSize {
		out = append(out, fmt.Sprintf("--block-size %d is capped to the canvas of %d tokens (--max-new-tokens)", s.blockSize, c.BlockSize))
	}
	// The block sampler reveals at least one token a step (a step that
	// would reveal none is dropped), so a block takes at most its size in
	// steps.
	if masked && s.sampler == "block" && s.set["steps"] && c.Steps > c.MaxNewTokens {
		out = append(out, fmt.Sprintf("--steps %d is capped to the canvas of %d tokens (--max-new-tokens): at most one step per token", c.Steps, c.MaxNewTokens))
	}
	return out
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

// knobsTaken lists the sampling knobs (temperature, remasking, ...) whose
// values came from the model folder's generation_config.json rather than
// from a flag, as "--flag value", sorted.
func (s *samplerFlags) knobsTaken(c mdlm.SamplerConfig) []string {
	var taken []string
	for k := range s.fromModel {
		if s.set[k] {
			continue
		}
		var v any
		switch k {
		case "temperature":
			v = c.Temperature
		case "remasking":
			v = c.Remasking
		case "threshold":
			v = c.Threshold
		case "cfg":
			v = c.CFGScale
		case "alg-temp":
			v = c.AlgTemp
		case "stochastic-transfer":
			v = c.StochasticTransfer
		case "top-k":
			v = c.Truncation.TopK
		case "top-p":
			v = c.Truncation.TopP
		}
		taken = append(taken, fmt.Sprintf("--%s %v", k, v))
	}
	sort.Strings(taken)
	return taken
}
