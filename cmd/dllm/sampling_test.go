package main

import (
	"encoding/json"
	"io"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dllmgo/dllm/mdlm"
)

// TestSamplingCache runs generate, eval and chat with --cache on a briefly
// trained model. With one step per block every step is a block's first,
// exact, full pass, so --cache must not change the answer; with more steps
// the cached steps run. The ancestral sampler has no blocks to cache and is
// refused.
func TestSamplingCache(t *testing.T) {
	data, model := briefTraining(t, 40, 2)

	gen := []string{"generate", "--model", model, "--prompt", "Repeat: fox tree", "--max-new-tokens", "16", "--block-size", "8"}
	code, plain, stderr := runCLI(append(gen, "--steps", "2")...)
	require.Equal(t, 0, code, stderr)
	code, cached, stderr := runCLI(append(gen, "--steps", "2", "--cache")...)
	require.Equal(t, 0, code, stderr)
	t.Logf("answer: %q", plain)
	assert.Equal(t, plain, cached, "one step per block: every step is exact")

	code, _, stderr = runCLI(append(gen, "--steps", "2")...)
	require.Equal(t, 0, code, stderr)
	assert.NotContains(t, stderr, "block cache", "no --cache, no cache count")
	code, _, stderr = runCLI(append(gen, "--steps", "2", "--cache")...)
	require.Equal(t, 0, code, stderr)
	assert.Contains(t, stderr, "(0 from the block cache)", "every step is a block's first")

	code, _, stderr = runCLI(append(gen, "--steps", "16", "--cache")...)
	require.Equal(t, 0, code, stderr)
	require.Contains(t, stderr, "16 steps")
	// Two blocks of eight steps: one full pass each, the other 14 cached.
	assert.Contains(t, stderr, "16 forward passes (14 from the block cache)")

	code, stdout, stderr := runCLI("eval", "--model", model, "--data", data, "--limit", "6", "--max-new-tokens", "8", "--steps", "8", "--block-size", "4", "--cache")
	require.Equal(t, 0, code, stderr)
	var res evalResult
	require.NoError(t, json.Unmarshal([]byte(stdout), &res), stdout)
	assert.Equal(t, 6, res.N)

	for _, args := range [][]string{
		{"generate", "--model", model, "--prompt", "hi", "--cache", "--sampler", "ancestral"},
		{"eval", "--model", model, "--data", data, "--cache", "--sampler", "ancestral"},
		{"chat", "--model", model, "--cache", "--sampler", "ancestral"},
	} {
		code, _, stderr = runCLI(args...)
		assert.Equal(t, 2, code, "%v: %s", args, stderr)
		assert.Contains(t, stderr, "--cache", args)
	}
}

// TestSamplerFlagsCache: --cache reaches the sampler configuration, and only
// with the block sampler.
func TestSamplerFlagsCache(t *testing.T) {
	for _, tc := range []struct {
		args      []string
		cache, ok bool
	}{
		{nil, false, true},
		{[]string{"--cache"}, true, true},
		{[]string{"--cache", "--threshold", "0.9", "--cfg", "1"}, true, true},
		{[]string{"--cache=false", "--sampler", "ancestral"}, false, true},
		{[]string{"--cache", "--sampler", "ancestral"}, false, false},
	} {
		var sf samplerFlags
		fs := newFlagSet("test", io.Discard)
		sf.register(fs)
		require.NoError(t, fs.Parse(tc.args))
		c, err := sf.apply(mdlm.SamplerConfig{})
		if !tc.ok {
			assert.Error(t, err, "%v", tc.args)
			continue
		}
		require.NoError(t, err, "%v", tc.args)
		assert.Equal(t, tc.cache, c.Cache, "%v", tc.args)
	}
}

// TestGenerateSummary: the line generate prints after the answer counts the
// cached passes only when the cache is on.
func TestGenerateSummary(t *testing.T) {
	out := &mdlm.Output{Steps: 40, ForwardPasses: 40, CachedPasses: 32}
	took := 1234567 * time.Microsecond
	assert.Equal(t, "40 steps, 40 forward passes (32 from the block cache), 1.235s", generateSummary(out, true, took))
	out.CachedPasses = 0
	assert.Equal(t, "40 steps, 40 forward passes, 1.235s", generateSummary(out, false, took))
	assert.Equal(t, "40 steps, 40 forward passes (0 from the block cache), 1.235s", generateSummary(out, true, took))
}

// TestEvalRandomSamplingIgnoresBatchSize: at temperature 1 with random
// remasking, eval's answers (printed with -v) do not depend on how many
// prompts are sampled together.
func TestEvalRandomSamplingIgnoresBatchSize(t *testing.T) {
	data, model := briefTraining(t, 24, 2)
	eval := func(batch string) string {
		code, _, stderr := runCLI("eval", "--model", model, "--data", data, "--limit", "7", "--max-new-tokens", "8", "--steps", "8",
			"--block-size", "4", "--temperature", "1", "--remasking", "random", "--seed", "5", "--batch-size", batch, "-v")
		require.Equal(t, 0, code, stderr)
		return stderr
	}
	one := eval("1")
	require.NotEmpty(t, one)
	assert.Equal(t, one, eval("3"))
	assert.Equal(t, one, eval("7"))
}

// TestSamplerFlagsDream: --top-k, --top-p and Dream's rankings reach the
// sampler configuration; values out of range are refused.
func TestSamplerFlagsDream(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want mdlm.Truncation
		rank mdlm.Remasking
		ok   bool
	}{
		{nil, mdlm.Truncation{TopP: 1}, mdlm.LowConfidence, true},
		{[]string{"--top-k", "50", "--top-p", "0.95", "--remasking", "entropy"}, mdlm.Truncation{TopK: 50, TopP: 0.95}, mdlm.EntropyRemasking, true},
		{[]string{"--remasking", "topk_margin"}, mdlm.Truncation{TopP: 1}, mdlm.MarginRemasking, true},
		{[]string{"--remasking", "maskgit_plus"}, mdlm.Truncation{TopP: 1}, mdlm.LowConfidence, true},
		{[]string{"--top-k", "-1"}, mdlm.Truncation{}, 0, false},
		{[]string{"--top-p", "0"}, mdlm.Truncation{}, 0, false},
		{[]string{"--top-p", "1.5"}, mdlm.Truncation{}, 0, false},
	} {
		var sf samplerFlags
		fs := newFlagSet("test", io.Discard)
		sf.register(fs)
		require.NoError(t, fs.Parse(tc.args))
		c, err := sf.apply(mdlm.SamplerConfig{})
		if !tc.ok {
			assert.Error(t, err, "%v", tc.args)
			continue
		}
		require.NoError(t, err, "%v", tc.args)
		assert.Equal(t, tc.want, c.Truncation, "%v", tc.args)
		assert.Equal(t, tc.rank, c.Remasking, "%v", tc.args)
	}
}

// TestSamplingReportsModelDefaultsAndCaps: the sizes a model's
// generation_config.json gives in place of the flags' defaults are named on
// stderr, and so is a --block-size the canvas caps; flags given are not
// reported as the model's.
func TestSamplingReportsModelDefaultsAndCaps(t *testing.T) {
	_, model := briefTraining(t, 40, 2)
	code, _, stderr := runCLI("generate", "--model", model, "--prompt", "Repeat: fox", "--steps", "4")
	require.Equal(t, 0, code, stderr)
	assert.Regexp(t, `generation_config.json: the model's defaults: --max-new-tokens \d+, --block-size \d+ \(a flag given overrides them\)`, stderr)
	assert.NotContains(t, stderr, "capped")

	code, _, stderr = runCLI("generate", "--model", model, "--prompt", "Repeat: fox", "--max-new-tokens", "8", "--steps", "4", "--block-size", "64")
	require.Equal(t, 0, code, stderr)
	assert.Contains(t, stderr, "--block-size 64 is capped to the canvas of 8 tokens (--max-new-tokens)")
	assert.NotContains(t, stderr, "--steps")

	assert.NotContains(t, stderr, "the model's defaults")

	code, _, stderr = runCLI("generate", "--model", model, "--prompt", "Repeat: fox", "--max-new-tokens", "8", "--steps", "100")
	require.Equal(t, 0, code, stderr)
	assert.Contains(t, stderr, "--steps 100 is capped to the canvas of 8 tokens (--max-new-tokens): at most one step per token")
	assert.Regexp(t, `\n[1-8] steps, `, stderr, "the summary shows the steps that ran")

	code, _, stderr = runCLI("generate", "--model", model, "--prompt", "Repeat: fox", "--max-new-tokens", "8", "--steps", "4", "--block-size", "8")
	require.Equal(t, 0, code, stderr)
	assert.NotContains(t, stderr, "generation_config.json")
	assert.NotContains(t, stderr, "capped")
}
