package kernels

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dllmgo/dllm/kernels/cu"
	"github.com/dllmgo/dllm/tensor"
	"github.com/dllmgo/dllm/tensor/conformance"
	"github.com/dllmgo/dllm/tensor/opbench"
)

// An H100 as the dry runs see it.
var h100 = cu.DeviceInfo{Name: "dry H100", Major: 9, Minor: 0, SMs: 132, MaxSharedOptin: 227 << 10}

// runEveryOp calls every Backend op on b with small valid operands, covering
// each kernel entry at least once (both GeGLU forms, every attention class).
func runEveryOp(b *Backend) {
	f32 := func(shape ...int) *tensor.Tensor { return b.New(tensor.F32, shape...) }
	i32 := func(shape ...int) *tensor.Tensor { return b.New(tensor.I32, shape...) }

	x, y, z := f32(5, 7), f32(5, 7), f32(5, 7)
	b.Fill(x, 1)
	b.Copy(y, x)
	b.Add(z, x, y)
	b.Sub(z, x, y)
	b.Mul(z, x, y)
	b.Scale(z, x, 2)
	b.AXPY(z, x, 2)
	b.AddRowVector(x, f32(7))
	b.Cast(b.New(tensor.BF16, 5, 7), x)
	b.Cast(f32(5, 7), b.New(tensor.BF16, 5, 7))
	b.Cast(b.New(tensor.I64, 4), i32(4))
	b.Cast(i32(4), b.New(tensor.I64, 4))
	b.SumLastAxis(f32(5), x)
	b.MeanLastAxis(f32(5), x)
	b.SumRows(f32(7), x)
	b.SumSquares(x)
	b.Softmax(z, x)
	b.GELU(z, x)
	b.GELUBackward(z, x, y)

	b.LayerNorm(z, f32(5), f32(5), x, f32(7), f32(7), 1e-5)
	b.LayerNorm(z, nil, nil, x, f32(7), nil, 1e-5)
	b.LayerNormBackward(z, f32(7), f32(7), y, x, f32(5), f32(5), f32(7))
	b.LayerNormBackward(z, f32(7), nil, y, x, f32(5), f32(5), f32(7))

	b.GeGLU(f32(3, 6), f32(3, 12))                                // I = 6: scalar
	b.GeGLU(f32(3, 8), f32(3, 16))                                // I = 8, aligned: float4
	b.GeGLU(f32(2, 8), f32(3, 16).Rows(1, 3))                     // a view 64 bytes in: still aligned
	b.GeGLUBackward(f32(3, 12), f32(3, 12), f32(3, 6))            // scalar
	b.GeGLUBackward(f32(3, 16), f32(3, 16), f32(3, 8))            // float4
	b.GeGLUBackward(f32(2, 16), f32(2, 16), f32(3, 8).Rows(1, 3)) // dy 32 bytes in: aligned
	b.GeGLU(f32(8), f32(9, 2).Rows(1, 9).Reshape(1, 16))          // x 8 bytes in: scalar

	rms := tensor.RMSNormParams{Eps: 1e-6, WeightOffset: 1}
	b.RMSNorm(z, f32(5), x, f32(7), rms)
	b.RMSNorm(f32(3, 4, 16), nil, f32(3, 4, 16), f32(16), tensor.RMSNormParams{Eps: 1e-5}) // per head
	b.RMSNormBackward(z, f32(7), y, x, f32(5), f32(7), rms)
	b.RMSNormBackward(z, nil, y, x, f32(5), f32(7), rms) // frozen weight: no dw pass

	b.SwiGLU(f32(3, 6), f32(3, 12))                                              // I = 6: scalar
	b.SwiGLU(f32(3, 8), f32(3, 16))                                              // I = 8, aligned: float4
	b.SwiGLUBackward(f32(3, 12), f32(3, 12), f32(3, 6))                          // scalar
	b.SwiGLUBackward(f32(3, 16), f32(3, 16), f32(3, 8))                          // float4
	b.SwiGLUBackward(f32(2, 16), f32(2, 16), f32(9, 2).Rows(1, 9).Reshape(2, 8)) // dy 8 bytes in: scalar

	pos := i32(2 * 5)
	b.RoPE(f32(2, 5, 9, 16), f32(2, 5, 9, 16), pos, tensor.RoPEParams{Theta: 160000, Heads: 6})
	b.RoPEBackward(f32(2, 5, 9, 16), f32(2, 5, 9, 16), pos, tensor.RoPEParams{Theta: 10000})
	llama3 := tensor.RoPELlama3{Factor: 8, LowFreqFactor: 1, HighFreqFactor: 4, OriginalMaxPositions: 8192}
	b.RoPE(f32(2, 5, 8, 16), f32(2, 5, 8, 16), pos, tensor.RoPEParams{Theta: 5e5, Heads: 6, RotaryDim: 8, Llama3: llama3})
	b.RoPEBackward(f32(2, 5, 8, 16), f32(2, 5, 8, 16), pos, tensor.RoPEParams{Theta: 5e5, RotaryDim: 4})

	for _, d := range []int{16, 64, 100} {
		const bs, s, nh = 2, 70, 3
		qkv, out, lse, mask := f32(bs, s, 3, nh, d), f32(bs, s, nh, d), f32(bs, nh, s), i32(bs, s)
		p := tensor.AttentionParams{Heads: nh, Scale: float32(1 / math.Sqrt(float64(d))), Window: 16}
		b.Attention(out, lse, qkv, mask, p)
		b.Attention(out, nil, qkv, nil, tensor.AttentionParams{Heads: nh, Scale: 0.1})
		b.AttentionBackward(f32(bs, s, 3, nh, d), f32(bs, s, nh, d), qkv, out, lse, mask, p)
		p.BF16 = true // the tensor-core kernels
		b.Attention(out, lse, qkv, mask, p)
		b.AttentionBackward(f32(bs, s, 3, nh, d), f32(bs, s, nh, d), qkv, out, lse, mask, p)
		// grouped-query attention: 3 query heads share one KV head
		gqa, g := f32(bs, s, nh+2, d), tensor.AttentionParams{Heads: nh, KVHeads: 1, Scale: 0.1, Window: 16}
		for _, bf16 := range []bool{false, true} {
			g.BF16 = bf16
			b.Attention(out, lse, gqa, mask, g)
			b.AttentionBackward(f32(bs, s, nh+2, d), f32(bs, s, nh, d), gqa, out, lse, mask, g)
		}
	}

	table, ids := f32(11, 4), i32(6)
	b.Embedding(f32(6, 4), table, ids)
	b.EmbeddingBackward(table, ids, f32(6, 4), 0)
	b.GatherRows(f32(6, 4), table, ids)
	b.ScatterAddRows(table, f32(6, 4), ids)

	logits, targets := f32(6, 50), i32(6)
	b.CrossEntropy(f32(6), f32(6), logits, targets, nil, -100)
	b.CrossEntropy(f32(6), nil, logits, targets, f32(6), -100)
	b.CrossEntropyBackward(f32(6, 50), logits, f32(6), targets, f32(6), 0.5, -100)

	b.MatMul(f32(5, 3), x, f32(7, 3), false, false, 1, 0)
	b.AdamW(x, y, z, f32(5, 7), tensor.AdamWParams{LR: 1e-3, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, WeightDecay: 0.01, Step: 3})
}

// TestDryLaunchesMatchKernelSignatures drives every op without a GPU and
// checks each recorded launch against the kernel's C parameter list parsed
// from its source: count and types of the arguments, the launch shape, the
// shared memory. A mismatch here would be a silent wrong result on a GPU,
// since the driver copies parameters by the kernel's own sizes.
func TestDryLaunchesMatchKernelSignatures(t *testing.T) {
	b := newDryBackend(h100)
	runEveryOp(b)
	require.NotEmpty(t, b.dry.launches)

	sigs := map[string][]cParam{}
	fileOf := map[string]string{}
	for _, f := range SourceFiles() {
		for name, params := range kernelSignatures(t, f) {
			sigs[name] = params
			fileOf[name] = f
		}
	}
	launched := map[string]bool{}
	for _, l := range b.dry.launches {
		launched[l.entry] = true
		want, ok := sigs[l.entry]
		if !assert.True(t, ok, "launch of unknown kernel %s", l.entry) {
			continue
		}
		assert.Equal(t, fileOf[l.entry], l.file, "%s is defined in another file", l.entry)
		if !assert.Len(t, l.args, len(want), "%s: argument count", l.entry) {
			continue
		}
		for i, a := range l.args {
			got, err := goParam(a)
			if assert.NoError(t, err, "%s argument %d", l.entry, i) {
				assert.Equal(t, want[i], got, "%s argument %d", l.entry, i)
			}
		}
		g, bl := l.grid, l.block
		assert.True(t, g.X >= 1 && g.Y >= 1 && g.Z >= 1 && g.X < 1<<31 && g.Y <= 65535 && g.Z <= 65535, "%s grid %v", l.entry, g)
		assert.True(t, bl.X*bl.Y*bl.Z <= 1024 && bl.X*bl.Y*bl.Z%32 == 0, "%s block %v: whole warps, ≤ 1024 threads", l.entry, bl)
		assert.LessOrEqual(t, l.shmem, h100.MaxSharedOptin, "%s shared memory", l.entry)
	}
	for _, f := range SourceFiles() {
		for _, e := range kernelEntries[f] {
			assert.True(t, launched[e], "no op launched %s (%s)", e, f)
		}
	}
	require.Len(t, b.dry.gemms, 1)
}

// TestDryAttentionShared checks the shared-memory sizes of the attention
// launches against the tile formulas and that d picks the smallest class.
func TestDryAttentionShared(t *testing.T) {
	for _, c := range []struct{ d, dm int }{{8, 32}, {32, 32}, {33, 64}, {64, 64}, {65, 128}, {128, 128}} {
		b := newDryBackend(h100)
		qkv, out, lse := b.New(tensor.F32, 1, 10, 3, 2, c.d), b.New(tensor.F32, 1, 10, 2, c.d), b.New(tensor.F32, 1, 2, 10)
		p := tensor.AttentionParams{Heads: 2, Scale: 1}
		b.Attention(out, lse, qkv, nil, p)
		b.AttentionBackward(b.New(tensor.F32, 1, 10, 3, 2, c.d), b.New(tensor.F32, 1, 10, 2, c.d), qkv, out, lse, nil, p)
		p.BF16 = true
		b.Attention(out, lse, qkv, nil, p)
		b.AttentionBackward(b.New(tensor.F32, 1, 10, 3, 2, c.d), b.New(tensor.F32, 1, 10, 2, c.d), qkv, out, lse, nil, p)
		dm, row := c.dm, c.dm/2+4 // row: words per bf16 row of a tensor-core tile
		want := map[string]int{
			"attn_fwd":     4 * (64*(dm+1) + 2*32*dm + 32),
			"attn_bwd_dq":  4 * (2*64*(dm+1) + 2*32*dm + 32),
			"attn_bwd_dkv": 4 * (2*64*(dm+1) + 2*32*dm + 2*32),
			"attn_mma_fwd": 4 * (2*64*row + dm*(64/2+4) + 64),
			"attn_mma_dq":  4 * (4*64*row + dm*(64/2+4) + 64),
			"attn_mma_dkv": 4 * (2*64*row + 2*32*row + 2*dm*(32/2+4) + 2*32),
		}
		seen := 0
		for _, l := range b.dry.launches {
			for kind, bytes := range want {
				if l.entry == kind+"_d"+itoa(dm) {
					assert.Equal(t, bytes, l.shmem, "d=%d %s", c.d, l.entry)
					seen++
				}
			}
		}
		assert.Equal(t, 6, seen, "d=%d: launches %v", c.d, b.dry.launches)
	}
	assert.Panics(t, func() {
		b := newDryBackend(h100)
		b.Attention(b.New(tensor.F32, 1, 4, 1, 130), nil, b.New(tensor.F32, 1, 4, 3, 1, 130), nil, tensor.AttentionParams{Heads: 1, Scale: 1})
	}, "head size above 128 must be refused")
}

// TestDryGroupedAttentionGrids: the forward and dq kernels run a block row
// per query head, dkv one per KV head; the scalars carry nh and nkv.
func TestDryGroupedAttentionGrids(t *testing.T) {
	b := newDryBackend(h100)
	const bs, s, nh, nkv, d = 2, 130, 8, 2, 64
	qkv, out, lse := b.New(tensor.F32, bs, s, nh+2*nkv, d), b.New(tensor.F32, bs, s, nh, d), b.New(tensor.F32, bs, nh, s)
	for _, bf16 := range []bool{false, true} {
		p := tensor.AttentionParams{Heads: nh, KVHeads: nkv, Scale: 0.125, BF16: bf16}
		b.Attention(out, lse, qkv, nil, p)
		b.AttentionBackward(b.New(tensor.F32, bs, s, nh+2*nkv, d), b.New(tensor.F32, bs, s, nh, d), qkv, out, lse, nil, p)
	}
	seen := 0
	for _, l := range b.dry.launches {
		if l.file != "attention.cu" && l.file != "attention_mma.cu" || l.entry == "attn_bwd_dsum" {
			continue
		}
		seen++
		wantY := nh
		if strings.Contains(l.entry, "dkv") {
			wantY = nkv
		}
		assert.Equal(t, wantY, l.grid.Y, l.entry)
		assert.Equal(t, bs, l.grid.Z, l.entry)
		n := len(l.args)
		assert.Equal(t, []any{int32(s), int32(nh), int32(nkv), int32(d)}, l.args[n-8:n-4], l.entry)
	}
	assert.Equal(t, 6, seen)
	assert.Panics(t, func() {
		b.Attention(out, lse, b.New(tensor.F32, bs, s, nh+2*3, d), nil, tensor.AttentionParams{Heads: nh, KVHeads: 3, Scale: 1})
	}, "KVHeads must divide Heads")
}

func itoa(n int) string {
	return map[int]string{32: "32", 64: "64", 128: "128"}[n]
}

// TestDryShapeChecksPanic: shape errors panic with the op's name before
// anything is queued, as on the CPU.
func TestDryShapeChecksPanic(t *testing.T) {
	b := newDryBackend(h100)
	assert.PanicsWithValue(t, "tensor: Add: element counts differ: F32[2,3]@cuda and F32[3,3]@cuda", func() {
		b.Add(b.New(tensor.F32, 2, 3), b.New(tensor.F32, 3, 3), b.New(tensor.F32, 2, 3))
	})
	assert.Panics(t, func() { b.Add(b.New(tensor.F32, 2), tensor.CPU().New(tensor.F32, 2), b.New(tensor.F32, 2)) }, "a CPU operand")
	assert.Panics(t, func() {
		b.MatMul(b.New(tensor.F32, 2, 2), b.New(tensor.F32, 2, 3), b.New(tensor.F32, 2, 2), false, false, 1, 0)
	})
	assert.Panics(t, func() { b.Softmax(b.New(tensor.BF16, 2, 2), b.New(tensor.BF16, 2, 2)) })
	assert.Empty(t, b.dry.launches)
}

// TestDryContracts checks that the CUDA wrappers enforce the ops' contracts
// (package tensor's, shared with the CPU) before anything is queued.
func TestDryContracts(t *testing.T) {
	b := newDryBackend(h100)
	conformance.RunContracts(t, b)
}

// TestDryOpBench runs the shared op benchmarks (package opbench) once at a
// tiny shape without a GPU: every call the GPU benchmark makes passes the
// contracts and the wrappers' own limits, and launches kernels whose
// signatures TestDryLaunchesMatchKernelSignatures checks.
func TestDryOpBench(t *testing.T) {
	b := newDryBackend(h100)
	testing.Benchmark(func(tb *testing.B) {
		opbench.Run(tb, b, opbench.Config{Shape: opbench.Smoke, BF16: true, Time: func(tb *testing.B, op func()) float64 {
			op()
			return 1e-3
		}})
	})
	assert.NotEmpty(t, b.dry.launches)
	assert.NotEmpty(t, b.dry.gemms)
}

// hostGemm runs a cu.Gemm on the host exactly as cuBLAS defines it:
// column-major matrices with leading dimensions and batch strides,
// D = alpha·op(A)·op(B) + beta·C in float64.
func hostGemm(g cu.Gemm, a, b, c []float32, alpha, beta float64) {
	for p := 0; p < max(1, g.Batch); p++ {
		A, B, C := a[int64(p)*g.StrideA:], b[int64(p)*g.StrideB:], c[int64(p)*g.StrideC:]
		for j := 0; j < g.N; j++ {
			for i := 0; i < g.M; i++ {
				var s float64
				for l := 0; l < g.K; l++ {
					var av, bv float32
					if g.TransA {
						av = A[l+i*g.LDA]
					} else {
						av = A[i+l*g.LDA]
					}
					if g.TransB {
						bv = B[j+l*g.LDB]
					} else {
						bv = B[l+j*g.LDB]
					}
					s += float64(av) * float64(bv)
				}
				C[i+j*g.LDC] = float32(alpha*s + beta*float64(C[i+j*g.LDC]))
			}
		}
	}
}

// TestGemmPlanIsTheRowMajorProduct checks the row-major to column-major
// mapping of MatMul (operands swapped, flags kept, batches strided or folded)
// by running the planned cuBLAS call on the host and comparing it with the
// row-major product computed directly.
func TestGemmPlanIsTheRowMajorProduct(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	fill := func(n int) []float32 {
		s := make([]float32, n)
		for i := range s {
			s[i] = float32(rng.NormFloat64())
		}
		return s
	}
	const m, n, k = 5, 4, 3
	for _, c := range []struct {
		name           string
		batch          int // 0: rank 2
		sharedB        bool
		transA, transB bool
	}{
		{"2d", 0, false, false, false}, {"2d tA", 0, false, true, false}, {"2d tB", 0, false, false, true}, {"2d tA tB", 0, false, true, true},
		{"batched", 3, false, false, false}, {"batched tA tB", 3, false, true, true}, {"batched tB", 3, false, false, true},
		{"shared b (folded)", 3, true, false, false}, {"shared b tB (folded)", 3, true, false, true},
		{"shared b tA (stride 0)", 3, true, true, false}, {"shared b tA tB", 3, true, true, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			nb := max(1, c.batch)
			ashape := []int{m, k}
			if c.transA {
				ashape = []int{k, m}
			}
			bshape := []int{k, n}
			if c.transB {
				bshape = []int{n, k}
			}
			cshape := []int{m, n}
			if c.batch > 0 {
				ashape = append([]int{c.batch}, ashape...)
				cshape = append([]int{c.batch}, cshape...)
				if !c.sharedB {
					bshape = append([]int{c.batch}, bshape...)
				}
			}
			A, B, C := fill(nb*m*k), fill(tensor.Numel(bshape)), fill(nb*m*n)
			cpu := tensor.CPU()
			p, _, _, _ := planGemm(cpu.New(tensor.F32, cshape...), cpu.New(tensor.F32, ashape...), cpu.New(tensor.F32, bshape...), c.transA, c.transB)
			got := append([]float32(nil), C...)
			hostGemm(p.g, B, A, got, 1.5, 0.5) // cuBLAS's A is our b, its B our a

			bStride := k * n
			if c.sharedB {
				bStride = 0
			}
			for bi := 0; bi < nb; bi++ {
				for i := 0; i < m; i++ {
					for j := 0; j < n; j++ {
						var s float64
						for l := 0; l < k; l++ {
							var av, bv float32
							if c.transA {
								av = A[bi*m*k+l*m+i]
							} else {
								av = A[bi*m*k+i*k+l]
							}
							if c.transB {
								bv = B[bi*bStride+j*k+l]
							} else {
								bv = B[bi*bStride+l*n+j]
							}
							s += float64(av) * float64(bv)
						}
						want := 1.5*s + 0.5*float64(C[bi*m*n+i*n+j])
						require.InDelta(t, want, got[bi*m*n+i*n+j], 1e-5, "batch %d C[%d,%d]", bi, i, j)
					}
				}
			}
		})
	}
}
