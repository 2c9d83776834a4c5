package tensor_test

import (
	"math/rand/v2"
	"os"
	"testing"

	"github.com/dllmgo/dllm/tensor"
	"github.com/dllmgo/dllm/tensor/opbench"
)

// BenchmarkOps runs the shared op benchmarks (package opbench) on the CPU
// under the names the CUDA backend's BenchmarkOps uses (package kernels), so
// the two runs compare line by line: every op at the tiny ModernBERT's
// shapes, and the Llama-style families' ops (RMSNorm, SwiGLU) at a
// Llama-7B width. DLLM_BENCH_ALL=1 runs every op at ModernBERT-base's and
// the Llama width too, as the GPU does (slow on a CPU: minutes).
func BenchmarkOps(b *testing.B) {
	cpu := tensor.CPU()
	opbench.Run(b, cpu, opbench.Config{Shape: opbench.Tiny})
	if os.Getenv("DLLM_BENCH_ALL") == "1" {
		opbench.Run(b, cpu, opbench.Config{Shape: opbench.Base})
		opbench.Run(b, cpu, opbench.Config{Shape: opbench.Llama})
		return
	}
	opbench.Run(b, cpu, opbench.Config{Shape: opbench.Llama, Only: []string{"RMSNorm", "SwiGLU"}})
}

// BenchmarkBlockPatternAttention is block diffusion's training attention
// ([x_t ; x_0], L = 256, blocks of 16, 4 heads of 64) forward, as structure
// (only the tiles some query may see are multiplied) and, for comparison,
// as plain global attention over the same 2L tokens (every tile).
func BenchmarkBlockPatternAttention(b *testing.B) {
	const l, nh, d = 256, 4, 64
	be := tensor.CPU()
	rng := rand.New(rand.NewPCG(1, 1))
	x := make([]float32, 2*l*3*nh*d)
	for i := range x {
		x[i] = float32(rng.NormFloat64())
	}
	qkv := tensor.FromF32(x, 1, 2*l, 3, nh, d)
	out, lse := be.New(tensor.F32, 1, 2*l, nh, d), be.New(tensor.F32, 1, nh, 2*l)
	for _, c := range []struct {
		name   string
		blocks tensor.BlockPattern
	}{{"structure", tensor.BlockPattern{Size: 16, Half: l}}, {"global", tensor.BlockPattern{}}} {
		b.Run(c.name, func(b *testing.B) {
			p := tensor.AttentionParams{Heads: nh, Scale: 0.125, Blocks: c.blocks}
			for b.Loop() {
				be.Attention(out, lse, qkv, nil, p)
			}
			b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N)/1000, "ms/op")
		})
	}
}
