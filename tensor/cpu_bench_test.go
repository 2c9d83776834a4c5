package tensor_test

import (
	"os"
	"testing"

	"github.com/dllmgo/dllm/tensor"
	"github.com/dllmgo/dllm/tensor/opbench"
)

// BenchmarkOps runs the shared op benchmarks (package opbench) on the CPU
// at the tiny ModernBERT's shapes, under the names the CUDA backend's
// BenchmarkOps uses (package kernels), so the two runs compare line by
// line. DLLM_BENCH_BASE=1 adds ModernBERT-base's shapes, which the GPU
// runs too (slow on a CPU: minutes per op at its default bench time).
func BenchmarkOps(b *testing.B) {
	opbench.Run(b, tensor.CPU(), opbench.Config{Shape: opbench.Tiny})
	if os.Getenv("DLLM_BENCH_BASE") == "1" {
		opbench.Run(b, tensor.CPU(), opbench.Config{Shape: opbench.Base})
	}
}
