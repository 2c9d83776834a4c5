package conformance

import (
	"math"

	"github.com/dllmgo/dllm/tensor"
)

// Casts are exact operations: every output is compared bit for bit (NaN only
// as NaN).
func castCases() []testCase {
	return []testCase{
		{"Cast/F32toBF16", func(e *env) error {
			// Random values over a wide exponent range, then the cases that
			// decide a rounding: exact ties (round half to even, both ways),
			// just above and below a tie, the largest finite value rounding
			// up to infinity, subnormals, signed zeros, infinities and NaNs.
			var bits []uint32
			for range 3000 {
				v := float32(e.rng.NormFloat64() * math.Pow(2, float64(e.rng.IntN(60)-30)))
				bits = append(bits, math.Float32bits(v))
			}
			bits = append(bits,
				0x3f808000, 0x3f818000, 0xbf808000, 0xbf818000, // ties: to even down, to even up
				0x3f808001, 0x3f807fff, // just above and below a tie
				0x7f7fffff, 0x7f7f8000, 0x7f7f7fff, // max float: to +Inf; a tie to even (Inf); below
				0x00000001, 0x00008000, 0x00018000, 0x807fffff, // subnormals, ties among them
				0x00000000, 0x80000000, 0x7f800000, 0xff800000, // ±0, ±Inf
				0x7fc00000, 0xffc00001, 0x7f800001, 0x7fbfffff, // quiet and signalling NaNs
			)
			f := make([]float32, len(bits))
			want := make([]float64, len(bits))
			for i, b := range bits {
				f[i] = math.Float32frombits(b)
				want[i] = float64(bf16Round(b))
			}
			src := tensor.FromF32(f, len(f))
			return e.check(trial{name: "specials and random", op: "Cast", run: func(b tensor.Backend) []*tensor.Tensor {
				dst := b.New(tensor.BF16, len(f))
				b.Cast(dst, up(b, src))
				return []*tensor.Tensor{dst}
			}, outs: []expect{{name: "bf16", want: want, exact: true}}})
		}},
		{"Cast/BF16toF32", func(e *env) error {
			// Every one of the 65536 bfloat16 values widens exactly.
			bits := make([]uint16, 1<<16)
			want := make([]float64, len(bits))
			for i := range bits {
				bits[i] = uint16(i)
				want[i] = float64(math.Float32frombits(uint32(i) << 16))
			}
			src := tensor.FromBF16Bits(bits, 256, 256)
			return e.check(trial{name: "all bit patterns", op: "Cast", run: func(b tensor.Backend) []*tensor.Tensor {
				dst := poisoned(b, 256, 256)
				b.Cast(dst, up(b, src))
				return []*tensor.Tensor{dst}
			}, outs: []expect{{name: "f32", want: want, exact: true}}})
		}},
		{"Cast/Int", func(e *env) error {
			i32, v := e.ints(-1<<20, 1<<20, 41)
			v = append(v, math.MinInt32, math.MaxInt32, 0, -1)
			i32 = i32s(v, len(v))
			want := make([]float64, len(v))
			i64 := make([]int64, len(v))
			for i, x := range v {
				want[i] = float64(x)
				i64[i] = int64(x)
			}
			src64 := tensor.FromI64(i64, len(v))
			return e.collect(
				trial{name: "I32 to I64", op: "Cast", run: func(b tensor.Backend) []*tensor.Tensor {
					dst := b.New(tensor.I64, len(v))
					b.Cast(dst, up(b, i32))
					return []*tensor.Tensor{dst}
				}, outs: []expect{{name: "i64", want: want, exact: true}}},
				trial{name: "I64 to I32", op: "Cast", run: func(b tensor.Backend) []*tensor.Tensor {
					dst := b.New(tensor.I32, len(v))
					b.Cast(dst, up(b, src64))
					return []*tensor.Tensor{dst}
				}, outs: []expect{{name: "i32", want: want, exact: true}}},
			)
		}},
	}
}

// bf16Round is the reference rounding of a float32 (given as bits) to
// bfloat16, written from the definition rather than with bit tricks: the two
// neighbouring bfloat16 values are the float32 truncated to its top 16 bits
// and the next one up in magnitude; the nearer wins and a tie goes to the one
// with an even last bit. NaN stays NaN.
func bf16Round(bits uint32) float32 {
	f := math.Float32frombits(bits)
	if f != f {
		return f
	}
	lo := math.Float32frombits(bits &^ 0xffff) // toward zero
	if lo == f {
		return f
	}
	hi := math.Float32frombits((bits &^ 0xffff) + 0x10000) // away from zero (may be ±Inf)
	dlo := math.Abs(float64(f) - float64(lo))
	var dhi float64
	if math.IsInf(float64(hi), 0) {
		// The gap to "infinity" is the gap to 2^128, the next value of the
		// bfloat16 exponent range if it went on.
		dhi = math.Abs(math.Copysign(math.Pow(2, 128), float64(f)) - float64(f))
	} else {
		dhi = math.Abs(float64(hi) - float64(f))
	}
	switch {
	case dlo < dhi:
		return lo
	case dhi < dlo:
		return hi
	case (bits>>16)&1 == 0:
		return lo
	default:
		return hi
	}
}
