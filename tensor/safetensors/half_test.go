package safetensors

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// f16Value is the float64 value of binary16 bits, straight from the definition.
func f16Value(h uint16) float64 {
	sign := 1.0
	if h&0x8000 != 0 {
		sign = -1
	}
	exp := int(h>>10) & 0x1f
	mant := float64(h & 0x3ff)
	switch exp {
	case 0:
		return sign * mant * math.Pow(2, -24)
	case 0x1f:
		if mant == 0 {
			return math.Inf(int(sign))
		}
		return math.NaN()
	}
	return sign * (1 + mant/1024) * math.Pow(2, float64(exp-15))
}

// bf16Value is the float64 value of bfloat16 bits, from the definition.
func bf16Value(h uint16) float64 {
	sign := 1.0
	if h&0x8000 != 0 {
		sign = -1
	}
	exp := int(h>>7) & 0xff
	mant := float64(h & 0x7f)
	switch exp {
	case 0:
		return sign * mant * math.Pow(2, -133)
	case 0xff:
		if mant == 0 {
			return math.Inf(int(sign))
		}
		return math.NaN()
	}
	return sign * (1 + mant/128) * math.Pow(2, float64(exp-127))
}

// roundRef rounds x to a binary format with mantBits stored mantissa bits, minimum
// normal exponent minExp and overflow threshold overflow (the largest finite value
// plus half an ulp), ties to even, using float64 arithmetic (exact here: all
// quantities are float32 values or powers of two).
func roundRef(x float64, mantBits, minExp int, overflow float64) float64 {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return x
	}
	a := math.Abs(x)
	if a >= overflow {
		return math.Copysign(math.Inf(1), x)
	}
	_, e := math.Frexp(a) // a = frac * 2^e with frac in [0.5, 1)
	e--                   // now 2^e <= a < 2^(e+1)
	if a == 0 || e < minExp {
		e = minExp // subnormal range: fixed ulp
	}
	ulp := math.Ldexp(1, e-mantBits)
	k := math.Floor(a / ulp)
	r := a - k*ulp
	if r > ulp/2 || (r == ulp/2 && math.Mod(k, 2) == 1) {
		k++
	}
	return math.Copysign(k*ulp, x)
}

func f16Ref(x float32) float64 {
	return roundRef(float64(x), 10, -14, 65520)
}

func bf16Ref(x float32) float64 {
	return roundRef(float64(x), 7, -126, math.Ldexp(2-1.0/256, 127))
}

// sameValue compares a converted result with its float64 reference, treating all
// NaNs as equal and distinguishing the signs of zero.
func sameValue(got, want float64) bool {
	if math.IsNaN(want) {
		return math.IsNaN(got)
	}
	return got == want && math.Signbit(got) == math.Signbit(want)
}

func TestF16ToF32EveryValue(t *testing.T) {
	for h := 0; h < 1<<16; h++ {
		got := float64(F16ToF32(uint16(h)))
		require.Truef(t, sameValue(got, f16Value(uint16(h))), "bits %#04x: got %v want %v", h, got, f16Value(uint16(h)))
		back := F32ToF16(F16ToF32(uint16(h)))
		if math.IsNaN(got) {
			assert.Equal(t, uint16(h)&0x8000, back&0x8000, "NaN sign %#04x", h)
			assert.True(t, math.IsNaN(float64(F16ToF32(back))), "NaN stays NaN %#04x", h)
			continue
		}
		require.Equalf(t, uint16(h), back, "round trip %#04x", h)
	}
}

func TestBF16ToF32EveryValue(t *testing.T) {
	for h := 0; h < 1<<16; h++ {
		got := float64(BF16ToF32(uint16(h)))
		require.Truef(t, sameValue(got, bf16Value(uint16(h))), "bits %#04x: got %v want %v", h, got, bf16Value(uint16(h)))
		back := F32ToBF16(BF16ToF32(uint16(h)))
		if math.IsNaN(got) {
			assert.True(t, math.IsNaN(float64(BF16ToF32(back))), "NaN stays NaN %#04x", h)
			continue
		}
		require.Equalf(t, uint16(h), back, "round trip %#04x", h)
	}
}

// halfInputs returns float32 values that exercise rounding: random bit patterns,
// random magnitudes spread over and beyond the 16-bit formats' ranges, exact
// midpoints between adjacent 16-bit values (ties), and their neighbours.
func halfInputs(rng *rand.Rand, decode func(uint16) float32) []float32 {
	var xs []float32
	for range 20000 {
		xs = append(xs, math.Float32frombits(rng.Uint32()))
		mag := math.Ldexp(1+rng.Float64(), rng.IntN(60)-40)
		if rng.IntN(2) == 0 {
			mag = -mag
		}
		xs = append(xs, float32(mag))
	}
	for range 20000 {
		h := uint16(rng.Uint32())
		a, b := decode(h&^1), decode(h|1) // adjacent values when finite and same binade
		if math.IsInf(float64(a), 0) || math.IsNaN(float64(b)) || math.IsInf(float64(b), 0) {
			continue
		}
		mid := float32((float64(a) + float64(b)) / 2) // exact: 12 significant bits at most
		xs = append(xs, mid, math.Nextafter32(mid, 0), math.Nextafter32(mid, float32(math.Inf(1))))
	}
	return xs
}

func TestF32ToF16MatchesFloat64Rounding(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	xs := halfInputs(rng, F16ToF32)
	special := []float32{
		0, float32(math.Copysign(0, -1)), float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.NaN()),
		65504, 65519.996, 65520, 65536, -65520, 1e10,
		float32(math.Ldexp(1, -24)), float32(math.Ldexp(1, -25)), float32(math.Ldexp(1, -26)),
		float32(math.Ldexp(1.0000001, -25)), float32(math.Ldexp(1.5, -24)), float32(math.Ldexp(2.5, -24)),
		float32(math.Ldexp(1023.5, -24)), float32(math.Ldexp(1, -14)), math.SmallestNonzeroFloat32,
		math.MaxFloat32, 1, 1 + 1.0/2048, 1 + 3.0/2048, 2049, 2051,
	}
	for _, x := range append(special, xs...) {
		got := float64(F16ToF32(F32ToF16(x)))
		want := f16Ref(x)
		require.Truef(t, sameValue(got, want), "x=%g (%#08x): got %g want %g", x, math.Float32bits(x), got, want)
	}
	// Spot checks of the encoding itself.
	assert.Equal(t, uint16(0x7c00), F32ToF16(65520), "65520 ties to even and overflows")
	assert.Equal(t, uint16(0x7bff), F32ToF16(65519.996))
	assert.Equal(t, uint16(0x0000), F32ToF16(float32(math.Ldexp(1, -25))), "2^-25 ties to zero")
	assert.Equal(t, uint16(0x0002), F32ToF16(float32(math.Ldexp(1.5, -24))), "1.5 ulp ties to 2")
	assert.Equal(t, uint16(0x0400), F32ToF16(float32(math.Ldexp(1023.5, -24))), "largest subnormal + half rounds to min normal")
	assert.Equal(t, uint16(0x8000), F32ToF16(float32(math.Copysign(0, -1))))
}

func TestF32ToBF16MatchesFloat64Rounding(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	xs := halfInputs(rng, BF16ToF32)
	for range 20000 { // magnitudes near float32's own subnormals
		xs = append(xs, math.Float32frombits(rng.Uint32()&0x80ffffff))
	}
	special := []float32{
		0, float32(math.Copysign(0, -1)), float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.NaN()),
		math.MaxFloat32, -math.MaxFloat32, math.SmallestNonzeroFloat32, 1 + 1.0/256, 1 + 3.0/256,
		float32(math.Ldexp(2-1.0/128, 127)), float32(math.Ldexp(2-1.0/256, 127)),
	}
	for _, x := range append(special, xs...) {
		got := float64(BF16ToF32(F32ToBF16(x)))
		want := bf16Ref(x)
		require.Truef(t, sameValue(got, want), "x=%g (%#08x): got %g want %g", x, math.Float32bits(x), got, want)
	}
	assert.Equal(t, uint16(0x3f80), F32ToBF16(1+1.0/256), "tie to even rounds down")
	assert.Equal(t, uint16(0x3f82), F32ToBF16(1+3.0/256), "tie to even rounds up")
	assert.Equal(t, uint16(0x7f80), F32ToBF16(math.MaxFloat32), "max float32 rounds to infinity")
	nan := F32ToBF16(math.Float32frombits(0x7f800001)) // payload only in the dropped bits
	assert.True(t, math.IsNaN(float64(BF16ToF32(nan))), "a NaN must not become infinity")
}

func BenchmarkDecodeF32(b *testing.B) {
	rng := rand.New(rand.NewPCG(5, 6))
	v := make([]float32, 1<<20)
	for i := range v {
		v[i] = float32(rng.NormFloat64())
	}
	for _, dt := range []DType{F32, BF16, F16} {
		raw, _ := FloatTensor("x", dt, []int{len(v)}, v)
		b.Run(dt.String(), func(b *testing.B) {
			b.SetBytes(int64(len(raw.Data)))
			for b.Loop() {
				if _, err := DecodeF32(dt, raw.Data); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(len(v))*float64(b.N)/b.Elapsed().Seconds()/1e9, "Gelem/s")
		})
	}
}
