package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/dllmgo/dllm/kernels/cu"
	"github.com/dllmgo/dllm/tensor"
)

// Kernel benchmarks at PERF.md's shapes (batch 8 × seq 1024, 12 heads × 64,
// hidden 768, intermediate 1152, vocab 50368). They need a GPU and skip
// without one (fail with DLLM_REQUIRE_GPU=1). The Backend is F32, so each
// moves twice the bytes of PERF.md's bf16 PyTorch numbers; compare ratios
// measured in one run on one machine. Times are CUDA-event times of b.N
// back-to-back launches after one warm-up call.

const (
	benchB, benchS, benchNH, benchD = 8, 1024, 12, 64
	benchH, benchI, benchV          = benchNH * benchD, 1152, 50368
)

// randDevice makes a device tensor of N(0, σ²) values.
func randDevice(b *Backend, rng *rand.Rand, sigma float64, shape ...int) *tensor.Tensor {
	h := tensor.CPU().New(tensor.F32, shape...)
	for i, s := 0, h.F32(); i < len(s); i++ {
		s[i] = float32(sigma * rng.NormFloat64())
	}
	return b.FromHost(h)
}

// timeOp runs op once to warm up (compile, load, allocate), then b.N times
// between two CUDA events, and reports the per-call time in the benchmark.
func timeOp(tb *testing.B, b *Backend, op func()) float64 {
	op()
	if err := b.Sync(); err != nil {
		tb.Fatal(err)
	}
	var start, end cu.Event
	b.do(func(th *cu.Thread) error {
		var err error
		if start, err = th.EventCreate(); err != nil {
			return err
		}
		if end, err = th.EventCreate(); err != nil {
			return err
		}
		return th.EventRecord(start)
	})
	tb.ResetTimer()
	for range tb.N {
		op()
	}
	var ms float32
	b.do(func(th *cu.Thread) error {
		defer th.EventDestroy(start)
		defer th.EventDestroy(end)
		if err := th.EventRecord(end); err != nil {
			return err
		}
		if err := th.EventSynchronize(end); err != nil {
			return err
		}
		var err error
		ms, err = th.EventElapsed(start, end)
		return err
	})
	tb.StopTimer()
	if err := b.Err(); err != nil {
		tb.Fatal(err)
	}
	sec := float64(ms) / 1e3 / float64(tb.N)
	tb.ReportMetric(sec*1e6, "us/op")
	return sec
}

func reportGBs(tb *testing.B, bytes float64, sec float64) {
	tb.ReportMetric(bytes/sec/1e9, "GB/s")
}

func BenchmarkGeGLU(tb *testing.B) {
	b := requireGPU(tb)
	rng := rand.New(rand.NewPCG(1, 2))
	rows := benchB * benchS
	x := randDevice(b, rng, 1, rows, 2*benchI)
	y := b.New(tensor.F32, rows, benchI)
	dx, dy := b.New(tensor.F32, rows, 2*benchI), randDevice(b, rng, 1, rows, benchI)
	defer x.Free()
	defer y.Free()
	defer dx.Free()
	defer dy.Free()
	tb.Run("fwd", func(tb *testing.B) {
		sec := timeOp(tb, b, func() { b.GeGLU(y, x) })
		reportGBs(tb, 4*float64(rows)*3*benchI, sec)
	})
	tb.Run("bwd", func(tb *testing.B) {
		sec := timeOp(tb, b, func() { b.GeGLUBackward(dx, x, dy) })
		reportGBs(tb, 4*float64(rows)*(2*benchI+benchI+4*benchI), sec) // read x, dy, dx; write dx
	})
}

func BenchmarkLayerNorm(tb *testing.B) {
	b := requireGPU(tb)
	rng := rand.New(rand.NewPCG(1, 3))
	rows := benchB * benchS
	x, gamma := randDevice(b, rng, 1, rows, benchH), randDevice(b, rng, 1, benchH)
	y, mean, rstd := b.New(tensor.F32, rows, benchH), b.New(tensor.F32, rows), b.New(tensor.F32, rows)
	tb.Run("fwd", func(tb *testing.B) {
		sec := timeOp(tb, b, func() { b.LayerNorm(y, mean, rstd, x, gamma, nil, 1e-5) })
		reportGBs(tb, 4*2*float64(rows)*benchH, sec)
	})
}

func BenchmarkRoPE(tb *testing.B) {
	b := requireGPU(tb)
	rng := rand.New(rand.NewPCG(1, 4))
	rows := benchB * benchS
	qkv := randDevice(b, rng, 1, rows, 3*benchNH, benchD)
	out := b.New(tensor.F32, rows, 3*benchNH, benchD)
	pos := make([]int32, rows)
	for i := range pos {
		pos[i] = int32(i % benchS)
	}
	dpos := b.FromHost(tensor.FromI32(pos, rows))
	tb.Run("fwd qkv", func(tb *testing.B) {
		sec := timeOp(tb, b, func() { b.RoPE(out, qkv, dpos, tensor.RoPEParams{Theta: 160000, Heads: 2 * benchNH}) })
		reportGBs(tb, 4*2*float64(rows)*3*benchH, sec) // Q, K rotated and V copied: the fused split
	})
}

func BenchmarkCrossEntropy(tb *testing.B) {
	b := requireGPU(tb)
	rng := rand.New(rand.NewPCG(1, 5))
	rows := benchB * benchS
	logits := randDevice(b, rng, 2, rows, benchV)
	dlogits := b.New(tensor.F32, rows, benchV)
	tg := make([]int32, rows)
	for i := range tg {
		tg[i] = int32(rng.IntN(benchV))
	}
	targets := b.FromHost(tensor.FromI32(tg, rows))
	loss, lse := b.New(tensor.F32, rows), b.New(tensor.F32, rows)
	tb.Run("fwd+bwd", func(tb *testing.B) {
		sec := timeOp(tb, b, func() {
			b.CrossEntropy(loss, lse, logits, targets, nil, -100)
			b.CrossEntropyBackward(dlogits, logits, lse, targets, nil, 1, -100)
		})
		reportGBs(tb, 4*4*float64(rows)*benchV, sec) // read logits twice, read and write dlogits
	})
}

func BenchmarkAttention(tb *testing.B) {
	b := requireGPU(tb)
	rng := rand.New(rand.NewPCG(1, 6))
	qkv := randDevice(b, rng, 1, benchB, benchS, 3, benchNH, benchD)
	out, lse := b.New(tensor.F32, benchB, benchS, benchNH, benchD), b.New(tensor.F32, benchB, benchNH, benchS)
	dout := randDevice(b, rng, 1, benchB, benchS, benchNH, benchD)
	dqkv := b.New(tensor.F32, benchB, benchS, 3, benchNH, benchD)
	full := tensor.AttentionParams{Heads: benchNH, Scale: float32(1 / math.Sqrt(benchD))}
	local := full
	local.Window = 128
	flops := func(keys float64) float64 { return 4 * benchB * benchNH * benchS * keys * benchD } // QKᵀ and PV
	// f32: attention.cu on the SIMT cores; bf16: attention_mma.cu on the
	// tensor cores. PERF.md's SDPA numbers are bf16.
	for _, prec := range []string{"f32", "bf16"} {
		full, local := full, local
		full.BF16, local.BF16 = prec == "bf16", prec == "bf16"
		for _, c := range []struct {
			name string
			p    tensor.AttentionParams
			keys float64
		}{{"fwd full", full, benchS}, {"fwd window128", local, 129}} {
			tb.Run(prec+" "+c.name, func(tb *testing.B) {
				sec := timeOp(tb, b, func() { b.Attention(out, lse, qkv, nil, c.p) })
				tb.ReportMetric(flops(c.keys)/sec/1e12, "TFLOP/s")
			})
		}
		tb.Run(prec+" fwd+bwd full", func(tb *testing.B) {
			sec := timeOp(tb, b, func() {
				b.Attention(out, lse, qkv, nil, full)
				b.AttentionBackward(dqkv, dout, qkv, out, lse, nil, full)
			})
			tb.ReportMetric(3.5*flops(benchS)/sec/1e12, "TFLOP/s") // fwd 1×, bwd 2.5× (scores recomputed twice)
		})
	}
}

// BenchmarkAttentionGQA runs attention at equal work with nkv = nh (plain
// multi-head attention, qkv [B, S, nh + 2·nh, d]) and nkv = nh/4
// (grouped-query attention): the forward reads a quarter of the K and V,
// and each dkv block walks four query heads instead of one.
func BenchmarkAttentionGQA(tb *testing.B) {
	b := requireGPU(tb)
	rng := rand.New(rand.NewPCG(1, 8))
	out, lse := b.New(tensor.F32, benchB, benchS, benchNH, benchD), b.New(tensor.F32, benchB, benchNH, benchS)
	dout := randDevice(b, rng, 1, benchB, benchS, benchNH, benchD)
	flops := 4.0 * benchB * benchNH * benchS * benchS * benchD
	for _, nkv := range []int{benchNH, benchNH / 4} {
		qkv := randDevice(b, rng, 1, benchB, benchS, benchNH+2*nkv, benchD)
		dqkv := b.New(tensor.F32, benchB, benchS, benchNH+2*nkv, benchD)
		for _, prec := range []string{"f32", "bf16"} {
			p := tensor.AttentionParams{Heads: benchNH, KVHeads: nkv, Scale: float32(1 / math.Sqrt(benchD)), BF16: prec == "bf16"}
			tb.Run(fmt.Sprintf("%s kv%d fwd", prec, nkv), func(tb *testing.B) {
				sec := timeOp(tb, b, func() { b.Attention(out, lse, qkv, nil, p) })
				tb.ReportMetric(flops/sec/1e12, "TFLOP/s")
			})
			tb.Run(fmt.Sprintf("%s kv%d fwd+bwd", prec, nkv), func(tb *testing.B) {
				sec := timeOp(tb, b, func() {
					b.Attention(out, lse, qkv, nil, p)
					b.AttentionBackward(dqkv, dout, qkv, out, lse, nil, p)
				})
				tb.ReportMetric(3.5*flops/sec/1e12, "TFLOP/s")
			})
		}
		b.Free(qkv)
		b.Free(dqkv)
	}
}

func BenchmarkMatMul(tb *testing.B) {
	b := requireGPU(tb)
	rng := rand.New(rand.NewPCG(1, 7))
	const m, k, n = benchB * benchS, benchH, 3 * benchH
	flops := 2.0 * m * k * n
	for _, dt := range []tensor.DType{tensor.F32, tensor.BF16} {
		a32, w32 := randDevice(b, rng, 1, m, k), randDevice(b, rng, 1, k, n)
		a, w := a32, w32
		if dt == tensor.BF16 {
			a, w = b.New(tensor.BF16, m, k), b.New(tensor.BF16, k, n)
			b.Cast(a, a32)
			b.Cast(w, w32)
		}
		c := b.New(tensor.F32, m, n)
		tb.Run(dt.String(), func(tb *testing.B) {
			sec := timeOp(tb, b, func() { b.MatMul(c, a, w, false, false, 1, 0) })
			tb.ReportMetric(flops/sec/1e12, "TFLOP/s")
		})
	}
}

// Llama-7B-class widths for the ops of the Llama-style families (LLaDA,
// Dream): hidden 4096 = 32 heads × 128, intermediate 11008, over the same
// 8 × 1024 tokens.
const llamaBenchH, llamaBenchHeads, llamaBenchI = 4096, 32, 11008

func BenchmarkRMSNorm(tb *testing.B) {
	b := requireGPU(tb)
	rng := rand.New(rand.NewPCG(1, 8))
	tokens := benchB * benchS
	for _, c := range []struct {
		name string
		n, d int
	}{
		{"hidden", tokens, llamaBenchH},
		{"per-head", tokens * llamaBenchHeads, llamaBenchH / llamaBenchHeads},
	} {
		x, dy, w := randDevice(b, rng, 1, c.n, c.d), randDevice(b, rng, 1, c.n, c.d), randDevice(b, rng, 1, c.d)
		y, dx := b.New(tensor.F32, c.n, c.d), b.New(tensor.F32, c.n, c.d)
		rstd, dw := b.New(tensor.F32, c.n), b.New(tensor.F32, c.d)
		p := tensor.RMSNormParams{Eps: 1e-6}
		bytes := 4 * float64(c.n) * float64(c.d)
		tb.Run(c.name+"/fwd", func(tb *testing.B) {
			sec := timeOp(tb, b, func() { b.RMSNorm(y, rstd, x, w, p) })
			reportGBs(tb, 2*bytes, sec) // read x, write y
		})
		tb.Run(c.name+"/bwd", func(tb *testing.B) {
			sec := timeOp(tb, b, func() { b.RMSNormBackward(dx, dw, dy, x, rstd, w, p) })
			reportGBs(tb, 6*bytes, sec) // dx pass: read x, dy, dx, write dx; dw pass: read x, dy
		})
		for _, t := range []*tensor.Tensor{x, dy, w, y, dx, rstd, dw} {
			t.Free()
		}
	}
}

func BenchmarkSwiGLU(tb *testing.B) {
	b := requireGPU(tb)
	rng := rand.New(rand.NewPCG(1, 9))
	rows := benchB * benchS
	x := randDevice(b, rng, 1, rows, 2*llamaBenchI)
	y := b.New(tensor.F32, rows, llamaBenchI)
	dx, dy := b.New(tensor.F32, rows, 2*llamaBenchI), randDevice(b, rng, 1, rows, llamaBenchI)
	defer x.Free()
	defer y.Free()
	defer dx.Free()
	defer dy.Free()
	tb.Run("fwd", func(tb *testing.B) {
		sec := timeOp(tb, b, func() { b.SwiGLU(y, x) })
		reportGBs(tb, 4*float64(rows)*3*llamaBenchI, sec)
	})
	tb.Run("bwd", func(tb *testing.B) {
		sec := timeOp(tb, b, func() { b.SwiGLUBackward(dx, x, dy) })
		reportGBs(tb, 4*float64(rows)*7*llamaBenchI, sec) // read x, dy, dx; write dx
	})
}
