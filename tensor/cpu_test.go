package tensor_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dllmgo/dllm/tensor"
	"github.com/dllmgo/dllm/tensor/conformance"
)

// TestCPUConformance runs the whole conformance suite on the CPU backend
// against the float64 references.
func TestCPUConformance(t *testing.T) {
	conformance.Run(t, tensor.CPU(), conformance.CPUTolerances())
}

// TestCPUContracts checks that the CPU backend refuses what the ops'
// contracts refuse, with the contracts' messages.
func TestCPUContracts(t *testing.T) { conformance.RunContracts(t, tensor.CPU()) }

// TestCPUConformanceBF16MatMul runs the bf16-operand MatMul cases. The CPU
// widens bf16 exactly, so its only error is the f32 accumulation's: it must
// meet its F32 bound, far inside the 2e-2 a GPU's bf16 GEMM is allowed.
func TestCPUConformanceBF16MatMul(t *testing.T) {
	tol := conformance.CPUTolerances()
	tol.BF16 = tol.F32
	conformance.RunBF16MatMul(t, tensor.CPU(), tol)
}

var cpu = tensor.CPU()

func randF32(rng *rand.Rand, shape ...int) *tensor.Tensor {
	f := make([]float32, tensor.Numel(shape))
	for i := range f {
		f[i] = float32(rng.NormFloat64())
	}
	return tensor.FromF32(f, shape...)
}

func randI32(rng *rand.Rand, n, hi int) *tensor.Tensor {
	v := make([]int32, n)
	for i := range v {
		v[i] = int32(rng.IntN(hi))
	}
	return tensor.FromI32(v, n)
}

func clone(t *tensor.Tensor) *tensor.Tensor { return cpu.FromHost(t) }

// Every op that sums across rows or goroutines must give bit-identical
// results for any GOMAXPROCS: the shapes are big enough for every op to
// split its work.
func TestCPUDeterministicAcrossGOMAXPROCS(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	x := randF32(rng, 700, 257)
	dy := randF32(rng, 700, 257)
	gamma := randF32(rng, 257)
	ids := randI32(rng, 700, 13)
	qkv := randF32(rng, 2, 150, 3, 4, 16)
	dout := randF32(rng, 2, 150, 4, 16)
	qkvG := randF32(rng, 2, 150, 4+2, 16)
	logits := randF32(rng, 300, 1001)
	targets := randI32(rng, 300, 1001)
	a, b := randF32(rng, 200, 300), randF32(rng, 300, 150)

	run := func() map[string][]float32 {
		out := map[string][]float32{}
		sr := cpu.New(tensor.F32, 257)
		cpu.SumRows(sr, x)
		out["SumRows"] = sr.F32()
		out["SumSquares"] = []float32{float32(cpu.SumSquares(x)), float32(cpu.SumSquares(x) - float64(float32(cpu.SumSquares(x))))}

		y, mean, rstd := cpu.New(tensor.F32, 700, 257), cpu.New(tensor.F32, 700), cpu.New(tensor.F32, 700)
		cpu.LayerNorm(y, mean, rstd, x, gamma, nil, 1e-5)
		dx, dg, db := clone(dy), cpu.New(tensor.F32, 257), cpu.New(tensor.F32, 257)
		cpu.LayerNormBackward(dx, dg, db, dy, x, mean, rstd, gamma)
		out["LayerNormBackward dx"], out["dgamma"], out["dbeta"] = dx.F32(), dg.F32(), db.F32()

		dt := cpu.New(tensor.F32, 13, 257)
		cpu.EmbeddingBackward(dt, ids, dy, 3)
		out["EmbeddingBackward"] = dt.F32()

		for _, w := range []int{0, 32} {
			p := tensor.AttentionParams{Heads: 4, Scale: 0.25, Window: w}
			o, l := cpu.New(tensor.F32, 2, 150, 4, 16), cpu.New(tensor.F32, 2, 4, 150)
			cpu.Attention(o, l, qkv, nil, p)
			dq := cpu.New(tensor.F32, 2, 150, 3, 4, 16)
			cpu.AttentionBackward(dq, dout, qkv, o, l, nil, p)
			out["Attention out"], out["lse"], out["AttentionBackward"] = o.F32(), l.F32(), dq.F32()
		}
		// Grouped-query attention: the backward sums four query heads into
		// each shared dK and dV.
		for _, w := range []int{0, 32} {
			p := tensor.AttentionParams{Heads: 4, KVHeads: 1, Scale: 0.25, Window: w}
			o, l := cpu.New(tensor.F32, 2, 150, 4, 16), cpu.New(tensor.F32, 2, 4, 150)
			cpu.Attention(o, l, qkvG, nil, p)
			dq := cpu.New(tensor.F32, 2, 150, 6, 16)
			cpu.AttentionBackward(dq, dout, qkvG, o, l, nil, p)
			key := fmt.Sprintf(" GQA window %d", w)
			out["Attention out"+key], out["lse"+key], out["AttentionBackward"+key] = o.F32(), l.F32(), dq.F32()
		}

		loss, lse := cpu.New(tensor.F32, 300), cpu.New(tensor.F32, 300)
		cpu.CrossEntropy(loss, lse, logits, targets, nil, -100)
		dl := cpu.New(tensor.F32, 300, 1001)
		cpu.CrossEntropyBackward(dl, logits, lse, targets, nil, 0.1, -100)
		out["CrossEntropy"], out["CrossEntropyBackward"] = loss.F32(), dl.F32()

		c := cpu.New(tensor.F32, 200, 150)
		cpu.MatMul(c, a, b, false, false, 1, 0)
		out["MatMul"] = c.F32()
		return out
	}
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	one := run()
	runtime.GOMAXPROCS(5)
	five := run()
	for name, v := range one {
		assert.Equal(t, v, five[name], "%s differs between GOMAXPROCS 1 and 5", name)
	}
}

// A shape or dtype mistake panics with a message that names the op and the
// tensors.
func TestCPUChecksName(t *testing.T) {
	f := func(shape ...int) *tensor.Tensor { return cpu.New(tensor.F32, shape...) }
	i32 := func(shape ...int) *tensor.Tensor { return cpu.New(tensor.I32, shape...) }
	for _, c := range []struct {
		want string
		call func()
	}{
		{"tensor: Add: element counts differ: F32[2,3]@cpu and F32[7]@cpu", func() { cpu.Add(f(2, 3), f(7), f(6)) }},
		{"tensor: Mul: I32[4]@cpu is not F32", func() { cpu.Mul(f(4), i32(4), f(4)) }},
		{"tensor: MatMul: F32[3,4]@cpu = F32[3,5]@cpu · F32[6,4]@cpu (transA=false, transB=false): inner dimensions 5 and 6 differ", func() {
			cpu.MatMul(f(3, 4), f(3, 5), f(6, 4), false, false, 1, 0)
		}},
		{"tensor: RoPE: F32[2,3,5]@cpu: head size 5 must be even (rotate-half pairs k with k+d/2)", func() {
			cpu.RoPE(f(2, 3, 5), f(2, 3, 5), i32(2), tensor.RoPEParams{Theta: 1e4})
		}},
		{"tensor: RoPE: position -1 at row 1 is negative", func() {
			cpu.RoPE(f(2, 1, 4), f(2, 1, 4), tensor.FromI32([]int32{0, -1}, 2), tensor.RoPEParams{Theta: 1e4})
		}},
		{"tensor: Attention: qkv F32[2,5,7]@cpu does not hold nh + 2·nkv = 6 heads per token (nh = 2, nkv = 2)", func() {
			cpu.Attention(f(2, 5, 2), nil, f(2, 5, 7), nil, tensor.AttentionParams{Heads: 2})
		}},
		{"tensor: Attention: KVHeads = 3 must divide Heads = 4", func() {
			cpu.Attention(f(1, 5, 4, 2), nil, f(1, 5, 10, 2), nil, tensor.AttentionParams{Heads: 4, KVHeads: 3})
		}},
		{"tensor: Attention: qkv F32[1,5,3,4,2]@cpu must be [B, S, 3, 4, d] (rank 5 holds no grouped K and V)", func() {
			cpu.Attention(f(1, 5, 4, 2), nil, f(1, 5, 3, 4, 2), nil, tensor.AttentionParams{Heads: 4, KVHeads: 1})
		}},
		{"tensor: RoPE: rotary size 6 (RotaryDim = 6) must be even and in (0, d = 4] (rotate-half pairs k with k+r/2)", func() {
			cpu.RoPE(f(2, 1, 4), f(2, 1, 4), i32(2), tensor.RoPEParams{Theta: 1e4, RotaryDim: 6})
		}},
		{"tensor: CrossEntropy: target 9 of row 0 is outside [0, 9) and is not the ignore index -100", func() {
			cpu.CrossEntropy(f(1), nil, f(1, 9), tensor.FromI32([]int32{9}, 1), nil, -100)
		}},
		{"tensor: Embedding: index 4 at 1 is outside [0, 4) for table F32[4,2]@cpu", func() {
			cpu.Embedding(f(2, 2), f(4, 2), tensor.FromI32([]int32{0, 4}, 2))
		}},
		{"tensor: Cast: I32[1]@cpu <- I64[1]@cpu: value 4294967296 at 0 does not fit in I32", func() {
			cpu.Cast(i32(1), tensor.FromI64([]int64{1 << 32}, 1))
		}},
		{"tensor: Cast: no cast from F32[1]@cpu to I32[1]@cpu", func() { cpu.Cast(i32(1), f(1)) }},
		{"tensor: AdamW: Step = 0 must be ≥ 1", func() {
			cpu.AdamW(f(2), f(2), f(2), f(2), tensor.AdamWParams{LR: 1})
		}},
	} {
		assert.PanicsWithValue(t, c.want, c.call)
	}
}

// Edge cases the conformance suite does not reach.
func TestCPUEdgeCases(t *testing.T) {
	rng := rand.New(rand.NewPCG(8, 9))

	t.Run("MatMul with k = 0 scales c", func(t *testing.T) {
		c := tensor.FromF32([]float32{1, 2, 3, 4}, 2, 2)
		cpu.MatMul(c, cpu.New(tensor.F32, 2, 0), cpu.New(tensor.F32, 0, 2), false, false, 1, 0.5)
		assert.Equal(t, []float32{0.5, 1, 1.5, 2}, c.F32())
		nan := float32(math.NaN())
		c = tensor.FromF32([]float32{nan, nan}, 1, 2)
		cpu.MatMul(c, cpu.New(tensor.F32, 1, 0), cpu.New(tensor.F32, 0, 2), false, false, 1, 0)
		assert.Equal(t, []float32{0, 0}, c.F32())
	})

	t.Run("Attention accepts qkv as [B, S, 3H]", func(t *testing.T) {
		qkv := randF32(rng, 2, 7, 3, 2, 4)
		p := tensor.AttentionParams{Heads: 2, Scale: 0.5, Window: 4}
		o1, o2 := cpu.New(tensor.F32, 2, 7, 2, 4), cpu.New(tensor.F32, 2, 7, 8)
		cpu.Attention(o1, nil, qkv, nil, p)
		cpu.Attention(o2, nil, qkv.Reshape(2, 7, 24), nil, p)
		assert.Equal(t, o1.F32(), o2.F32())
	})

	t.Run("RoPE positions past the cached table", func(t *testing.T) {
		// A first call caches positions up to 63; a later one needs more.
		x := randF32(rng, 2, 1, 8)
		y1 := cpu.New(tensor.F32, 2, 1, 8)
		cpu.RoPE(y1, x, tensor.FromI32([]int32{3, 10}, 2), tensor.RoPEParams{Theta: 777})
		y2 := cpu.New(tensor.F32, 2, 1, 8)
		cpu.RoPE(y2, x, tensor.FromI32([]int32{3, 100000}, 2), tensor.RoPEParams{Theta: 777})
		assert.Equal(t, y1.F32()[:8], y2.F32()[:8])
		assert.NotEqual(t, y1.F32()[8:], y2.F32()[8:])
	})

	t.Run("RoPE matches Hugging Face's float32 angles bit for bit", func(t *testing.T) {
		// Position 0 is the identity; for p = 1 the angle of pair k is
		// inv_freq[k] itself, so cos and sin of the float32 inv_freq show up
		// directly in the output of a unit vector.
		x := tensor.FromF32([]float32{1, 0, 0, 0, 0, 0, 0, 0}, 1, 1, 8)
		y := cpu.New(tensor.F32, 1, 1, 8)
		cpu.RoPE(y, x, tensor.FromI32([]int32{1}, 1), tensor.RoPEParams{Theta: 10000})
		// inv_freq[0] = 1, so the pair (0, 4) rotates by exactly 1 rad.
		assert.Equal(t, float32(math.Cos(1)), y.F32()[0])
		assert.Equal(t, float32(math.Sin(1)), y.F32()[4])
	})

	t.Run("Cast BF16 round half to even and specials", func(t *testing.T) {
		in := []uint32{0x3f808000, 0x3f818000, 0x7f7fffff, 0x7f800000, 0xff800000, 0x7fc00001}
		f := make([]float32, len(in))
		for i, b := range in {
			f[i] = math.Float32frombits(b)
		}
		dst := cpu.New(tensor.BF16, len(f))
		cpu.Cast(dst, tensor.FromF32(f, len(f)))
		got := dst.BF16Bits()
		assert.Equal(t, []uint16{0x3f80, 0x3f82, 0x7f80, 0x7f80, 0xff80}, got[:5])
		assert.True(t, math.IsNaN(float64(tensor.F32FromBF16(got[5]))))
	})

	t.Run("fully padded batch row: zeros out, +Inf lse, no gradient", func(t *testing.T) {
		qkv := randF32(rng, 2, 5, 3, 1, 4)
		mask := tensor.FromI32([]int32{1, 1, 0, 1, 1, 0, 0, 0, 0, 0}, 2, 5)
		p := tensor.AttentionParams{Heads: 1, Scale: 0.5}
		o, l := cpu.New(tensor.F32, 2, 5, 1, 4), cpu.New(tensor.F32, 2, 1, 5)
		cpu.Attention(o, l, qkv, mask, p)
		for _, v := range o.F32()[20:] {
			require.Equal(t, float32(0), v)
		}
		for _, v := range l.F32()[5:] {
			require.True(t, math.IsInf(float64(v), 1))
		}
		dq := cpu.New(tensor.F32, 2, 5, 3, 1, 4)
		cpu.AttentionBackward(dq, randF32(rng, 2, 5, 1, 4), qkv, o, l, mask, p)
		for _, v := range dq.F32()[60:] {
			require.Equal(t, float32(0), v)
		}
		for _, v := range dq.F32()[:60] {
			require.False(t, math.IsNaN(float64(v)))
		}
	})
}

// A tensor.NewOffHeap tensor is a zero CPU tensor like New's, usable by every op,
// its views included, and Free releases it.
func TestNewOffHeap(t *testing.T) {
	for _, dt := range []tensor.DType{tensor.F32, tensor.BF16, tensor.I32, tensor.I64} {
		x := tensor.NewOffHeap(dt, 3, 5)
		require.Equal(t, []int{3, 5}, x.Shape())
		require.Equal(t, dt, x.DType())
		require.Equal(t, tensor.CPU(), x.Backend())
		require.False(t, x.IsView())
		require.True(t, x.Rows(1, 2).IsView())
		x.Free()
	}
	w := tensor.NewOffHeap(tensor.BF16, 4, 3)
	for i := range w.BF16Bits() {
		require.Zero(t, w.BF16Bits()[i])
		w.BF16Bits()[i] = tensor.BF16FromF32(float32(i) - 5.5)
	}
	a := tensor.FromF32([]float32{1, 2, 3, -1, 0.5, 2}, 2, 3)
	c := tensor.CPU().New(tensor.F32, 2, 4)
	tensor.CPU().MatMul(c, a, w, false, true, 1, 0)
	want := make([]float32, 8)
	for i := range 2 {
		for j := range 4 {
			for k := range 3 {
				want[i*4+j] += a.F32()[i*3+k] * (float32(j*3+k) - 5.5)
			}
		}
	}
	require.Equal(t, want, c.F32())
	w.Free()
}
