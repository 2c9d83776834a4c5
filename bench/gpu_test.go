package bench

import (
	"fmt"
	"math/rand/v2"
	"os"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dllmgo/dllm/bert"
	"github.com/dllmgo/dllm/kernels"
	"github.com/dllmgo/dllm/mdlm"
	"github.com/dllmgo/dllm/nn"
	"github.com/dllmgo/dllm/tensor"
)

// The GPU workloads of PERF.md: ModernBERT-base (149.7M parameters, random
// init) training steps at batch 16 × 512 and 8 × 1024, logits at every
// position, AdamW; and sampling, batch 1, 64 prompt tokens + 128 generated,
// low-confidence remasking, blocks of 32. PERF.md's PyTorch numbers come from
// an H100 80GB: compare with them only on that card, and prefer ratios of
// two runs on one machine. Each reports tokens/s (or ms per generation) and
// the allocator's peak device memory.
//
// They need a GPU and skip without one (fail with DLLM_REQUIRE_GPU=1):
//
//	go test -run '^$' -bench GPU -benchtime 5x ./bench

func openGPU(tb testing.TB) *kernels.Backend {
	tb.Helper()
	b, err := kernels.Open()
	if err != nil {
		if os.Getenv("DLLM_REQUIRE_GPU") == "1" {
			tb.Fatalf("DLLM_REQUIRE_GPU=1 but the CUDA backend does not open: %v", err)
		}
		tb.Skipf("no GPU: %v", err)
	}
	return b.(*kernels.Backend)
}

// baseConfig is ModernBERT-base as released.
func baseConfig(tb testing.TB) bert.Config {
	cfg, err := bert.Preset("modernbert-base")
	require.NoError(tb, err)
	return cfg
}

func BenchmarkModernBERTGPUTrainStep(tb *testing.B) {
	g := openGPU(tb)
	for _, c := range []struct {
		batch, seq int
		prec       nn.Precision
	}{{16, 512, nn.PrecisionF32}, {16, 512, nn.PrecisionBF16}, {8, 1024, nn.PrecisionBF16}} {
		tb.Run(fmt.Sprintf("base %dx%d %v", c.batch, c.seq, c.prec), func(tb *testing.B) {
			w, err := NewWorkload(baseConfig(tb), g, c.batch, c.seq, 1)
			require.NoError(tb, err)
			w.Precision = c.prec
			w.TrainStep(1e-4) // warm-up: kernels compiled, gradients and moments allocated
			require.NoError(tb, g.Sync())
			g.ResetPeak()
			timeSteps(tb, w.Tokens(), func() { w.TrainStep(1e-4) })
			tb.ReportMetric(float64(g.MemoryStats().Peak)/1e9, "peak-GB")
		})
	}
}

func BenchmarkModernBERTGPUSample(tb *testing.B) {
	g := openGPU(tb)
	cfg := baseConfig(tb)
	m := bert.New(cfg, g)
	m.Init(rand.New(rand.NewPCG(1, 2)))
	rng := rand.New(rand.NewPCG(3, 4))
	prompt := make([]int32, 64)
	for i := range prompt {
		prompt[i] = int32(rng.IntN(cfg.VocabSize))
	}
	// With graphs (the default: bert records the forward pass once per shape)
	// and without, for the ratio on one machine.
	for _, c := range []struct {
		steps  int
		graphs bool
	}{{128, true}, {128, false}, {64, true}} {
		steps := c.steps
		tb.Run(fmt.Sprintf("base 64+128 steps %d graphs %v", steps, c.graphs), func(tb *testing.B) {
			m.NoGraphs = !c.graphs
			sc := mdlm.SamplerConfig{MaxNewTokens: 128, Steps: steps, BlockSize: 32,
				MaskID: int32(cfg.MaskTokenID), PadID: int32(cfg.PadTokenID), FullCanvas: true}
			gen := func() {
				_, err := mdlm.Generate(m, [][]int32{prompt}, sc, rand.New(rand.NewPCG(5, 6)))
				require.NoError(tb, err)
			}
			gen() // warm-up
			g.ResetPeak()
			timeSteps(tb, 128, gen)
			tb.ReportMetric(float64(g.MemoryStats().Peak)/1e9, "peak-GB")
		})
	}
}

// TestGPUWorkloadMatchesCPU runs two training steps of the CPU reference
// workload on the GPU and the CPU from the same seed: the losses must agree,
// so the GPU benchmarks time the same work.
func TestGPUWorkloadMatchesCPU(t *testing.T) {
	g := openGPU(t)
	cfg, err := bert.Preset("tiny")
	require.NoError(t, err)
	cfg.VocabSize, cfg.PadTokenID = 512, 3
	var losses [2][]float32
	for i, b := range []tensor.Backend{tensor.CPU(), g} {
		w, err := NewWorkload(cfg, b, 2, 64, 7)
		require.NoError(t, err)
		for range 2 {
			losses[i] = append(losses[i], w.TrainStep(3e-3))
		}
	}
	for k := range losses[0] {
		require.InEpsilon(t, losses[0][k], losses[1][k], 1e-4, "step %d: CPU %v, GPU %v", k, losses[0], losses[1])
	}
}
