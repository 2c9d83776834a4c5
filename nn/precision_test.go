package nn

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dllmgo/dllm/tensor"
	"github.com/dllmgo/dllm/tensor/conformance"
)

func TestParsePrecision(t *testing.T) {
	for _, p := range []Precision{PrecisionF32, PrecisionBF16} {
		got, err := ParsePrecision(p.String())
		require.NoError(t, err)
		assert.Equal(t, p, got)
	}
	assert.Equal(t, PrecisionF32, Precision(0), "the zero value is f32")
	_, err := ParsePrecision("fp16")
	assert.EqualError(t, err, `unknown precision "fp16" (known: f32, bf16)`)
}

// roundBF16 returns x's values rounded to bfloat16, in float64.
func roundBF16(x []float32) []float64 {
	out := make([]float64, len(x))
	for i, v := range x {
		out[i] = float64(tensor.F32FromBF16(tensor.BF16FromF32(v)))
	}
	return out
}

// matMulT is a·bᵀ in float64 for a [n, k], b [m, k].
func matMulT(a, b []float64, n, m, k int) []float64 {
	out := make([]float64, n*m)
	for i := range n {
		for j := range m {
			for p := range k {
				out[i*m+j] += a[i*k+p] * b[j*k+p]
			}
		}
	}
	return out
}

// relMaxErr is max|got − want| / max|want|.
func relMaxErr(got []float32, want []float64) float64 {
	var e, s float64
	for i, w := range want {
		e = math.Max(e, math.Abs(float64(got[i])-w))
		s = math.Max(s, math.Abs(w))
	}
	return e / s
}

// bf16Valued draws N(0, 1) values that bfloat16 represents exactly.
func bf16Valued(rng *rand.Rand, n int) []float32 {
	out := make([]float32, n)
	for i := range out {
		out[i] = tensor.F32FromBF16(tensor.BF16FromF32(float32(rng.NormFloat64())))
	}
	return out
}

// linearWithGrads runs Linear on a fresh tape of precision p and
// backpropagates Σ r ⊙ y. It returns y and the gradients of x and w.
func linearWithGrads(p Precision, x, w *tensor.Tensor, r []float32) (y, dx, dw []float32) {
	xv, wv := Leaf(x.ToCPU()), Leaf(w.ToCPU())
	tp := NewTape(tensor.CPU())
	tp.Precision = p
	out := tp.Linear(xv, wv)
	tp.Backward(tp.Sum(tp.Mul(out, Constant(tensor.FromF32(r, out.Shape()...)))))
	return out.Value.F32(), xv.Grad.F32(), wv.Grad.F32()
}

// The autocast Linear is the function y = x̃·w̃ᵀ of the rounded inputs
// x̃ = bf16(x), w̃ = bf16(w), and its backward is that function's exact
// derivative with respect to x̃ and w̃ (the rounding treated as the identity,
// as PyTorch does). With an upstream gradient that bf16 holds exactly, the
// only error left is the f32 accumulation's: the forward against a float64
// product, the backward against float64 finite differences.
func TestLinearBF16IsTheRoundedProduct(t *testing.T) {
	rng := rand.New(rand.NewPCG(21, 22))
	n, in, outDim := 6, 37, 5
	x, w := randLeaf(rng, n, in).Value, randLeaf(rng, outDim, in).Value
	r := bf16Valued(rng, n*outDim)
	y, dx, dw := linearWithGrads(PrecisionBF16, x, w, r)

	xr, wr := roundBF16(x.F32()), roundBF16(w.F32())
	assert.Less(t, relMaxErr(y, matMulT(xr, wr, n, outDim, in)), 1e-6, "forward")

	// The projected loss as a float64 function of the rounded inputs.
	loss := func(xs, ws []float64) float64 {
		s := 0.0
		for i, v := range matMulT(xs, ws, n, outDim, in) {
			s += float64(r[i]) * v
		}
		return s
	}
	numDX := conformance.NumericalGradient(func(v []float64) float64 { return loss(v, wr) }, append([]float64(nil), xr...))
	numDW := conformance.NumericalGradient(func(v []float64) float64 { return loss(xr, v) }, append([]float64(nil), wr...))
	assert.Less(t, relMaxErr(dx, numDX), 1e-6, "dx")
	assert.Less(t, relMaxErr(dw, numDW), 1e-6, "dw")
}

// With any upstream gradient, the backward rounds it to bf16 once: the
// gradients are bit for bit the F32 products of the bf16 operands.
func TestLinearBF16RoundsTheUpstreamGradient(t *testing.T) {
	rng := rand.New(rand.NewPCG(23, 24))
	n, in, outDim := 9, 16, 7
	x, w := randLeaf(rng, n, in).Value, randLeaf(rng, outDim, in).Value
	r := randLeaf(rng, n*outDim).Value.F32()
	_, dx, dw := linearWithGrads(PrecisionBF16, x, w, r)

	cpu := tensor.CPU()
	bf := func(t *tensor.Tensor) *tensor.Tensor {
		b := cpu.New(tensor.BF16, t.Shape()...)
		cpu.Cast(b, t)
		return b
	}
	dy := bf(tensor.FromF32(r, n, outDim))
	wantDX, wantDW := cpu.New(tensor.F32, n, in), cpu.New(tensor.F32, outDim, in)
	cpu.MatMul(wantDX, dy, bf(w), false, false, 1, 0)
	cpu.MatMul(wantDW, dy, bf(x), true, false, 1, 0)
	assert.Equal(t, wantDX.F32(), dx)
	assert.Equal(t, wantDW.F32(), dw)
}

// On random data, autocast agrees with F32 to bf16's precision (8 bits of
// mantissa: relative errors of a few 1e-3), and does differ from it, so
// the switch is not silently ignored.
func TestLinearBF16AgreesWithF32(t *testing.T) {
	rng := rand.New(rand.NewPCG(25, 26))
	n, in, outDim := 33, 64, 20
	x, w := randLeaf(rng, n, in).Value, randLeaf(rng, outDim, in).Value
	r := randLeaf(rng, n*outDim).Value.F32()
	y32, dx32, dw32 := linearWithGrads(PrecisionF32, x, w, r)
	y16, dx16, dw16 := linearWithGrads(PrecisionBF16, x, w, r)
	for _, c := range []struct {
		name      string
		got, want []float32
	}{{"y", y16, y32}, {"dx", dx16, dx32}, {"dw", dw16, dw32}} {
		want := make([]float64, len(c.want))
		for i, v := range c.want {
			want[i] = float64(v)
		}
		e := relMaxErr(c.got, want)
		t.Logf("%s: relative error %.2e", c.name, e)
		assert.Less(t, e, 1e-2, c.name)
		assert.Greater(t, e, 1e-5, "%s: autocast changed nothing", c.name)
	}
}

// Without autocast, Linear is the plain F32 MatMul, forward and backward,
// bit for bit: the default path is untouched.
func TestLinearF32IsThePlainProduct(t *testing.T) {
	rng := rand.New(rand.NewPCG(27, 28))
	n, in, outDim := 8, 12, 10
	x, w := randLeaf(rng, n, in).Value, randLeaf(rng, outDim, in).Value
	r := randLeaf(rng, n*outDim).Value.F32()
	y, dx, dw := linearWithGrads(PrecisionF32, x, w, r)

	cpu := tensor.CPU()
	wantY, wantDX, wantDW := cpu.New(tensor.F32, n, outDim), cpu.New(tensor.F32, n, in), cpu.New(tensor.F32, outDim, in)
	dy := tensor.FromF32(r, n, outDim)
	cpu.MatMul(wantY, x, w, false, true, 1, 0)
	cpu.MatMul(wantDX, dy, w, false, false, 1, 0)
	cpu.MatMul(wantDW, dy, x, true, false, 1, 0)
	assert.Equal(t, wantY.F32(), y)
	assert.Equal(t, wantDX.F32(), dx)
	assert.Equal(t, wantDW.F32(), dw)
}

// An inference tape in bf16 gives the training tape's forward values and
// records nothing.
func TestLinearBF16NoGrad(t *testing.T) {
	rng := rand.New(rand.NewPCG(29, 30))
	x, w := randLeaf(rng, 5, 8), randLeaf(rng, 3, 8)
	tp := NoGrad(tensor.CPU())
	tp.Precision = PrecisionBF16
	y := tp.Linear(x, w)
	require.Empty(t, tp.steps)
	require.False(t, y.NeedsGrad())
	want, _, _ := linearWithGrads(PrecisionBF16, x.Value, w.Value, make([]float32, 15))
	require.Equal(t, want, y.Value.F32())
}

// attentionRecorder is the CPU backend, remembering the AttentionParams its
// attention ops were called with.
type attentionRecorder struct {
	tensor.Backend
	fwd, bwd []tensor.AttentionParams
}

func (r *attentionRecorder) Attention(out, lse, qkv, keyMask *tensor.Tensor, p tensor.AttentionParams) {
	r.fwd = append(r.fwd, p)
	r.Backend.Attention(out, lse, qkv, keyMask, p)
}

func (r *attentionRecorder) AttentionBackward(dqkv, dout, qkv, out, lse, keyMask *tensor.Tensor, p tensor.AttentionParams) {
	r.bwd = append(r.bwd, p)
	r.Backend.AttentionBackward(dqkv, dout, qkv, out, lse, keyMask, p)
}

// TestAttentionFollowsThePrecision: under PrecisionBF16 the tape asks the
// backend for bf16 attention, forward and backward; under f32 it does not.
func TestAttentionFollowsThePrecision(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 11))
	for _, prec := range []Precision{PrecisionF32, PrecisionBF16} {
		r := &attentionRecorder{Backend: tensor.CPU()}
		tp := NewTape(r)
		tp.Precision = prec
		x := tensor.CPU().New(tensor.F32, 1, 5, 3, 2, 4)
		for i, s := 0, x.F32(); i < len(s); i++ {
			s[i] = float32(rng.NormFloat64())
		}
		qkv := Leaf(x)
		loss := tp.Sum(tp.Attention(qkv, nil, tensor.AttentionParams{Heads: 2, Scale: 0.5}))
		tp.Backward(loss)
		require.Len(t, r.fwd, 1)
		require.Len(t, r.bwd, 1)
		want := prec == PrecisionBF16
		assert.Equal(t, want, r.fwd[0].BF16, "%v forward", prec)
		assert.Equal(t, want, r.bwd[0].BF16, "%v backward", prec)
		assert.Equal(t, 2, r.fwd[0].Heads)
	}
}
