package tensor

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// refGELU64 and refGELUGrad64 are the float64 references: GELU(x) =
// x·erfc(−x/√2)/2 and GELU'(x) = Φ(x) + x·φ(x), with the two terms of GELU'
// returned apart (their magnitudes scale its error bound).
func refGELU64(x float64) float64 { return 0.5 * x * math.Erfc(-x/math.Sqrt2) }

func refGELUGrad64(x float64) (phi, xdens float64) {
	return 0.5 * math.Erfc(-x/math.Sqrt2), x * math.Exp(-x*x/2) / math.Sqrt(2*math.Pi)
}

// math32Inputs returns n float32 inputs in [lo, hi]: half uniform, half
// normal around 0 with deviation sd (clipped to the range), so both the
// tails and the centre are dense.
func math32Inputs(rng *rand.Rand, n int, lo, hi, sd float64) []float32 {
	x := make([]float32, n)
	for i := range x {
		v := lo + (hi-lo)*rng.Float64()
		if i%2 == 1 {
			v = min(max(rng.NormFloat64()*sd, lo), hi)
		}
		x[i] = float32(v)
	}
	return x
}

// relErr is |got − want| / |want|.
func relErr(got float32, want float64) float64 {
	return math.Abs(float64(got)-want) / math.Abs(want)
}

// The float32 exp and GELU kernels, vector (through the slice kernels) and
// scalar, against float64 references over a million inputs each across
// their useful ranges, tails included: the bounds cpu_math32.go documents.
func TestMath32Accuracy(t *testing.T) {
	const n = 1 << 20
	rng := rand.New(rand.NewPCG(7, 8))
	paths := []struct {
		name string
		run  func(func())
	}{{"vector", func(f func()) { f() }}, {"scalar", withScalar}}

	xe := math32Inputs(rng, n, -87.3, 88.3, 4)
	for _, p := range paths {
		y := make([]float32, n)
		p.run(func() { exp32(y, xe, 0) })
		w, at := 0.0, float32(0)
		for i, x := range xe {
			if e := relErr(y[i], math.Exp(float64(x))); e > w {
				w, at = e, x
			}
		}
		t.Logf("exp %s: max relative error %.3g at %v", p.name, w, at)
		assert.Less(t, w, 1.2e-7, "exp %s at %v", p.name, at)
	}

	xg := math32Inputs(rng, n, -13, 10, 3)
	for _, p := range paths {
		y, dx := make([]float32, n), make([]float32, n)
		dy := make([]float32, n)
		for i := range dy {
			dy[i] = 1
		}
		p.run(func() {
			geluSlice(y, xg)
			geluBackSlice(dx, xg, dy)
		})
		wv, atv, wd, atd := 0.0, float32(0), 0.0, float32(0)
		for i, x := range xg {
			if x == 0 {
				continue
			}
			if e := relErr(y[i], refGELU64(float64(x))); e > wv {
				wv, atv = e, x
			}
			phi, xd := refGELUGrad64(float64(x))
			if e := math.Abs(float64(dx[i])-(phi+xd)) / (math.Abs(phi) + math.Abs(xd)); e > wd {
				wd, atd = e, x
			}
		}
		t.Logf("gelu %s: max relative error %.3g at %v; gelu' %.3g at %v", p.name, wv, atv, wd, atd)
		assert.Less(t, wv, 5e-7, "gelu %s at %v", p.name, atv)
		assert.Less(t, wd, 5e-7, "gelu' %s at %v", p.name, atd)
	}
}

// Special values of the float32 kernels, vector and scalar: exp's
// underflow to 0 (−Inf included), overflow to +Inf and NaN; GELU's far
// tails, infinities and NaN.
func TestMath32Specials(t *testing.T) {
	inf, nan := float32(math.Inf(1)), float32(math.NaN())
	for _, vec := range []bool{true, false} {
		run := func(f func()) { f() }
		if !vec {
			run = withScalar
		}
		x := []float32{float32(math.Inf(-1)), -1000, -88.5, 89, inf, nan, 0, 1, -1, -87.3}
		x8 := append(append([]float32{}, x...), x[:6]...) // 16: all through the vector kernel
		y := make([]float32, len(x8))
		run(func() { exp32(y, x8, 0) })
		assert.Equal(t, []float32{0, 0, 0, inf, inf}, y[:5], "vec=%v", vec)
		assert.True(t, y[5] != y[5], "exp(NaN) vec=%v", vec)
		assert.Equal(t, float32(1), y[6])
		assert.InDelta(t, math.E, y[7], 3e-7)
		e873 := math.Exp(float64(float32(-87.3)))
		assert.InDelta(t, e873, y[9], 2e-7*e873)

		g := []float32{-14, -20, -1e30, 20, 1e30, inf, nan, 0, 5.6, -5.6, -0.75, 3, -3, 1, -1, 0.5}
		gy, gd, ones := make([]float32, len(g)), make([]float32, len(g)), make([]float32, len(g))
		for i := range ones {
			ones[i] = 1
		}
		run(func() {
			geluSlice(gy, g)
			geluBackSlice(gd, g, ones)
		})
		for i, v := range g {
			switch {
			case v != v:
				assert.True(t, gy[i] != gy[i] && gd[i] != gd[i], "gelu(NaN) vec=%v", vec)
			case v <= -14:
				assert.Equal(t, float32(0), gy[i], "gelu(%v) vec=%v", v, vec)
				assert.Equal(t, float32(0), gd[i], "gelu'(%v) vec=%v", v, vec)
			case v >= 20:
				assert.Equal(t, v, gy[i], "gelu(%v) vec=%v", v, vec)
				assert.Equal(t, float32(1), gd[i], "gelu'(%v) vec=%v", v, vec)
			default:
				require.InDelta(t, refGELU64(float64(v)), gy[i], 1e-6*math.Abs(float64(v))+1e-30, "gelu(%v) vec=%v", v, vec)
			}
		}
	}
}

// The fused GeGLU slice kernels, vector and scalar, against float64 GELU
// and GELU' on random data (lengths around the vector width): the forward
// GELU(u)·g, and the backward's du += dy·g·GELU'(u), dg += dy·GELU(u) added
// to nonzero gradients.
func TestGeGLUSlices(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	for _, n := range []int{1, 7, 8, 9, 17, 1000} {
		u := math32Inputs(rng, n, -9, 9, 2)
		g, dy := math32Inputs(rng, n, -3, 3, 1), math32Inputs(rng, n, -2, 2, 1)
		du0, dg0 := math32Inputs(rng, n, -1, 1, 0.5), math32Inputs(rng, n, -1, 1, 0.5)
		for _, vec := range []bool{true, false} {
			run := func(f func()) { f() }
			if !vec {
				run = withScalar
			}
			o := make([]float32, n)
			du, dg := append([]float32{}, du0...), append([]float32{}, dg0...)
			run(func() {
				gegluSlice(o, u, g)
				gegluBackSlice(du, dg, u, g, dy, false)
			})
			for i := range u {
				x := float64(u[i])
				val := refGELU64(x)
				phi, xd := refGELUGrad64(x)
				want := val * float64(g[i])
				require.InDelta(t, want, o[i], 1e-6*math.Abs(want)+1e-30, "geglu n=%d vec=%v u=%v", n, vec, x)
				d := float64(dy[i]) * float64(g[i])
				wdu := float64(du0[i]) + d*(phi+xd)
				require.InDelta(t, wdu, du[i], 1e-6*(math.Abs(float64(du0[i]))+math.Abs(d)*(math.Abs(phi)+math.Abs(xd))), "du n=%d vec=%v u=%v", n, vec, x)
				wdg := float64(dg0[i]) + float64(dy[i])*val
				require.InDelta(t, wdg, dg[i], 1e-6*(math.Abs(float64(dg0[i]))+math.Abs(float64(dy[i])*val)), "dg n=%d vec=%v u=%v", n, vec, x)
			}
		}
	}
}

// The float32 slice kernels over one row of 4096 (a vocabulary row of the
// training benchmark), in ns per element.
func BenchmarkMath32(b *testing.B) {
	const n = 4096
	rng := rand.New(rand.NewPCG(1, 2))
	x, y, g := math32Inputs(rng, n, -8, 8, 2), make([]float32, n), make([]float32, n)
	dy := math32Inputs(rng, n, -1, 1, 0.5)
	for _, c := range []struct {
		name string
		f    func()
	}{
		{"exp32", func() { exp32(y, x, 8) }},
		{"expSum32", func() { expSum32(y, x, 8) }},
		{"addExp32", func() { addExp32(g, x, 8, 1e-3, false) }},
		{"expSum-f64", func() { expSum(y, x, 8) }},
		{"gelu", func() { geluSlice(y, x) }},
		{"geluBack", func() { geluBackSlice(g, x, dy) }},
		{"geglu", func() { gegluSlice(y, x, dy) }},
		{"gegluBack", func() { gegluBackSlice(g, y, x, dy, dy, false) }},
	} {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				c.f()
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/n, "ns/elem")
		})
	}
}

// The GradWriter ops set exactly what their adding twins add into zeros,
// bit for bit, into buffers full of NaN (so an element read or left unwritten
// shows): the cross-entropy with an ignored row and a row of weight 0, and
// GeGLU, on row lengths around the vector width.
func TestGradWriterMatchesAddIntoZeros(t *testing.T) {
	be := CPU()
	w := be.(GradWriter)
	rng := rand.New(rand.NewPCG(11, 12))
	nan := float32(math.NaN())
	poisoned := func(n int) []float32 {
		s := make([]float32, n)
		for i := range s {
			s[i] = nan
		}
		return s
	}
	same := func(what string, want, got []float32) {
		for i := range want {
			require.Equal(t, math.Float32bits(want[i]), math.Float32bits(got[i]), "%s element %d: %v vs %v", what, i, want[i], got[i])
		}
	}
	for _, v := range []int{5, 8, 13, 64} {
		const n = 4
		logits := FromF32(math32Inputs(rng, n*v, -6, 6, 2), n, v)
		targets := FromI32([]int32{1, -100, 3, 0}, n)
		weights := FromF32([]float32{0.5, 1, 0, 2}, n)
		loss, lse := FromF32(make([]float32, n), n), FromF32(make([]float32, n), n)
		be.CrossEntropy(loss, lse, logits, targets, weights, -100)
		add, set := FromF32(make([]float32, n*v), n, v), FromF32(poisoned(n*v), n, v)
		be.CrossEntropyBackward(add, logits, lse, targets, weights, 0.25, -100)
		w.CrossEntropyBackwardTo(set, logits, lse, targets, weights, 0.25, -100)
		same("cross-entropy", add.F32(), set.F32())
		require.NotZero(t, add.F32()[0])

		x := FromF32(math32Inputs(rng, n*2*v, -5, 5, 2), n, 2*v)
		dy := FromF32(math32Inputs(rng, n*v, -2, 2, 1), n, v)
		gadd, gset := FromF32(make([]float32, n*2*v), n, 2*v), FromF32(poisoned(n*2*v), n, 2*v)
		be.GeGLUBackward(gadd, x, dy)
		w.GeGLUBackwardTo(gset, x, dy)
		same("geglu", gadd.F32(), gset.F32())
		require.NotZero(t, gadd.F32()[0])
	}
}
