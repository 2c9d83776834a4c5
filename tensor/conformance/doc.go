// Package conformance is the op-by-op test suite that every tensor.Backend
// must pass. It draws seeded random inputs with odd shapes, runs each op on
// the backend under test and compares the results with plain float64
// reference implementations (ref.go). Backward ops are checked against
// central finite differences of the float64 reference forward (gradcheck.go),
// with a random projection of the output as the scalar loss, so that every
// input element's gradient is checked.
//
// The suite also checks the calling conventions of backend.go: forward
// outputs are poisoned with NaN before the call (an element the op forgets
// to write shows up), and gradient outputs start from random values (an op
// that overwrites instead of accumulating shows up).
//
// A backend other than the CPU is additionally compared with the CPU backend
// on the same inputs. Use it from a backend's tests:
//
//	func TestConformance(t *testing.T) {
//		b := conformance.Open(t, "cuda") // skips without a GPU, unless DLLM_REQUIRE_GPU=1
//		conformance.Run(t, b, conformance.CPUTolerances())
//	}
//
// RunContracts checks the other side: that a backend refuses the operands
// each op's contract (tensor.CheckX) refuses, with the contract's message.
// It needs no data, so it also runs on a backend that only records its
// launches (the CUDA backend's dry run).
//
// Set DLLM_CONFORMANCE_SEED to an integer to draw other inputs than the
// default ones; a failure message names the seed that produced it.
package conformance
