package opbench_test

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/dllmgo/dllm/tensor"
	"github.com/dllmgo/dllm/tensor/opbench"
)

// TestSmokeOnCPU runs every benchmark at a tiny shape, each op once per
// timing: every call must pass its op's contract.
func TestSmokeOnCPU(t *testing.T) {
	calls := 0
	testing.Benchmark(func(b *testing.B) {
		opbench.Run(b, tensor.CPU(), opbench.Config{Shape: opbench.Smoke, Time: func(b *testing.B, op func()) float64 {
			calls++
			op()
			return 1e-3
		}})
	})
	assert.GreaterOrEqual(t, calls, 25, "one timing per benchmark at least")
}
