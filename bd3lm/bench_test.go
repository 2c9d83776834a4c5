package bd3lm_test

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/dllmgo/dllm/bd3lm"
	"github.com/dllmgo/dllm/bert"
	"github.com/dllmgo/dllm/mdlm"
	"github.com/dllmgo/dllm/tensor"
)

// BenchmarkLongAnswers compares the time per generated token of MDLM's block
// sampler (the canvas fixed in advance, every step over all of it) with
// BD3LM's (blocks appended, the prefix cache advanced block by block), as
// the answer grows (and BD3LM's with the reference's cache, rebuilt from the
// whole prefix at every block, and without a cache, every step over the
// whole prefix): the tiny preset with sft's 1,024-token vocabulary, random weights,
// a 32-token prompt, one step per token, blocks of 32 for both samplers.
// End-of-text and padding are suppressed, so that both samplers write every
// token.
//
//	go test ./bd3lm -run '^$' -bench LongAnswers -benchtime 1x
func BenchmarkLongAnswers(b *testing.B) {
	cfg, err := bert.Preset("tiny")
	if err != nil {
		b.Fatal(err)
	}
	const vocab = 1024
	cfg.VocabSize, cfg.PadTokenID, cfg.MaskTokenID = vocab, vocab-2, vocab-1
	eos := int32(vocab - 3)
	m := bert.New(cfg, tensor.CPU())
	m.Init(rand.New(rand.NewPCG(1, 2)))
	rng := rand.New(rand.NewPCG(3, 4))
	prompt := make([]int32, 32)
	for i := range prompt {
		prompt[i] = int32(rng.IntN(vocab - 3))
	}
	for _, n := range []int{32, 128, 256} {
		c := mdlm.SamplerConfig{MaxNewTokens: n, Steps: n, BlockSize: 32, FullCanvas: true,
			MaskID: int32(cfg.MaskTokenID), PadID: int32(cfg.PadTokenID), SuppressTokens: []int32{eos, int32(cfg.PadTokenID)}}
		for _, name := range []string{"mdlm", "bd3lm", "bd3lm-rebuild", "bd3lm-uncached"} {
			b.Run(fmt.Sprintf("%s/tokens=%d", name, n), func(b *testing.B) {
				for b.Loop() {
					var err error
					if name == "mdlm" {
						_, err = mdlm.Generate(m, [][]int32{prompt}, c, mdlm.NewRand(5))
					} else {
						cc := c
						cc.Cache = name != "bd3lm-uncached"
						_, err = bd3lm.GenerateWith(m, [][]int32{prompt}, cc, eos, mdlm.NewRand(5), bd3lm.SampleOptions{Rebuild: name == "bd3lm-rebuild"})
					}
					if err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(b.Elapsed().Seconds()*1000/float64(n*b.N), "ms/token")
			})
		}
	}
}

// BenchmarkPrefixCache times BD3LM's sampler with the prefix cache advanced
// block by block against the reference's, rebuilt from the whole prefix at
// every block, at 32 and 512 new tokens with blocks of 4 and 16: the tiny
// preset with a
// 1,024-token vocabulary, random weights, a 32-token prompt, one step per
// token, end-of-text suppressed.
//
//	go test ./bd3lm -run '^$' -bench 'PrefixCache/block=4/advanced' -benchtime 1x
func BenchmarkPrefixCache(b *testing.B) {
	cfg, err := bert.Preset("tiny")
	if err != nil {
		b.Fatal(err)
	}
	const vocab = 1024
	cfg.VocabSize, cfg.PadTokenID, cfg.MaskTokenID = vocab, vocab-2, vocab-1
	eos := int32(vocab - 3)
	m := bert.New(cfg, tensor.CPU())
	m.Init(rand.New(rand.NewPCG(1, 2)))
	rng := rand.New(rand.NewPCG(3, 4))
	prompt := make([]int32, 32)
	for i := range prompt {
		prompt[i] = int32(rng.IntN(vocab - 3))
	}
	for _, bs := range []int{4, 16} {
		for _, n := range []int{32, 512} {
			c := mdlm.SamplerConfig{MaxNewTokens: n, Steps: n, BlockSize: bs, Cache: true,
				MaskID: int32(cfg.MaskTokenID), PadID: int32(cfg.PadTokenID), SuppressTokens: []int32{eos, int32(cfg.PadTokenID)}}
			for _, rebuild := range []bool{false, true} {
				name := map[bool]string{false: "advanced", true: "rebuilt"}[rebuild]
				b.Run(fmt.Sprintf("block=%d/%s/tokens=%d", bs, name, n), func(b *testing.B) {
					for b.Loop() {
						if _, err := bd3lm.GenerateWith(m, [][]int32{prompt}, c, eos, mdlm.NewRand(5), bd3lm.SampleOptions{Rebuild: rebuild}); err != nil {
							b.Fatal(err)
						}
					}
					b.ReportMetric(b.Elapsed().Seconds()*1000/float64(n*b.N), "ms/token")
				})
			}
		}
	}
}
