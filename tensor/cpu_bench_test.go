package tensor_test

import (
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
