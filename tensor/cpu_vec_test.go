package tensor

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// withScalar runs f with the vector kernels switched off.
func withScalar(f func()) {
	saved := useVec
	useVec = false
	defer func() { useVec = saved }()
	f()
}

// closeF32 reports whether two float32 results agree to within 2 ulp, or
// are both NaN, or equal infinities.
func closeF32(a, b float32) bool {
	if a == b || a != a && b != b {
		return true
	}
	d := math.Abs(float64(a) - float64(b))
	return d <= 2*math.Abs(float64(a))*0x1p-24 || d < 1e-44
}

// The vector kernels against the scalar code (and so, through
// TestScalarMath, against the standard library), on lengths that are not
// multiples of the vector width and on special values.
func TestVectorKernelsMatchScalar(t *testing.T) {
	if !useVec {
		t.Skip("no AVX2+FMA on this CPU: only the scalar code runs")
	}
	rng := rand.New(rand.NewPCG(3, 4))
	specials := []float32{0, float32(math.Copysign(0, -1)), 1e-30, -1e-30, 88, 89, -88, -104, -746, 709, -709,
		float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.NaN()), 3.4e38, -3.4e38, 30, -30, 5.5, -5.5}
	for _, n := range []int{1, 3, 4, 7, 8, 9, 31, 1000} {
		x := make([]float32, n)
		for i := range x {
			x[i] = float32(rng.NormFloat64() * 6)
		}
		if n >= len(specials) {
			copy(x, specials)
		}
		for _, shift := range []float64{0, 2.5, -3} {
			v, s := make([]float32, n), make([]float32, n)
			sv := expSum(v, x, shift)
			var ss float64
			withScalar(func() { ss = expSum(s, x, shift) })
			for i := range x {
				require.True(t, closeF32(s[i], v[i]), "expSum n=%d x=%v shift=%v: %v vs %v", n, x[i], shift, v[i], s[i])
			}
			if !math.IsNaN(ss) && !math.IsInf(ss, 0) {
				assert.InDelta(t, ss, sv, 1e-12*math.Abs(ss))
			}

		}
		for _, shift := range []float32{0, 2.5, -3} { // the float32 kernels, in all lanes and the masked tail
			v, s := make([]float32, n), make([]float32, n)
			sv := expSum32(v, x, shift)
			var ss float64
			withScalar(func() { ss = expSum32(s, x, shift) })
			e := make([]float32, n)
			exp32(e, x, shift)
			for i := range x {
				require.True(t, closeF32(s[i], v[i]), "expSum32 n=%d x=%v shift=%v: %v vs %v", n, x[i], shift, v[i], s[i])
				require.Equal(t, math.Float32bits(v[i]), math.Float32bits(e[i]), "exp32 n=%d x=%v", n, x[i])
			}
			if !math.IsNaN(ss) && !math.IsInf(ss, 0) {
				assert.InDelta(t, ss, sv, 3e-7*math.Abs(ss))
			}
			ga, gb := make([]float32, n), make([]float32, n)
			for i := range ga {
				ga[i] = float32(rng.NormFloat64())
				gb[i] = ga[i]
			}
			addExp32(ga, x, shift, 0.3, false)
			withScalar(func() { addExp32(gb, x, shift, 0.3, false) })
			for i := range x {
				if ga[i] == ga[i] || gb[i] == gb[i] {
					require.InDelta(t, gb[i], ga[i], 1e-6*math.Abs(float64(gb[i]))+1e-7, "addExp32 n=%d x=%v", n, x[i])
				}
			}
		}
		y1, y2 := make([]float32, n), make([]float32, n)
		geluSlice(y1, x)
		withScalar(func() { geluSlice(y2, x) })
		for i := range x { // the vector kernel fuses multiply-adds the scalar one rounds twice
			if y1[i] == y1[i] || y2[i] == y2[i] {
				require.InDelta(t, y2[i], y1[i], 1e-6*math.Abs(float64(y2[i])), "gelu(%v)", x[i])
			}
		}
	}
}

// SumExp, vector and scalar, against math.Exp summed in float64: within
// 1e-9 relative, with -Inf logits (suppressed tokens) adding nothing that
// shows, on lengths around the vector width.
func TestSumExp(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for _, n := range []int{1, 7, 8, 9, 50368} {
		x := make([]float32, n)
		for i := range x {
			x[i] = float32(rng.NormFloat64() * 4)
		}
		x[n/2] = float32(math.Inf(-1))
		shift := 3.25
		want := 0.0
		for _, v := range x {
			want += math.Exp(float64(v) - shift)
		}
		got := SumExp(x, shift)
		var scalar float64
		withScalar(func() { scalar = SumExp(x, shift) })
		assert.InDelta(t, want, got, 1e-9*want, "n=%d", n)
		assert.InDelta(t, want, scalar, 1e-9*want, "n=%d scalar", n)
	}
}

// MaxF32 against a plain loop, with and without the vector kernel, on
// lengths around the vector width, with NaNs, infinities and signed zeros
// placed at random (a NaN among the first eight included).
func TestMaxF32(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	specials := []float32{float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1)), 0, float32(math.Copysign(0, -1))}
	for _, n := range []int{0, 1, 7, 8, 9, 15, 16, 17, 64, 1001} {
		for trial := range 40 {
			x := make([]float32, n)
			for i := range x {
				x[i] = rng.Float32()*20 - 10
			}
			if n > 0 && trial%2 == 1 {
				for range 1 + rng.IntN(3) {
					x[rng.IntN(n)] = specials[rng.IntN(len(specials))]
				}
			}
			if n > 0 && trial%10 == 3 {
				x[rng.IntN(min(n, 8))] = float32(math.NaN())
			}
			want, wantNaN := float32(math.Inf(-1)), false
			for _, v := range x {
				if v != v {
					wantNaN = true
				} else if v > want {
					want = v
				}
			}
			got, gotNaN := MaxF32(x)
			require.Equal(t, wantNaN, gotNaN, "n=%d %v", n, x)
			if !wantNaN {
				require.Equal(t, want, got, "n=%d %v", n, x)
			}
			var sGot float32
			var sNaN bool
			withScalar(func() { sGot, sNaN = MaxF32(x) })
			require.Equal(t, wantNaN, sNaN)
			if !wantNaN {
				require.Equal(t, want, sGot)
			}
		}
	}
}

// The fused bias add is bit for bit Copy then AddRowVector, with and
// without the AVX2 kernel, in place and into a new tensor, at widths around
// the kernel's 8- and 32-wide steps.
func TestAddRowVectorTo(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	c := CPU().(cpuBackend)
	for _, shape := range [][2]int{{1, 1}, {3, 7}, {2, 8}, {5, 33}, {4, 257}, {17, 1031}} {
		n, d := shape[0], shape[1]
		x, v := c.New(F32, n, d), c.New(F32, d)
		for i := range x.F32() {
			x.F32()[i] = float32(rng.NormFloat64() * 3)
		}
		for i := range v.F32() {
			v.F32()[i] = float32(rng.NormFloat64())
		}
		// reference: each element's float32 sum written out
		want := make([]float32, n*d)
		for r := 0; r < n; r++ {
			for j := 0; j < d; j++ {
				want[r*d+j] = x.F32()[r*d+j] + v.F32()[j]
			}
		}
		for _, vec := range []bool{true, false} {
			run := func(f func()) {
				if vec {
					f()
				} else {
					withScalar(f)
				}
			}
			dst := c.New(F32, n, d)
			run(func() { c.AddRowVectorTo(dst, x, v) })
			require.Equal(t, want, dst.F32(), "%v vec=%t into dst", shape, vec)
			in := c.New(F32, n, d)
			copy(in.F32(), x.F32())
			run(func() { c.AddRowVector(in, v) })
			require.Equal(t, want, in.F32(), "%v vec=%t in place", shape, vec)
			require.NotEqual(t, x.F32(), in.F32(), "%v: the bias changed nothing", shape)
		}
	}
}

// AdamW's vector kernel against its scalar loop, bit for bit: the same
// float32 operations, each rounded once, over lengths around the vector
// width and a few steps, with and without weight decay, on gradients that
// include zeros, tiny and huge values.
func TestAdamWVectorMatchesScalar(t *testing.T) {
	if !useVec {
		t.Skip("no AVX2+FMA on this CPU: only the scalar code runs")
	}
	rng := rand.New(rand.NewPCG(11, 12))
	specials := []float32{0, float32(math.Copysign(0, -1)), 1e-30, -1e-38, 3e-45, 1e20, -1e20, 7, -7}
	for _, n := range []int{1, 7, 8, 9, 17, 1000, 40_000} {
		for _, wd := range []float32{0, 0.01} {
			init := func() [4]*Tensor {
				r := rand.New(rand.NewPCG(uint64(n), 3))
				var ts [4]*Tensor
				for k := range ts {
					v := make([]float32, n)
					for i := range v {
						v[i] = float32(r.NormFloat64())
					}
					if k == 3 { // v, the second moment, is never negative
						for i := range v {
							v[i] *= v[i]
						}
					}
					ts[k] = FromF32(v, n)
				}
				return ts
			}
			vec, sca := init(), init()
			for step := 1; step <= 3; step++ {
				g := make([]float32, n)
				for i := range g {
					g[i] = float32(rng.NormFloat64() * 0.1)
				}
				if n >= len(specials) {
					copy(g, specials)
				}
				copy(vec[1].F32(), g)
				copy(sca[1].F32(), g)
				p := AdamWParams{LR: 1e-3, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, WeightDecay: wd, Step: step}
				CPU().AdamW(vec[0], vec[1], vec[2], vec[3], p)
				withScalar(func() { CPU().AdamW(sca[0], sca[1], sca[2], sca[3], p) })
				for k, name := range []string{"param", "grad", "m", "v"} {
					require.Equal(t, bitsF32(sca[k].F32()), bitsF32(vec[k].F32()), "n=%d wd=%v step %d: %s", n, wd, step, name)
				}
			}
		}
	}
}

func bitsF32(xs []float32) []uint32 {
	b := make([]uint32, len(xs))
	for i, x := range xs {
		b[i] = math.Float32bits(x)
	}
	return b
}

// scaleF64 and subMul (attention's softmax normalisation and dS) against
// their scalar loops, bit for bit, over lengths around the vector width and
// special values.
func TestScaleSubMulVectorMatchScalar(t *testing.T) {
	if !useVec {
		t.Skip("no AVX2+FMA on this CPU: only the scalar code runs")
	}
	rng := rand.New(rand.NewPCG(13, 14))
	specials := []float32{0, float32(math.Copysign(0, -1)), 1e-30, -1e-38, 3e-45, 3e38, -3e38,
		float32(math.Inf(1)), float32(math.NaN()), 1, -1}
	for _, n := range []int{1, 7, 8, 9, 15, 16, 17, 33, 1000} {
		x, p := make([]float32, n), make([]float32, n)
		for i := range x {
			x[i], p[i] = float32(rng.NormFloat64()*4), rng.Float32()
		}
		if n >= len(specials) {
			copy(x, specials)
		}
		for _, s := range []float64{1 / 3.0, 1e-7, 1e30, 0.5} {
			v, sc := append([]float32(nil), x...), append([]float32(nil), x...)
			scaleF64(v, s)
			withScalar(func() { scaleF64(sc, s) })
			require.Equal(t, bitsF32(sc), bitsF32(v), "scaleF64 n=%d s=%v", n, s)

			v, sc = append([]float32(nil), x...), append([]float32(nil), x...)
			subMul(v, p, float32(s))
			withScalar(func() { subMul(sc, p, float32(s)) })
			require.Equal(t, bitsF32(sc), bitsF32(v), "subMul n=%d s=%v", n, s)
		}
	}
}

// LayerNorm and its backward with the vector loops against the scalar code,
// bit for bit: outputs, mean, rstd, dx, dgamma and dbeta, with and without
// a bias, on widths around the vector width and rows enough for several
// goroutines' column ranges.
func TestLayerNormVectorMatchesScalar(t *testing.T) {
	if !useVec {
		t.Skip("no AVX2+FMA on this CPU: only the scalar code runs")
	}
	c := CPU()
	rng := rand.New(rand.NewPCG(15, 16))
	rnd := func(shape ...int) *Tensor {
		v := make([]float32, Numel(shape))
		for i := range v {
			v[i] = float32(rng.NormFloat64()*2 + 0.3)
		}
		return FromF32(v, shape...)
	}
	for _, tc := range []struct{ n, d int }{{3, 1}, {5, 3}, {4, 4}, {7, 7}, {9, 64}, {130, 257}, {300, 256}} {
		for _, bias := range []bool{false, true} {
			x, gamma, dy, dx0 := rnd(tc.n, tc.d), rnd(tc.d), rnd(tc.n, tc.d), rnd(tc.n, tc.d)
			var beta *Tensor
			if bias {
				beta = rnd(tc.d)
			}
			dg0, db0 := rnd(tc.d), rnd(tc.d)
			run := func() [][]float32 {
				y, mean, rstd := c.New(F32, tc.n, tc.d), c.New(F32, tc.n), c.New(F32, tc.n)
				c.LayerNorm(y, mean, rstd, x, gamma, beta, 1e-5)
				dx, dg := FromF32(append([]float32(nil), dx0.F32()...), tc.n, tc.d), FromF32(append([]float32(nil), dg0.F32()...), tc.d)
				var db *Tensor
				out := [][]float32{y.F32(), mean.F32(), rstd.F32()}
				if bias {
					db = FromF32(append([]float32(nil), db0.F32()...), tc.d)
				}
				c.LayerNormBackward(dx, dg, db, dy, x, mean, rstd, gamma)
				out = append(out, dx.F32(), dg.F32())
				if bias {
					out = append(out, db.F32())
				}
				return out
			}
			vec := run()
			var sca [][]float32
			withScalar(func() { sca = run() })
			for k, name := range []string{"y", "mean", "rstd", "dx", "dgamma", "dbeta"}[:len(vec)] {
				require.Equal(t, bitsF32(sca[k]), bitsF32(vec[k]), "n=%d d=%d bias=%v: %s", tc.n, tc.d, bias, name)
			}
		}
	}
}

// RoPE and its backward with the vector rotation against the scalar code,
// bit for bit, for head sizes whose half is and is not a multiple of 8,
// partial rotary, and heads that pass through (V).
func TestRoPEVectorMatchesScalar(t *testing.T) {
	if !useVec {
		t.Skip("no AVX2+FMA on this CPU: only the scalar code runs")
	}
	c := CPU()
	rng := rand.New(rand.NewPCG(19, 20))
	for _, tc := range []struct{ rows, heads, rotated, d, rotary int }{
		{5, 3, 2, 16, 0}, {7, 12, 8, 64, 0}, {4, 6, 4, 32, 16}, {3, 3, 2, 12, 0}, {6, 5, 3, 48, 32},
	} {
		x, dy, g0 := make([]float32, tc.rows*tc.heads*tc.d), make([]float32, tc.rows*tc.heads*tc.d), make([]float32, tc.rows*tc.heads*tc.d)
		for i := range x {
			x[i], dy[i], g0[i] = float32(rng.NormFloat64()), float32(rng.NormFloat64()), float32(rng.NormFloat64())
		}
		pos := make([]int32, tc.rows)
		for i := range pos {
			pos[i] = int32(rng.IntN(3000))
		}
		p := RoPEParams{Theta: 10000, Heads: tc.rotated, RotaryDim: tc.rotary}
		run := func() ([]uint32, []uint32) {
			y := c.New(F32, tc.rows, tc.heads, tc.d)
			c.RoPE(y, FromF32(x, tc.rows, tc.heads, tc.d), FromI32(pos, tc.rows), p)
			gx := FromF32(append([]float32(nil), g0...), tc.rows, tc.heads, tc.d)
			c.RoPEBackward(gx, FromF32(dy, tc.rows, tc.heads, tc.d), FromI32(pos, tc.rows), p)
			return bitsF32(y.F32()), bitsF32(gx.F32())
		}
		vy, vg := run()
		var sy, sg []uint32
		withScalar(func() { sy, sg = run() })
		require.Equal(t, sy, vy, "%+v: RoPE", tc)
		require.Equal(t, sg, vg, "%+v: RoPEBackward", tc)
	}
}

// IndexF32, vector and scalar, against a plain loop: the first match
// wherever it lies (in the vector part, in the tail, nowhere), with
// repeated values, −0 against +0, and NaN (equal to nothing).
func TestIndexF32(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	first := func(x []float32, v float32) int {
		for i, e := range x {
			if e == v {
				return i
			}
		}
		return -1
	}
	nan := float32(math.NaN())
	for _, n := range []int{0, 1, 7, 8, 9, 15, 16, 17, 100, 50368} {
		x := make([]float32, n)
		for i := range x {
			x[i] = float32(rng.IntN(50)) // repeats
		}
		if n > 3 {
			x[n-2] = nan
			x[n/3] = float32(math.Copysign(0, -1))
		}
		for _, v := range []float32{0, 3, 49, 50, -1, nan, float32(math.Copysign(0, -1))} {
			want := first(x, v)
			require.Equal(t, want, IndexF32(x, v), "n=%d v=%v", n, v)
			withScalar(func() { require.Equal(t, want, IndexF32(x, v), "scalar n=%d v=%v", n, v) })
		}
		if n > 0 {
			p := rng.IntN(n)
			x[p] = 1e6 // a unique value
			require.Equal(t, p, IndexF32(x, 1e6), "n=%d at %d", n, p)
		}
	}
}

// scaleF64, vector and scalar, against the plain loop bit for bit: a float64
// product rounded once, whatever the length and the values (zeros of both
// signs, infinities, NaN, subnormal results).
func TestScaleF64(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	specials := []float32{0, float32(math.Copysign(0, -1)), float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.NaN()), 1e-38, 3.4e38, 1}
	for _, n := range []int{0, 1, 7, 8, 9, 17, 192, 1001} {
		x := make([]float32, n)
		for i := range x {
			x[i] = float32(rng.ExpFloat64())
		}
		copy(x, specials)
		for _, s := range []float64{1 / 3.0, 1e-40, 7e30, -2.5} {
			want := make([]float32, n)
			for i, v := range x {
				want[i] = float32(float64(v) * s)
			}
			for _, vec := range []bool{true, false} {
				got := append([]float32(nil), x...)
				if vec {
					scaleF64(got, s)
				} else {
					withScalar(func() { scaleF64(got, s) })
				}
				for i := range want {
					require.Equal(t, math.Float32bits(want[i]), math.Float32bits(got[i]), "n=%d s=%v x=%v vec=%t", n, s, x[i], vec)
				}
			}
		}
	}
}
