package tensor_test

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dllmgo/dllm/tensor"
)

// randBF16 draws N(0, 1) values rounded to bfloat16.
func randBF16(rng *rand.Rand, shape ...int) *tensor.Tensor {
	x := cpu.New(tensor.BF16, shape...)
	cpu.Cast(x, randF32(rng, shape...))
	return x
}

// widen is x as F32 (exact for BF16).
func widen(x *tensor.Tensor) *tensor.Tensor {
	f := cpu.New(tensor.F32, x.Shape()...)
	cpu.Cast(f, x)
	return f
}

// BF16 operands, alone or paired, give bit for bit the F32 product of their
// widened values: the CPU's bf16 MatMul is its SGEMM after an exact copy.
func TestMatMulBF16IsTheWidenedProduct(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	type operand func(shape ...int) *tensor.Tensor
	f32 := func(shape ...int) *tensor.Tensor { return randF32(rng, shape...) }
	bf16 := func(shape ...int) *tensor.Tensor { return randBF16(rng, shape...) }
	for _, c := range []struct {
		name       string
		a, b       operand
		sa, sb, sc []int
		tA, tB     bool
	}{
		{"bf16·bf16", bf16, bf16, []int{37, 70}, []int{70, 29}, []int{37, 29}, false, false},
		{"bf16·bf16ᵀ", bf16, bf16, []int{37, 70}, []int{29, 70}, []int{37, 29}, false, true},
		{"bf16ᵀ·bf16", bf16, bf16, []int{70, 37}, []int{70, 29}, []int{37, 29}, true, false},
		{"bf16·f32", bf16, f32, []int{13, 21}, []int{21, 8}, []int{13, 8}, false, false},
		{"f32·bf16ᵀ", f32, bf16, []int{13, 21}, []int{8, 21}, []int{13, 8}, false, true},
		{"batched, shared b", bf16, bf16, []int{3, 9, 17}, []int{17, 5}, []int{3, 9, 5}, false, false},
		{"batched ᵀ·", bf16, bf16, []int{3, 17, 9}, []int{3, 17, 5}, []int{3, 9, 5}, true, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			a, b := c.a(c.sa...), c.b(c.sb...)
			c0 := randF32(rng, c.sc...)
			got, want := clone(c0), clone(c0)
			cpu.MatMul(got, a, b, c.tA, c.tB, 0.75, 0.5)
			cpu.MatMul(want, widen(a), widen(b), c.tA, c.tB, 0.75, 0.5)
			require.Equal(t, want.F32(), got.F32())
		})
	}
}

// The float64 reference: Σₖ a[i,k]·b[k,j] over the widened bf16 values,
// which bf16 × bf16 products represent exactly in float64.
func TestMatMulBF16Float64Reference(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 14))
	m, n, k := 19, 23, 301
	a, b := randBF16(rng, m, k), randBF16(rng, n, k)
	c := cpu.New(tensor.F32, m, n)
	cpu.MatMul(c, a, b, false, true, 1, 0)
	av, bv := widen(a).F32(), widen(b).F32()
	var maxErr, maxAbs float64
	for i := range m {
		for j := range n {
			var s float64
			for p := range k {
				s += float64(av[i*k+p]) * float64(bv[j*k+p])
			}
			maxErr = math.Max(maxErr, math.Abs(float64(c.F32()[i*n+j])-s))
			maxAbs = math.Max(maxAbs, math.Abs(s))
		}
	}
	// f32 accumulation of 301 terms: a few ulps of the largest sums.
	assert.Less(t, maxErr/maxAbs, 1e-5)
}

func TestMatMulDTypeChecks(t *testing.T) {
	f := func(dt tensor.DType, shape ...int) *tensor.Tensor { return cpu.New(dt, shape...) }
	assert.PanicsWithValue(t, "tensor: MatMul: BF16[2,2]@cpu is not F32", func() {
		cpu.MatMul(f(tensor.BF16, 2, 2), f(tensor.BF16, 2, 2), f(tensor.BF16, 2, 2), false, false, 1, 0)
	})
	assert.PanicsWithValue(t, "tensor: MatMul: I32[2,2]@cpu is neither F32 nor BF16", func() {
		cpu.MatMul(f(tensor.F32, 2, 2), f(tensor.F32, 2, 2), f(tensor.I32, 2, 2), false, false, 1, 0)
	})
}
