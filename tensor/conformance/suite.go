package conformance

import (
	"errors"
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"os"
	"strconv"
	"testing"

	"github.com/dllmgo/dllm/tensor"
)

// Tolerances bound the error of a backend's results. An output passes when
// max|got − want| / max|want| is at most the bound, where want is the float64
// reference (for an accumulating output, the maxima are taken over the
// accumulated part, so the bound is relative to the gradient, not to the
// starting values). An all-zero expectation is compared absolutely.
type Tolerances struct {
	// F32 bounds every op on F32 data unless PerOp names it.
	F32 float64
	// BF16 bounds MatMul with BF16 operands (RunBF16MatMul) and attention
	// computed in bf16 (RunBF16Attention).
	BF16 float64
	// PerOp overrides F32 for some ops, keyed by Backend method name
	// ("Attention", "AttentionBackward", "MatMul", ...): a GPU that computes
	// in bf16 or TF32 states its looser bounds here.
	PerOp map[string]float64
}

// CPUTolerances are the bounds a float32 backend meets: 1e-5 for F32 ops,
// 2e-2 for BF16 operands. Every op of the CPU backend meets 1e-5, including
// the long reductions, because it accumulates sums in float64.
func CPUTolerances() Tolerances { return Tolerances{F32: 1e-5, BF16: 2e-2} }

func (tol Tolerances) forOp(op string) float64 {
	if v, ok := tol.PerOp[op]; ok {
		return v
	}
	switch op {
	case "MatMulBF16", "AttentionBF16", "AttentionBackwardBF16":
		return tol.BF16
	}
	return tol.F32
}

// Open returns the backend called name for a test. When it cannot be opened
// (no GPU, no driver) the test is skipped, unless the environment sets
// DLLM_REQUIRE_GPU=1: then it fails, so that a GPU run cannot pass by
// skipping.
func Open(t testing.TB, name string) tensor.Backend {
	t.Helper()
	b, err := tensor.Open(name)
	if err != nil {
		if os.Getenv("DLLM_REQUIRE_GPU") == "1" {
			t.Fatalf("DLLM_REQUIRE_GPU=1 but %v", err)
		}
		t.Skipf("backend %s not available: %v", name, err)
	}
	return b
}

// Run runs every op's checks on b, one subtest per op group and case. When b
// is not the CPU backend, each result is also compared with the CPU's on the
// same inputs, at twice the tolerance (each side may err by one tolerance).
func Run(t *testing.T, b tensor.Backend, tol Tolerances) {
	runCases(t, b, tol, allCases())
}

// RunBF16MatMul checks MatMul with BF16 a and b and an F32 c (bf16 inputs,
// f32 accumulation), the products of mixed-precision training. The reference
// multiplies the BF16 values exactly, so the bound tol.BF16 covers only the
// accumulation. The CPU backend, which widens the operands exactly, meets
// its F32 bound here too.
func RunBF16MatMul(t *testing.T, b tensor.Backend, tol Tolerances) {
	runCases(t, b, tol, bf16MatMulCases())
}

// RunBF16Weights checks MatMul of an F32 a by a BF16 b (weights kept in
// BF16 for inference) against the float64 reference of the BF16 values at
// the F32 bound (widening is exact). The CPU backend takes it; the CUDA
// backend multiplies BF16 weights by BF16 activations instead
// (RunBF16MatMul).
func RunBF16Weights(t *testing.T, b tensor.Backend, tol Tolerances) {
	runCases(t, b, tol, bf16WeightCases())
}

// RunBF16Attention runs the attention checks with AttentionParams.BF16 set,
// for a backend that then computes attention in bf16 with f32 accumulation
// (the CUDA tensor-core kernels); tol.BF16 bounds them, against the float64
// reference of the unrounded inputs and against the CPU's f32 result.
func RunBF16Attention(t *testing.T, b tensor.Backend, tol Tolerances) {
	runCases(t, b, tol, bf16AttentionCases())
}

func runCases(t *testing.T, b tensor.Backend, tol Tolerances, cs []testCase) {
	seed := baseSeed()
	for _, c := range cs {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(b, tol, seed, c.name)
			if err := c.run(e); err != nil {
				t.Errorf("seed %d: %v", seed, err)
			}
		})
	}
}

// baseSeed is DLLM_CONFORMANCE_SEED, or 1.
func baseSeed() uint64 {
	if s := os.Getenv("DLLM_CONFORMANCE_SEED"); s != "" {
		if v, err := strconv.ParseUint(s, 10, 64); err == nil {
			return v
		}
	}
	return 1
}

// A testCase is one group of checks: it draws its inputs from e.rng and
// returns every mismatch it finds.
type testCase struct {
	name string
	run  func(e *env) error
}

// env is what a case runs with: the backend under test, the bounds and a
// random source seeded from the case's name, so that cases do not shift each
// other's inputs.
type env struct {
	b   tensor.Backend
	tol Tolerances
	rng *rand.Rand
}

func newEnv(b tensor.Backend, tol Tolerances, seed uint64, name string) *env {
	h := fnv.New64a()
	h.Write([]byte(name))
	return &env{b: b, tol: tol, rng: rand.New(rand.NewPCG(seed, h.Sum64()))}
}

// A trial is one call of an op on fixed host inputs. run performs it on a
// backend (uploading the inputs, poisoning or seeding the outputs) and
// returns the outputs, still on that backend, in the order of outs.
type trial struct {
	name string // says which inputs, for messages
	op   string // the Backend method, which picks the tolerance
	run  func(b tensor.Backend) []*tensor.Tensor
	outs []expect
}

// expect is the reference for one output.
type expect struct {
	name string
	want []float64
	// base holds the output's contents before the call when the op
	// accumulates into it; want then includes base.
	base []float64
	// exact asks for bit-for-bit equality (casts, copies, gathers).
	exact bool
}

// check runs the trial on the backend under test and compares its outputs
// with the references, and with the CPU backend's outputs when the backend
// is another one.
func (e *env) check(tr trial) error {
	got, err := execute(e.b, tr.run)
	if err != nil {
		return fmt.Errorf("%s %s: %v", tr.op, tr.name, err)
	}
	if len(got) != len(tr.outs) {
		return fmt.Errorf("%s %s: %d outputs, want %d", tr.op, tr.name, len(got), len(tr.outs))
	}
	tol := e.tol.forOp(tr.op)
	var errs []error
	for k, x := range tr.outs {
		if err := compare(got[k], x, tol); err != nil {
			errs = append(errs, fmt.Errorf("%s %s: %s: %v", tr.op, tr.name, x.name, err))
		}
	}
	if e.b.Name() != tensor.CPU().Name() {
		ref, err := execute(tensor.CPU(), tr.run)
		if err != nil {
			return errors.Join(append(errs, fmt.Errorf("%s %s on the CPU: %v", tr.op, tr.name, err))...)
		}
		for k, x := range tr.outs {
			vsCPU := expect{name: x.name, want: ref[k], base: x.base, exact: x.exact}
			if err := compare(got[k], vsCPU, 2*tol); err != nil {
				errs = append(errs, fmt.Errorf("%s %s: %s against the CPU backend: %v", tr.op, tr.name, x.name, err))
			}
		}
	}
	return errors.Join(errs...)
}

// execute runs f on b and brings its outputs to the host as float64. A panic
// becomes an error, so that one broken op does not stop the suite.
func execute(b tensor.Backend, f func(b tensor.Backend) []*tensor.Tensor) (out [][]float64, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic: %v", r)
		}
	}()
	for _, t := range f(b) {
		out = append(out, values(b.ToHost(t)))
	}
	return out, nil
}

// safely runs f, turning a panic into an error.
func safely(f func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic: %v", r)
		}
	}()
	return f()
}

// compare checks got against x within the relative bound tol.
func compare(got []float64, x expect, tol float64) error {
	if len(got) != len(x.want) {
		return fmt.Errorf("%d values, want %d", len(got), len(x.want))
	}
	scale := 0.0
	for i, w := range x.want {
		if x.base != nil {
			w -= x.base[i]
		}
		if !math.IsInf(w, 0) && !math.IsNaN(w) {
			scale = max(scale, math.Abs(w))
		}
	}
	if scale == 0 {
		scale = 1
	}
	worst, at := 0.0, -1
	for i, w := range x.want {
		g := got[i]
		switch {
		case math.IsNaN(w) || math.IsInf(w, 0) || x.exact:
			if !(g == w || math.IsNaN(g) && math.IsNaN(w)) {
				return fmt.Errorf("at %d: got %v, want %v exactly", i, g, w)
			}
			continue
		case math.IsNaN(g) || math.IsInf(g, 0):
			return fmt.Errorf("at %d: got %v, want %v", i, g, w)
		}
		if d := math.Abs(g-w) / scale; d > worst {
			worst, at = d, i
		}
	}
	if worst > tol {
		return fmt.Errorf("relative error %.3g > %.3g at %d: got %.9g, want %.9g (scale %.3g)", worst, tol, at, got[at], x.want[at], scale)
	}
	return nil
}

// collect joins the errors of several trials.
func (e *env) collect(trs ...trial) error {
	var errs []error
	for _, tr := range trs {
		if err := e.check(tr); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
