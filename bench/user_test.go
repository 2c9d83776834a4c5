package bench

import (
	"fmt"
	"math/rand/v2"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dllmgo/dllm/bert"
	"github.com/dllmgo/dllm/data"
	"github.com/dllmgo/dllm/lm"
	"github.com/dllmgo/dllm/mdlm"
	"github.com/dllmgo/dllm/tensor"
	"github.com/dllmgo/dllm/tensor/gemm"
	"github.com/dllmgo/dllm/train"
)

// The benchmarks below time what users run, each reporting tokens/s, the
// achieved GFLOP/s (FLOPs counted analytically, see flops.go) and, measured
// in the same iterations, this build's SGEMM 1024³ (sgemm-GFLOP/s), with
// their ratio step/sgemm: on a shared machine both slow down together, so
// the ratio is steadier than either. The thread count is GOMAXPROCS, so
//
//	go test ./bench -run '^$' -bench 'TrainerStep|Generate' -cpu 1,2 -benchtime 3x
//
// gives both thread counts in benchstat's form.

// sgemmProbe times one SGEMM 1024³ between the timed iterations.
type sgemmProbe struct {
	a, b, c []float32
	flops   float64
	secs    float64
	cpu0    time.Duration // the process's CPU time at the start
	cpu     time.Duration // the CPU time of the probes
}

func newSgemmProbe() *sgemmProbe {
	const n = 1024
	rng := rand.New(rand.NewPCG(1, 2))
	p := &sgemmProbe{a: make([]float32, n*n), b: make([]float32, n*n), c: make([]float32, n*n)}
	for i := range p.a {
		p.a[i], p.b[i] = rng.Float32()-0.5, rng.Float32()-0.5
	}
	gemm.Sgemm(false, false, n, n, n, 1, p.a, n, p.b, n, 0, p.c, n) // warm-up
	return p
}

// start marks the start of the timed iterations (after the warm-up).
func (p *sgemmProbe) start() { p.cpu0, _ = processCPUTime() }

// run times one product with b's timer stopped.
func (p *sgemmProbe) run(b *testing.B) {
	const n = 1024
	b.StopTimer()
	c0, _ := processCPUTime()
	t0 := time.Now()
	gemm.Sgemm(false, false, n, n, n, 1, p.a, n, p.b, n, 0, p.c, n)
	p.secs += time.Since(t0).Seconds()
	c1, _ := processCPUTime()
	p.cpu += c1 - c0
	p.flops += 2 * n * n * n
	b.StartTimer()
}

// report adds the throughput metrics of b.N iterations of flops FLOPs and
// tokens tokens each.
func report(b *testing.B, p *sgemmProbe, tokens, flops float64) {
	cpu1, haveCPU := processCPUTime()
	secs := b.Elapsed().Seconds()
	gf := flops * float64(b.N) / secs / 1e9
	sg := p.flops / p.secs / 1e9
	b.ReportMetric(tokens*float64(b.N)/secs, "tokens/s")
	b.ReportMetric(gf, "GFLOP/s")
	b.ReportMetric(sg, "sgemm-GFLOP/s")
	b.ReportMetric(gf/sg, "step/sgemm")
	if haveCPU {
		// All threads, less the probes': on a machine shared with other
		// work the steadiest measure of the work done.
		stepCPU := (cpu1 - p.cpu0 - p.cpu).Seconds()
		b.ReportMetric(1e3*stepCPU/float64(b.N), "cpu-ms/op")
		// The same ratio by CPU time (GFLOP per CPU-second of the step
		// over the probes'), which other jobs on the machine disturb less
		// than the wall-clock one.
		if stepCPU > 0 && p.cpu > 0 {
			b.ReportMetric(flops*float64(b.N)/stepCPU/(p.flops/p.cpu.Seconds()), "cpu-step/sgemm")
		}
	}
}

// BenchmarkTrainerStep times train.Trainer.Step, the trainer's own step, at
// the CPU reference config (the small preset, vocabulary 4096, 8 × 256
// random tokens): the MDLM objective's corruption, the uploads, logits at
// the masked positions only, the loss, backward, gradient clipping at 1,
// AdamW (weight decay 0.01) and zeroing the gradients. FLOPs assume the
// expected half of the positions masked.
func BenchmarkTrainerStep(b *testing.B) {
	cfg := ReferenceConfig()
	const batch, seq = ReferenceBatch, ReferenceSeq
	m := bert.New(cfg, tensor.CPU())
	rng := rand.New(rand.NewPCG(1, 2))
	m.Init(rng)
	batches := make([]data.Batch, 4)
	for i := range batches {
		ids := make([]int32, batch*seq)
		for j := range ids {
			ids[j] = int32(5 + rng.IntN(cfg.VocabSize-5))
		}
		batches[i] = data.Batch{B: batch, S: seq, InputIDs: ids}
	}
	obj := mdlm.NewObjective(mdlm.ObjectiveOptions{MaskID: int32(cfg.MaskTokenID)})
	tr, err := train.New(m, func(int) []data.Batch { return batches }, nil, train.Options{
		Steps: 1 << 30, LR: 1e-4, Schedule: "constant", WeightDecay: 0.01, Clip: 1, Seed: 3, Objective: obj,
	}, train.Hooks{})
	require.NoError(b, err)
	b.Run(fmt.Sprintf("small-v%d-%dx%d", cfg.VocabSize, batch, seq), func(b *testing.B) {
		b.ReportAllocs()
		p := newSgemmProbe()
		_, err := tr.Step() // warm-up: gradient buffers, AdamW moments
		require.NoError(b, err)
		p.start()
		for b.Loop() {
			_, err := tr.Step()
			require.NoError(b, err)
			p.run(b)
		}
		report(b, p, batch*seq, TrainStepFLOPs(cfg, batch, seq, batch*seq/2))
	})
}

// BenchmarkGenerate times dllm generate's sampling loop at batch 1 with the
// weights kept packed, as generate runs it: a 64-token prompt, 128 new
// tokens, 128 steps, blocks of 32, low-confidence remasking at temperature
// 0, the whole canvas sampled (FullCanvas, so every run takes all 128
// steps), for the tiny, small and modernbert-base presets at vocabularies
// 1024 and 50368, with and without the block cache. Random weights.
// modernbert-base takes about a minute per run without the cache on 2
// cores, so it runs only with DLLM_LONG_TESTS=1 (and -benchtime 1x).
func BenchmarkGenerate(b *testing.B) {
	const prompt, gen, steps, block = 64, 128, 128, 32
	presets := []string{"tiny", "small"}
	if os.Getenv("DLLM_LONG_TESTS") == "1" {
		presets = append(presets, "modernbert-base")
	}
	for _, preset := range presets {
		for _, vocab := range []int{1024, 50368} {
			cfg, err := bert.Preset(preset)
			require.NoError(b, err)
			cfg.VocabSize = vocab
			cfg.PadTokenID, cfg.MaskTokenID = vocab-2, vocab-1
			var m *bert.Model
			for _, cache := range []bool{false, true} {
				b.Run(fmt.Sprintf("%s/vocab=%d/cache=%t", preset, vocab, cache), func(b *testing.B) {
					if m == nil { // built only when a run selects it
						m = bert.New(cfg, tensor.CPU())
						m.Init(rand.New(rand.NewPCG(1, 2)))
						lm.KeepPacked(m)
					}
					rng := rand.New(rand.NewPCG(3, 4))
					ids := make([]int32, prompt)
					for i := range ids {
						ids[i] = int32(rng.IntN(vocab - 2))
					}
					c := mdlm.SamplerConfig{MaxNewTokens: gen, Steps: steps, BlockSize: block, FullCanvas: true,
						MaskID: int32(cfg.MaskTokenID), PadID: int32(cfg.PadTokenID), Cache: cache}
					p := newSgemmProbe()
					_, err := mdlm.Generate(m, [][]int32{ids}, c, mdlm.NewRand(5)) // warm-up: packing, pools
					require.NoError(b, err)
					b.ReportAllocs()
					p.start()
					for b.Loop() {
						_, err := mdlm.Generate(m, [][]int32{ids}, c, mdlm.NewRand(5))
						require.NoError(b, err)
						p.run(b)
					}
					report(b, p, gen, SamplingFLOPs(cfg, prompt, gen, steps, block, cache))
				})
			}
		}
	}
}
