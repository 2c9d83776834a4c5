package bert_test

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/dllmgo/dllm/bert"
	"github.com/dllmgo/dllm/lm"
	"github.com/dllmgo/dllm/mdlm"
	"github.com/dllmgo/dllm/tensor"
)

// BenchmarkGenerateCache is the block sampler on the CPU with and without
// the DualCache, at the chat recipe's shape: a 64-token prompt, 128 new
// tokens, 128 steps, blocks of 32 (so 31 of each block's 32 steps run from
// the cache). Random weights; the whole canvas is sampled (FullCanvas), so
// every run takes all 128 steps. Vocabulary 1024 is what sft trains by
// default; 50368 is ModernBERT's, where the output head of the masked rows
// weighs more than the encoder. The weights are kept packed, as generate
// keeps them (lm.KeepPacked).
//
//	go test ./bert -run '^$' -bench GenerateCache -benchtime 2x
func BenchmarkGenerateCache(b *testing.B) {
	for _, preset := range []string{"tiny", "small"} {
		for _, vocab := range []int{1024, 50368} {
			cfg, err := bert.Preset(preset)
			if err != nil {
				b.Fatal(err)
			}
			cfg.VocabSize = vocab
			cfg.PadTokenID, cfg.MaskTokenID = vocab-2, vocab-1
			m := bert.New(cfg, tensor.CPU())
			m.Init(rand.New(rand.NewPCG(1, 2)))
			lm.KeepPacked(m)
			rng := rand.New(rand.NewPCG(3, 4))
			prompt := make([]int32, 64)
			for i := range prompt {
				prompt[i] = int32(rng.IntN(vocab - 2))
			}
			for _, cache := range []bool{false, true} {
				b.Run(fmt.Sprintf("%s/vocab=%d/cache=%t", preset, vocab, cache), func(b *testing.B) {
					c := mdlm.SamplerConfig{MaxNewTokens: 128, Steps: 128, BlockSize: 32, FullCanvas: true,
						MaskID: int32(cfg.MaskTokenID), PadID: int32(cfg.PadTokenID), Cache: cache}
					for b.Loop() {
						if _, err := mdlm.Generate(m, [][]int32{prompt}, c, mdlm.NewRand(5)); err != nil {
							b.Fatal(err)
						}
					}
					b.ReportMetric(float64(c.MaxNewTokens*b.N)/b.Elapsed().Seconds(), "tokens/s")
				})
			}
		}
	}
}
