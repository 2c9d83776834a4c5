package tensor_test

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/dllmgo/dllm/tensor"
)

// Benchmarks at the tiny ModernBERT's training shapes (PERF.md, CPU table):
// batch 8 × seq 256, hidden 256 = 4 heads × 64, intermediate 384, vocab 4096,
// sliding window 128 on local layers.
const (
	benchB, benchS, benchH, benchHeads = 8, 256, 256, 4
	benchI, benchV                     = 384, 4096
	benchRows                          = benchB * benchS
)

// reportBytes reports GB/s for bytes moved per iteration.
func reportBytes(b *testing.B, bytes float64) {
	b.ReportMetric(bytes*float64(b.N)/b.Elapsed().Seconds()/1e9, "GB/s")
}

// reportFlops reports GFLOP/s for flops per iteration.
func reportFlops(b *testing.B, flops float64) {
	b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
}

func BenchmarkAttention(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 1))
	d := benchH / benchHeads
	qkv := randF32(rng, benchB, benchS, 3, benchHeads, d)
	dout := randF32(rng, benchB, benchS, benchHeads, d)
	out := cpu.New(tensor.F32, benchB, benchS, benchHeads, d)
	lse := cpu.New(tensor.F32, benchB, benchHeads, benchS)
	dqkv := cpu.New(tensor.F32, benchB, benchS, 3, benchHeads, d)
	for _, window := range []int{0, 128} {
		p := tensor.AttentionParams{Heads: benchHeads, Scale: 0.125, Window: window}
		// Useful work: 2 flops per multiply-add, two products (QKᵀ and PV)
		// over the visible (query, key) pairs only.
		pairs := 0
		for i := range benchS {
			for j := range benchS {
				if p.Visible(i, j) {
					pairs++
				}
			}
		}
		fwd := 4 * float64(benchB*benchHeads*pairs*d)
		name := "global"
		if window > 0 {
			name = fmt.Sprintf("window%d", window)
		}
		b.Run(name+"/fwd", func(b *testing.B) {
			for b.Loop() {
				cpu.Attention(out, lse, qkv, nil, p)
			}
			reportFlops(b, fwd)
		})
		b.Run(name+"/bwd", func(b *testing.B) {
			cpu.Attention(out, lse, qkv, nil, p)
			for b.Loop() {
				cpu.AttentionBackward(dqkv, dout, qkv, out, lse, nil, p)
			}
			// Five products: the recomputed scores, dV, dP, dQ and dK.
			reportFlops(b, 2.5*fwd)
		})
	}
}

// BenchmarkAttentionGQA compares grouped-query attention with multi-head
// attention at equal work: the same 8 query heads of 64, S = 256, global;
// kv8 is plain multi-head attention, kv2 four query heads per KV head.
// The flops are the same, only the K and V read (and, in the backward, the
// parallelism: one task per batch row and KV head) shrink.
func BenchmarkAttentionGQA(b *testing.B) {
	const bsz, nh, d = 4, 8, 64
	rng := rand.New(rand.NewPCG(1, 9))
	dout := randF32(rng, bsz, benchS, nh, d)
	out := cpu.New(tensor.F32, bsz, benchS, nh, d)
	lse := cpu.New(tensor.F32, bsz, nh, benchS)
	fwd := 4 * float64(bsz*nh*benchS*benchS*d)
	for _, nkv := range []int{nh, nh / 4} {
		qkv := randF32(rng, bsz, benchS, nh+2*nkv, d)
		dqkv := cpu.New(tensor.F32, bsz, benchS, nh+2*nkv, d)
		p := tensor.AttentionParams{Heads: nh, KVHeads: nkv, Scale: 0.125}
		b.Run(fmt.Sprintf("kv%d/fwd", nkv), func(b *testing.B) {
			for b.Loop() {
				cpu.Attention(out, lse, qkv, nil, p)
			}
			reportFlops(b, fwd)
		})
		b.Run(fmt.Sprintf("kv%d/bwd", nkv), func(b *testing.B) {
			cpu.Attention(out, lse, qkv, nil, p)
			for b.Loop() {
				cpu.AttentionBackward(dqkv, dout, qkv, out, lse, nil, p)
			}
			reportFlops(b, 2.5*fwd)
		})
	}
}

func BenchmarkLayerNorm(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	x, dy, gamma := randF32(rng, benchRows, benchH), randF32(rng, benchRows, benchH), randF32(rng, benchH)
	y, dx := cpu.New(tensor.F32, benchRows, benchH), cpu.New(tensor.F32, benchRows, benchH)
	mean, rstd := cpu.New(tensor.F32, benchRows), cpu.New(tensor.F32, benchRows)
	dg := cpu.New(tensor.F32, benchH)
	n := float64(benchRows * benchH * 4)
	b.Run("fwd", func(b *testing.B) {
		for b.Loop() {
			cpu.LayerNorm(y, mean, rstd, x, gamma, nil, 1e-5)
		}
		reportBytes(b, 2*n) // read x, write y
	})
	b.Run("bwd", func(b *testing.B) {
		cpu.LayerNorm(y, mean, rstd, x, gamma, nil, 1e-5)
		for b.Loop() {
			cpu.LayerNormBackward(dx, dg, nil, dy, x, mean, rstd, gamma)
		}
		reportBytes(b, 4*n) // read x and dy, read and write dx
	})
}

func BenchmarkGeGLU(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 3))
	x, dy := randF32(rng, benchRows, 2*benchI), randF32(rng, benchRows, benchI)
	y, dx := cpu.New(tensor.F32, benchRows, benchI), cpu.New(tensor.F32, benchRows, 2*benchI)
	n := float64(benchRows * benchI * 4)
	b.Run("fwd", func(b *testing.B) {
		for b.Loop() {
			cpu.GeGLU(y, x)
		}
		reportBytes(b, 3*n) // read both halves, write y
	})
	b.Run("bwd", func(b *testing.B) {
		for b.Loop() {
			cpu.GeGLUBackward(dx, x, dy)
		}
		reportBytes(b, 7*n) // read x and dy, read and write dx
	})
}

func BenchmarkCrossEntropy(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 4))
	// The diffusion loss takes logits only at masked positions: half the
	// tokens on average.
	rows := benchRows / 2
	logits, targets := randF32(rng, rows, benchV), randI32(rng, rows, benchV)
	loss, lse := cpu.New(tensor.F32, rows), cpu.New(tensor.F32, rows)
	dl := cpu.New(tensor.F32, rows, benchV)
	n := float64(rows * benchV * 4)
	b.Run("fwd", func(b *testing.B) {
		for b.Loop() {
			cpu.CrossEntropy(loss, lse, logits, targets, nil, -100)
		}
		reportBytes(b, n)
	})
	b.Run("bwd", func(b *testing.B) {
		cpu.CrossEntropy(loss, lse, logits, targets, nil, -100)
		for b.Loop() {
			cpu.CrossEntropyBackward(dl, logits, lse, targets, nil, 1.0/float32(rows), -100)
		}
		reportBytes(b, 3*n) // read logits, read and write dlogits
	})
}

func BenchmarkRoPE(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 5))
	d := benchH / benchHeads
	qkv := randF32(rng, benchRows, 3*benchHeads, d)
	dst := cpu.New(tensor.F32, benchRows, 3*benchHeads, d)
	pos := make([]int32, benchRows)
	for i := range pos {
		pos[i] = int32(i % benchS)
	}
	pt := tensor.FromI32(pos, benchRows)
	p := tensor.RoPEParams{Theta: 10000, Heads: 2 * benchHeads}
	b.Run("fwd", func(b *testing.B) {
		for b.Loop() {
			cpu.RoPE(dst, qkv, pt, p)
		}
		reportBytes(b, 2*float64(qkv.Bytes()))
	})
}

// Llama-7B-class shapes for the ops of the Llama-style families (LLaDA 8B,
// Dream 7B): 2048 tokens, hidden 4096 = 32 heads × 128, intermediate 11008.
const (
	llamaRows, llamaH, llamaHeads, llamaI = 2048, 4096, 32, 11008
)

func BenchmarkRMSNorm(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 6))
	for _, c := range []struct {
		name string
		n, d int
	}{
		{"hidden", llamaRows, llamaH},                             // input_layernorm: [2048, 4096]
		{"per-head", llamaRows * llamaHeads, llamaH / llamaHeads}, // q_norm/k_norm: [2048·32, 128]
	} {
		x, dy, w := randF32(rng, c.n, c.d), randF32(rng, c.n, c.d), randF32(rng, c.d)
		y, dx := cpu.New(tensor.F32, c.n, c.d), cpu.New(tensor.F32, c.n, c.d)
		rstd, dw := cpu.New(tensor.F32, c.n), cpu.New(tensor.F32, c.d)
		p := tensor.RMSNormParams{Eps: 1e-6}
		bytes := float64(c.n * c.d * 4)
		b.Run(c.name+"/fwd", func(b *testing.B) {
			for b.Loop() {
				cpu.RMSNorm(y, rstd, x, w, p)
			}
			reportBytes(b, 2*bytes) // read x, write y
		})
		b.Run(c.name+"/bwd", func(b *testing.B) {
			cpu.RMSNorm(y, rstd, x, w, p)
			for b.Loop() {
				cpu.RMSNormBackward(dx, dw, dy, x, rstd, w, p)
			}
			reportBytes(b, 6*bytes) // read x and dy, read and write dx; x and dy again for dw
		})
	}
}

func BenchmarkSwiGLU(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 7))
	x, dy := randF32(rng, llamaRows, 2*llamaI), randF32(rng, llamaRows, llamaI)
	y, dx := cpu.New(tensor.F32, llamaRows, llamaI), cpu.New(tensor.F32, llamaRows, 2*llamaI)
	n := float64(llamaRows * llamaI * 4)
	b.Run("fwd", func(b *testing.B) {
		for b.Loop() {
			cpu.SwiGLU(y, x)
		}
		reportBytes(b, 3*n) // read both halves, write y
	})
	b.Run("bwd", func(b *testing.B) {
		for b.Loop() {
			cpu.SwiGLUBackward(dx, x, dy)
		}
		reportBytes(b, 7*n) // read x and dy, read and write dx
	})
}
