package tensor_test

import (
	"testing"

	"github.com/dllmgo/dllm/tensor"
	"github.com/dllmgo/dllm/tensor/conformance"
)

// TestCPUConformance runs the whole conformance suite on the CPU backend
// against the float64 references.
func TestCPUConformance(t *testing.T) {
	conformance.Run(t, tensor.CPU(), conformance.CPUTolerances())
}
