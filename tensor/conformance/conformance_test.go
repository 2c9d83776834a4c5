package conformance

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dllmgo/dllm/tensor"
)

func TestNumericalGradient(t *testing.T) {
	// f(x) = Σ sin(xᵢ)·xᵢ₊₁ + x₀³ has a gradient we can write down.
	f := func(x []float64) float64 {
		s := x[0] * x[0] * x[0]
		for i := 0; i+1 < len(x); i++ {
			s += math.Sin(x[i]) * x[i+1]
		}
		return s
	}
	rng := rand.New(rand.NewPCG(1, 2))
	x := make([]float64, 9)
	for i := range x {
		x[i] = 3 * rng.NormFloat64()
	}
	want := make([]float64, len(x))
	want[0] = 3 * x[0] * x[0]
	for i := 0; i+1 < len(x); i++ {
		want[i] += math.Cos(x[i]) * x[i+1]
		want[i+1] += math.Sin(x[i])
	}
	before := append([]float64(nil), x...)
	got := NumericalGradient(f, x)
	assert.Equal(t, before, x, "x must be restored")
	for i := range want {
		assert.InDelta(t, want[i], got[i], 1e-8*math.Max(1, math.Abs(want[i])), "element %d", i)
	}
}

// The analytic references used for large shapes must agree with finite
// differences of the forward references.
func TestAnalyticReferencesMatchFiniteDifferences(t *testing.T) {
	e := newEnv(tensor.CPU(), CPUTolerances(), 7, t.Name())
	tol := 1e-7

	t.Run("LayerNorm", func(t *testing.T) {
		n, d := 4, 9
		x, gamma, dy := e.normal(2, n, d), e.normal(1, d), e.normal(1, n, d)
		for i := range x.v {
			x.v[i] += 5
		}
		dx, dg, db := refLayerNormBackward(dy.v, x.v, gamma.v, d, 1e-5)
		fwd := func(xv, gv, bv []float64) []float64 { y, _, _ := refLayerNorm(xv, gv, bv, d, 1e-5); return y }
		beta := make([]float64, d)
		assertClose(t, NumericalGradient(projected(dy.v, func(v []float64) []float64 { return fwd(v, gamma.v, beta) }), x.v), dx, tol)
		assertClose(t, NumericalGradient(projected(dy.v, func(v []float64) []float64 { return fwd(x.v, v, beta) }), gamma.v), dg, tol)
		assertClose(t, NumericalGradient(projected(dy.v, func(v []float64) []float64 { return fwd(x.v, gamma.v, v) }), beta), db, tol)
	})
	t.Run("RMSNorm", func(t *testing.T) {
		for _, offset := range []float64{0, 1} {
			n, d := 4, 9
			x, w, dy := e.normal(2, n, d), e.normal(1, d), e.normal(1, n, d)
			dx, dw := refRMSNormBackward(dy.v, x.v, w.v, d, 1e-5, offset)
			fwd := func(xv, wv []float64) []float64 { y, _ := refRMSNorm(xv, wv, d, 1e-5, offset); return y }
			assertClose(t, NumericalGradient(projected(dy.v, func(v []float64) []float64 { return fwd(v, w.v) }), x.v), dx, tol)
			assertClose(t, NumericalGradient(projected(dy.v, func(v []float64) []float64 { return fwd(x.v, v) }), w.v), dw, tol)
		}
	})
	t.Run("Attention", func(t *testing.T) {
		for _, c := range []attnCase{
			{"", 2, 7, 2, 3, 0, "holes", 0, tensor.BlockPattern{}},
			{"", 1, 12, 1, 4, 6, "tail", 0, tensor.BlockPattern{}},
			{"", 2, 5, 3, 2, 2, "none", 0, tensor.BlockPattern{}},
			{"", 2, 7, 4, 3, 0, "holes", 2, tensor.BlockPattern{}},
			{"", 1, 12, 3, 4, 6, "tail", 1, tensor.BlockPattern{}},
			{"", 2, 10, 2, 3, 4, "head", 1, tensor.BlockPattern{Size: 2, Half: 5}},
			{"", 1, 9, 2, 3, 0, "holes", 0, tensor.BlockPattern{Size: 2}},
		} {
			qkv, _, g := e.drawAttention(c)
			dout := e.normal(1, c.b, c.s, c.nh, c.d)
			want := NumericalGradient(projected(dout.v, func(v []float64) []float64 { o, _ := refAttention(v, g); return o }), qkv.v)
			assertClose(t, want, refAttentionBackward(qkv.v, dout.v, g), tol)
		}
	})
	t.Run("CrossEntropy", func(t *testing.T) {
		c := ceCase{"", 6, 11, 3, 0.3, true}
		logits, targets, weights := e.drawCE(c)
		want := NumericalGradient(func(x []float64) float64 {
			loss, _ := refCrossEntropy(x, targets, weights.v, c.v, int(c.ignore))
			s := 0.0
			for _, l := range loss {
				s += l
			}
			return 0.5 * s
		}, logits.v)
		assertClose(t, want, refCrossEntropyBackward(logits.v, targets, weights.v, c.v, int(c.ignore), 0.5), tol)
	})
}

func assertClose(t *testing.T, want, got []float64, tol float64) {
	t.Helper()
	require.NoError(t, compare(got, expect{want: want}, tol))
}

// Properties of the attention reference that do not depend on its code
// path: a window of at least 2S is global attention, an all-ones mask is no
// mask, and a fully padded sequence gives zeros and lse = +Inf.
func TestRefAttentionProperties(t *testing.T) {
	e := newEnv(tensor.CPU(), CPUTolerances(), 3, t.Name())
	c := attnCase{"", 2, 9, 2, 4, 0, "none", 0, tensor.BlockPattern{}}
	qkv, _, g := e.drawAttention(c)
	global, lse := refAttention(qkv.v, g)
	g.window = 18
	wide, _ := refAttention(qkv.v, g)
	assert.Equal(t, global, wide)
	g.window, g.mask = 0, make([]int, 18)
	for i := range 9 {
		g.mask[i] = 1
	}
	masked, mlse := refAttention(qkv.v, g)
	assert.Equal(t, global[:9*2*4], masked[:9*2*4], "sequence 0 is all real tokens")
	assert.Equal(t, lse[:9], mlse[:9])
	for _, v := range masked[9*2*4:] {
		assert.Equal(t, 0.0, v)
	}
	for _, v := range mlse[2*9:] {
		assert.True(t, math.IsInf(v, 1))
	}
}

// runNamed runs the case called name, or the group name/..., on b and
// returns their errors.
func runNamed(b tensor.Backend, name string) []error {
	var errs []error
	found := false
	for _, c := range append(allCases(), bf16MatMulCases()...) {
		if c.name != name && !strings.HasPrefix(c.name, name+"/") {
			continue
		}
		found = true
		if err := c.run(newEnv(b, CPUTolerances(), 1, c.name)); err != nil {
			errs = append(errs, err)
		}
	}
	if !found {
		panic("no case named " + name)
	}
	return errs
}

// renamed is the CPU backend under another name: the suite then also runs
// its comparison against the CPU backend, as for a GPU.
type renamed struct{ tensor.Backend }

func (renamed) Name() string { return "cpu-under-another-name" }

func TestAgainstCPUPathPasses(t *testing.T) {
	b := renamed{tensor.CPU()}
	for _, name := range []string{"Add", "Attention", "LayerNormBackward", "RMSNormBackward", "SwiGLUBackward", "Cast", "MatMul"} {
		assert.Empty(t, runNamed(b, name), name)
	}
}

// The BF16 cases also run against the CPU path: the CPU backend takes BF16
// operands itself, so a GPU's bf16 GEMM is compared with it directly.
func TestRunBF16MatMul(t *testing.T) {
	RunBF16MatMul(t, renamed{tensor.CPU()}, CPUTolerances())
}

// The CPU reads BF16 weights directly (gemm.SgemmBF16, a BF16 embedding
// table); under another name the results are also compared with the CPU's.
func TestRunBF16Weights(t *testing.T) {
	RunBF16Weights(t, tensor.CPU(), CPUTolerances())
	RunBF16Weights(t, renamed{tensor.CPU()}, CPUTolerances())
}

// The grouped-query reference is multi-head attention on K and V heads
// repeated as repeat_interleave repeats them: head g serves query heads
// g·(nh/nkv) .. (g+1)·(nh/nkv) − 1. The gradient of a shared K or V head is
// the sum of its copies' gradients.
func TestRefGroupedQueryIsRepeatedKV(t *testing.T) {
	e := newEnv(tensor.CPU(), CPUTolerances(), 5, t.Name())
	for _, c := range []attnCase{
		{"", 2, 7, 6, 3, 4, "holes", 2, tensor.BlockPattern{}},
		{"", 1, 9, 4, 5, 0, "tail", 1, tensor.BlockPattern{}},
	} {
		qkv, _, g := e.drawAttention(c)
		group := c.nh / c.nkv
		// expand [B, S, nh + 2·nkv, d] into [B, S, 3, nh, d]
		wide := make([]float64, c.b*c.s*3*c.nh*c.d)
		src := func(tok, head int) []float64 { return qkv.v[(tok*(c.nh+2*c.nkv)+head)*c.d:][:c.d] }
		for tok := range c.b * c.s {
			for h := range c.nh {
				copy(wide[((tok*3+0)*c.nh+h)*c.d:], src(tok, h))
				copy(wide[((tok*3+1)*c.nh+h)*c.d:], src(tok, c.nh+h/group))
				copy(wide[((tok*3+2)*c.nh+h)*c.d:], src(tok, c.nh+c.nkv+h/group))
			}
		}
		mha := g
		mha.nkv = 0
		out, lse := refAttention(qkv.v, g)
		wout, wlse := refAttention(wide, mha)
		require.Equal(t, wout, out)
		require.Equal(t, wlse, lse)

		dout := e.normal(1, c.b, c.s, c.nh, c.d)
		got := refAttentionBackward(qkv.v, dout.v, g)
		wgrad := refAttentionBackward(wide, dout.v, mha)
		want := make([]float64, len(got))
		for tok := range c.b * c.s {
			for h := range c.nh {
				for k := range c.d {
					want[(tok*(c.nh+2*c.nkv)+h)*c.d+k] += wgrad[((tok*3+0)*c.nh+h)*c.d+k]
					want[(tok*(c.nh+2*c.nkv)+c.nh+h/group)*c.d+k] += wgrad[((tok*3+1)*c.nh+h)*c.d+k]
					want[(tok*(c.nh+2*c.nkv)+c.nh+c.nkv+h/group)*c.d+k] += wgrad[((tok*3+2)*c.nh+h)*c.d+k]
				}
			}
		}
		assertClose(t, want, got, 1e-12)
	}
}

// The offset convention is the plain one with the weight shifted: RMSNorm
// with w and offset 1 is RMSNorm with 1 + w and offset 0, in the reference
// and on the CPU backend.
func TestRMSNormOffsetIsShiftedWeight(t *testing.T) {
	e := newEnv(tensor.CPU(), CPUTolerances(), 5, t.Name())
	n, d := 6, 10
	x, w := e.normal(1, n, d), e.normal(0.3, d)
	shifted := make([]float32, d)
	for i, v := range w.t.F32() {
		shifted[i] = 1 + v
	}
	ws := fromF32(shifted, d)
	yRef, rRef := refRMSNorm(x.v, w.v, d, 1e-6, 1)
	yShift, rShift := refRMSNorm(x.v, ws.v, d, 1e-6, 0)
	assertClose(t, yRef, yShift, 1e-7)
	require.Equal(t, rRef, rShift)

	cpu := tensor.CPU()
	y1, y2 := cpu.New(tensor.F32, n, d), cpu.New(tensor.F32, n, d)
	cpu.RMSNorm(y1, nil, x.t, w.t, tensor.RMSNormParams{Eps: 1e-6, WeightOffset: 1})
	cpu.RMSNorm(y2, nil, x.t, ws.t, tensor.RMSNormParams{Eps: 1e-6})
	assertClose(t, values(y2), values(y1), 1e-6)
}
