// Package opbench is one benchmark suite for the ops of every backend, as
// package conformance is one test suite: the same ops at the same shapes
// under the same names, so that a CPU and a GPU run print their numbers side
// by side.
//
// A backend's benchmark calls Run with a Shape:
//
//	func BenchmarkOps(b *testing.B) {
//		opbench.Run(b, tensor.CPU(), opbench.Config{Shape: opbench.Tiny})
//	}
//
// and gets sub-benchmarks named <shape>/<Op>/<variant>, such as
// tiny/LayerNorm/fwd. Each reports GB/s (the bytes an op must read and
// write at least, for ops bound by memory) or GFLOP/s (the useful
// multiply-adds, for MatMul and Attention).
package opbench

import (
	"fmt"
	"slices"
	"testing"

	"github.com/dllmgo/dllm/tensor"
)

// Shape is a model's geometry; the benchmarks take their operands' shapes
// from it (a training step's activations, a layer's weights).
type Shape struct {
	Name                       string
	Batch, Seq, Heads, HeadDim int
	Intermediate, Vocab        int
	Window                     int // the local layers' sliding window
}

// Tiny is the tiny ModernBERT that the CPU trains in the demos: batch 8 ×
// seq 256, hidden 256 = 4 heads × 64, intermediate 384, vocab 4096, window
// 128.
var Tiny = Shape{Name: "tiny", Batch: 8, Seq: 256, Heads: 4, HeadDim: 64, Intermediate: 384, Vocab: 4096, Window: 128}

// Base is ModernBERT-base at PERF.md's GPU training shape: batch 8 × seq
// 1024, hidden 768 = 12 heads × 64, intermediate 1152, vocab 50368, window
// 128.
var Base = Shape{Name: "base", Batch: 8, Seq: 1024, Heads: 12, HeadDim: 64, Intermediate: 1152, Vocab: 50368, Window: 128}

// Llama is a Llama-7B-class width (LLaDA 8B, Dream 7B) over 2048 tokens:
// batch 2 × seq 1024, hidden 4096 = 32 heads × 128, intermediate 11008,
// vocab 32000, global attention only (no sliding window).
var Llama = Shape{Name: "llama", Batch: 2, Seq: 1024, Heads: 32, HeadDim: 128, Intermediate: 11008, Vocab: 32000}

// Smoke is a shape small enough to run every benchmark once in a test:
// that checks the suite's calls against each backend's contracts (a wrong
// operand shape would otherwise show up first on a borrowed GPU).
var Smoke = Shape{Name: "smoke", Batch: 2, Seq: 8, Heads: 4, HeadDim: 4, Intermediate: 6, Vocab: 16, Window: 4}

func (s Shape) rows() int   { return s.Batch * s.Seq }
func (s Shape) hidden() int { return s.Heads * s.HeadDim }

// Config says what to run and how to time it.
type Config struct {
	Shape Shape
	// BF16 adds the AttentionParams.BF16 variants of attention (a backend
	// without bf16 kernels would time its f32 path twice).
	BF16 bool
	// Only names the op groups to run ("RMSNorm", "SwiGLU", ...); empty:
	// all of them.
	Only []string
	// Time runs op b.N times and returns the seconds per call. nil: wall
	// clock, with the backend synchronised before and after the loop. A GPU
	// backend may pass a timer of device events.
	Time func(b *testing.B, op func()) float64
}

// Run runs every op's benchmark on be at c.Shape.
func Run(b *testing.B, be tensor.Backend, c Config) {
	time := c.Time
	if time == nil {
		time = func(b *testing.B, op func()) float64 { return wallClock(b, be, op) }
	}
	b.Run(c.Shape.Name, func(b *testing.B) {
		for _, g := range groups(c) {
			if len(c.Only) > 0 && !slices.Contains(c.Only, g.name) {
				continue
			}
			b.Run(g.name, func(b *testing.B) {
				e := &env{be: be, seed: 1}
				defer e.free()
				for _, v := range g.setup(e) {
					b.Run(v.name, func(b *testing.B) {
						sec := time(b, v.op)
						if v.bytes > 0 {
							b.ReportMetric(v.bytes/sec/1e9, "GB/s")
						}
						if v.flops > 0 {
							b.ReportMetric(v.flops/sec/1e9, "GFLOP/s")
						}
					})
				}
			})
		}
	})
}

// wallClock times b.N calls of op after one warm-up call (compilation,
// allocation), synchronising so that queued work is inside the interval.
func wallClock(b *testing.B, be tensor.Backend, op func()) float64 {
	op()
	mustSync(b, be)
	b.ResetTimer()
	for range b.N {
		op()
	}
	mustSync(b, be)
	b.StopTimer()
	return b.Elapsed().Seconds() / float64(b.N)
}

func mustSync(b *testing.B, be tensor.Backend) {
	if err := be.Sync(); err != nil {
		b.Fatal(err)
	}
}

// group is one op's benchmarks; setup makes the operands once (freed when
// the group ends) and returns the variants to time.
type group struct {
	name  string
	setup func(e *env) []variant
}

// variant is one timed call with the work it does: bytes moved or flops.
type variant struct {
	name         string
	op           func()
	bytes, flops float64
}

// env makes a group's operands on the backend and frees them at the end.
type env struct {
	be   tensor.Backend
	seed uint64
	made []*tensor.Tensor
}

func (e *env) keep(t *tensor.Tensor) *tensor.Tensor {
	e.made = append(e.made, t)
	return t
}

// zeros is a zero-filled tensor of the given dtype.
func (e *env) zeros(dt tensor.DType, shape ...int) *tensor.Tensor {
	return e.keep(e.be.New(dt, shape...))
}

// uniform is an F32 tensor of values in [−a, a) from a xorshift generator:
// cheap enough for the largest operands (a base vocabulary's logits), and
// the values do not change the ops' speed.
func (e *env) uniform(a float32, shape ...int) *tensor.Tensor {
	h := tensor.CPU().New(tensor.F32, shape...)
	x := e.next()
	for i, s := 0, h.F32(); i < len(s); i++ {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		s[i] = a * (float32(x>>40)/(1<<23) - 1)
	}
	return e.host(h)
}

// ints is an I32 tensor of values i·mul mod n: positions (mul 1, n = seq)
// or scattered indices.
func (e *env) ints(count, mul, n int) *tensor.Tensor {
	v := make([]int32, count)
	for i := range v {
		v[i] = int32(i * mul % n)
	}
	return e.host(tensor.FromI32(v, count))
}

func (e *env) host(h *tensor.Tensor) *tensor.Tensor {
	t := e.keep(e.be.FromHost(h))
	tensor.CPU().Free(h)
	return t
}

func (e *env) next() uint64 {
	e.seed++
	return e.seed*0x9E3779B97F4A7C15 | 1
}

func (e *env) free() {
	for _, t := range e.made {
		e.be.Free(t)
	}
	e.made = nil
}

// f32 is the size of a float32 in bytes.
const f32 = 4

// groups lists the benchmarks at c.Shape.
func groups(c Config) []group {
	s := c.Shape
	rows, h, inner, v := s.rows(), s.hidden(), s.Intermediate, s.Vocab
	act := float64(rows * h * f32) // one [rows, H] activation
	return []group{
		{"Add", func(e *env) []variant {
			x, y, z := e.uniform(1, rows, h), e.uniform(1, rows, h), e.zeros(tensor.F32, rows, h)
			return []variant{{name: "residual", op: func() { e.be.Add(z, x, y) }, bytes: 3 * act}}
		}},
		{"AXPY", func(e *env) []variant {
			x, y := e.uniform(1, rows, h), e.zeros(tensor.F32, rows, h)
			return []variant{{name: "accumulate", op: func() { e.be.AXPY(y, x, 0.5) }, bytes: 3 * act}}
		}},
		{"Cast", func(e *env) []variant {
			x, y := e.uniform(1, rows, h), e.zeros(tensor.BF16, rows, h)
			return []variant{{name: "f32-bf16", op: func() { e.be.Cast(y, x) }, bytes: act * 1.5}}
		}},
		{"SumRows", func(e *env) []variant {
			x, g := e.uniform(1, rows, h), e.zeros(tensor.F32, h)
			return []variant{{name: "bias-grad", op: func() { e.be.SumRows(g, x) }, bytes: act}}
		}},
		{"SumSquares", func(e *env) []variant {
			n := layerParams(s)
			x := e.uniform(1, n)
			return []variant{{name: "layer", op: func() { e.be.SumSquares(x) }, bytes: float64(n * f32)}}
		}},
		{"GELU", func(e *env) []variant {
			x, y, dx := e.uniform(2, rows, h), e.zeros(tensor.F32, rows, h), e.zeros(tensor.F32, rows, h)
			return []variant{
				{name: "fwd", op: func() { e.be.GELU(y, x) }, bytes: 2 * act},
				{name: "bwd", op: func() { e.be.GELUBackward(dx, x, y) }, bytes: 4 * act}, // read x, dy; read and write dx
			}
		}},
		{"LayerNorm", func(e *env) []variant {
			x, dy, gamma := e.uniform(2, rows, h), e.uniform(1, rows, h), e.uniform(1, h)
			y, dx, dg := e.zeros(tensor.F32, rows, h), e.zeros(tensor.F32, rows, h), e.zeros(tensor.F32, h)
			mean, rstd := e.zeros(tensor.F32, rows), e.zeros(tensor.F32, rows)
			e.be.LayerNorm(y, mean, rstd, x, gamma, nil, 1e-5)
			return []variant{
				{name: "fwd", op: func() { e.be.LayerNorm(y, mean, rstd, x, gamma, nil, 1e-5) }, bytes: 2 * act},
				{name: "bwd", op: func() { e.be.LayerNormBackward(dx, dg, nil, dy, x, mean, rstd, gamma) }, bytes: 4 * act},
			}
		}},
		{"GeGLU", func(e *env) []variant {
			x, dy := e.uniform(2, rows, 2*inner), e.uniform(1, rows, inner)
			y, dx := e.zeros(tensor.F32, rows, inner), e.zeros(tensor.F32, rows, 2*inner)
			n := float64(rows * inner * f32)
			return []variant{
				{name: "fwd", op: func() { e.be.GeGLU(y, x) }, bytes: 3 * n},              // read both halves, write y
				{name: "bwd", op: func() { e.be.GeGLUBackward(dx, x, dy) }, bytes: 7 * n}, // read x and dy, read and write dx
			}
		}},
		{"RMSNorm", func(e *env) []variant {
			// The hidden states' norm, and Qwen3's per-head norm of q and k
			// ([rows·heads, d] with a weight of d).
			p := tensor.RMSNormParams{Eps: 1e-6}
			var vs []variant
			for _, c := range []struct {
				name string
				n, d int
			}{{"hidden", rows, h}, {"per-head", rows * s.Heads, s.HeadDim}} {
				x, dy, w := e.uniform(2, c.n, c.d), e.uniform(1, c.n, c.d), e.uniform(1, c.d)
				y, dx, dw := e.zeros(tensor.F32, c.n, c.d), e.zeros(tensor.F32, c.n, c.d), e.zeros(tensor.F32, c.d)
				rstd := e.zeros(tensor.F32, c.n)
				e.be.RMSNorm(y, rstd, x, w, p)
				n := float64(c.n * c.d * f32)
				vs = append(vs,
					variant{name: c.name + "/fwd", op: func() { e.be.RMSNorm(y, rstd, x, w, p) }, bytes: 2 * n},
					// dx: read x, dy, dx, write dx; dw: read x, dy again
					variant{name: c.name + "/bwd", op: func() { e.be.RMSNormBackward(dx, dw, dy, x, rstd, w, p) }, bytes: 6 * n})
			}
			return vs
		}},
		{"SwiGLU", func(e *env) []variant {
			x, dy := e.uniform(2, rows, 2*inner), e.uniform(1, rows, inner)
			y, dx := e.zeros(tensor.F32, rows, inner), e.zeros(tensor.F32, rows, 2*inner)
			n := float64(rows * inner * f32)
			return []variant{
				{name: "fwd", op: func() { e.be.SwiGLU(y, x) }, bytes: 3 * n},
				{name: "bwd", op: func() { e.be.SwiGLUBackward(dx, x, dy) }, bytes: 7 * n},
			}
		}},
		{"Softmax", func(e *env) []variant {
			x, y := e.uniform(4, rows, v), e.zeros(tensor.F32, rows, v)
			return []variant{{name: "vocab", op: func() { e.be.Softmax(y, x) }, bytes: float64(2 * rows * v * f32)}}
		}},
		{"RoPE", func(e *env) []variant {
			qkv := e.uniform(1, rows, 3*s.Heads, s.HeadDim)
			out, dqkv := e.zeros(tensor.F32, rows, 3*s.Heads, s.HeadDim), e.zeros(tensor.F32, rows, 3*s.Heads, s.HeadDim)
			pos := e.ints(rows, 1, s.Seq)
			p := tensor.RoPEParams{Theta: 160000, Heads: 2 * s.Heads} // rotate Q and K, copy V: the fused split
			return []variant{
				{name: "fwd-qkv", op: func() { e.be.RoPE(out, qkv, pos, p) }, bytes: 6 * act},
				{name: "bwd-qkv", op: func() { e.be.RoPEBackward(dqkv, out, pos, p) }, bytes: 9 * act},
			}
		}},
		{"Attention", func(e *env) []variant { return attention(e, c) }},
		{"Embedding", func(e *env) []variant {
			table, dtable := e.uniform(1, v, h), e.zeros(tensor.F32, v, h)
			ids, y := e.ints(rows, 7919, v), e.zeros(tensor.F32, rows, h)
			return []variant{
				{name: "fwd", op: func() { e.be.Embedding(y, table, ids) }, bytes: 2 * act},
				{name: "bwd", op: func() { e.be.EmbeddingBackward(dtable, ids, y, 0) }, bytes: 3 * act},
			}
		}},
		{"CrossEntropy", func(e *env) []variant {
			// The diffusion loss takes logits only at masked positions:
			// half the tokens on average.
			n := rows / 2
			logits, targets := e.uniform(4, n, v), e.ints(n, 7919, v)
			loss, lse, dl := e.zeros(tensor.F32, n), e.zeros(tensor.F32, n), e.zeros(tensor.F32, n, v)
			e.be.CrossEntropy(loss, lse, logits, targets, nil, -100)
			size := float64(n * v * f32)
			return []variant{
				{name: "fwd", op: func() { e.be.CrossEntropy(loss, lse, logits, targets, nil, -100) }, bytes: size},
				{name: "bwd", op: func() { e.be.CrossEntropyBackward(dl, logits, lse, targets, nil, 1/float32(n), -100) }, bytes: 3 * size},
			}
		}},
		{"MatMul", func(e *env) []variant {
			// The QKV projection: [rows, H] · [H, 3H].
			a, w, out := e.uniform(1, rows, h), e.uniform(1, h, 3*h), e.zeros(tensor.F32, rows, 3*h)
			a16, w16 := e.zeros(tensor.BF16, rows, h), e.zeros(tensor.BF16, h, 3*h)
			e.be.Cast(a16, a)
			e.be.Cast(w16, w)
			flops := 2 * float64(rows) * float64(h) * float64(3*h)
			return []variant{
				{name: "f32", op: func() { e.be.MatMul(out, a, w, false, false, 1, 0) }, flops: flops},
				{name: "bf16", op: func() { e.be.MatMul(out, a16, w16, false, false, 1, 0) }, flops: flops},
			}
		}},
		{"AdamW", func(e *env) []variant {
			n := layerParams(s)
			param, grad, m, vv := e.uniform(1, n), e.uniform(1, n), e.zeros(tensor.F32, n), e.zeros(tensor.F32, n)
			p := tensor.AdamWParams{LR: 1e-4, Beta1: 0.9, Beta2: 0.98, Eps: 1e-6, WeightDecay: 0.01, Step: 10}
			return []variant{{name: "layer", op: func() { e.be.AdamW(param, grad, m, vv, p) }, bytes: float64(7 * n * f32)}} // read 4, write 3
		}},
	}
}

// layerParams is the number of weights in one transformer layer: Wqkv
// [H, 3H], Wo [H, H], Wi [H, 2I] and the MLP's Wo [I, H].
func layerParams(s Shape) int {
	h := s.hidden()
	return h*3*h + h*h + h*2*s.Intermediate + s.Intermediate*h
}

// attention benchmarks global, sliding-window and grouped-query attention,
// forward and backward, counting the useful flops: 2 per multiply-add, QKᵀ and PV over
// the visible (query, key) pairs; the backward does 2.5 times as much (the
// scores recomputed, dV, dP, dQ, dK).
func attention(e *env, c Config) []variant {
	s := c.Shape
	qkv := e.uniform(1, s.Batch, s.Seq, 3, s.Heads, s.HeadDim)
	dout := e.uniform(1, s.Batch, s.Seq, s.Heads, s.HeadDim)
	out, lse := e.zeros(tensor.F32, s.Batch, s.Seq, s.Heads, s.HeadDim), e.zeros(tensor.F32, s.Batch, s.Heads, s.Seq)
	dqkv := e.zeros(tensor.F32, s.Batch, s.Seq, 3, s.Heads, s.HeadDim)
	precisions := []bool{false}
	if c.BF16 {
		precisions = append(precisions, true)
	}
	windows := []int{0}
	if s.Window > 0 {
		windows = append(windows, s.Window)
	}
	var vs []variant
	for _, bf16 := range precisions {
		for _, window := range windows {
			p := tensor.AttentionParams{Heads: s.Heads, Scale: 0.125, Window: window, BF16: bf16}
			fwd := 4 * float64(s.Batch*s.Heads*s.HeadDim) * float64(visiblePairs(s.Seq, p))
			name := "global"
			if window > 0 {
				name = fmt.Sprintf("window%d", window)
			}
			if bf16 {
				name += "-bf16"
			}
			vs = append(vs,
				variant{name: name + "/fwd", op: func() { e.be.Attention(out, lse, qkv, nil, p) }, flops: fwd},
				variant{name: name + "/bwd", op: func() {
					e.be.AttentionBackward(dqkv, dout, qkv, out, lse, nil, p)
				}, flops: 2.5 * fwd})
		}
		if s.Seq%2 == 0 && s.Seq >= 32 {
			// Block diffusion's training layout [x_t ; x_0] with blocks of
			// 16, as structure: the flops count the visible pairs only, so
			// the rate says how well the skipped tiles are skipped.
			p := tensor.AttentionParams{Heads: s.Heads, Scale: 0.125, BF16: bf16, Blocks: tensor.BlockPattern{Size: 16, Half: s.Seq / 2}}
			fwd := 4 * float64(s.Batch*s.Heads*s.HeadDim) * float64(visiblePairs(s.Seq, p))
			name := "bd3lm16"
			if bf16 {
				name += "-bf16"
			}
			vs = append(vs,
				variant{name: name + "/fwd", op: func() { e.be.Attention(out, lse, qkv, nil, p) }, flops: fwd},
				variant{name: name + "/bwd", op: func() {
					e.be.AttentionBackward(dqkv, dout, qkv, out, lse, nil, p)
				}, flops: 2.5 * fwd})
		}
		if s.Heads%4 == 0 {
			// Grouped-query attention, four query heads per key/value head,
			// against global multi-head attention at equal work: the same
			// flops, less K and V to read.
			nkv := s.Heads / 4
			gqkv := e.uniform(1, s.Batch, s.Seq, s.Heads+2*nkv, s.HeadDim)
			gd := e.zeros(tensor.F32, s.Batch, s.Seq, s.Heads+2*nkv, s.HeadDim)
			p := tensor.AttentionParams{Heads: s.Heads, KVHeads: nkv, Scale: 0.125, BF16: bf16}
			fwd := 4 * float64(s.Batch*s.Heads*s.HeadDim) * float64(s.Seq*s.Seq)
			name := "gqa4"
			if bf16 {
				name += "-bf16"
			}
			vs = append(vs,
				variant{name: name + "/fwd", op: func() { e.be.Attention(out, lse, gqkv, nil, p) }, flops: fwd},
				variant{name: name + "/bwd", op: func() {
					e.be.AttentionBackward(gd, dout, gqkv, out, lse, nil, p)
				}, flops: 2.5 * fwd})
		}
	}
	e.be.Attention(out, lse, qkv, nil, tensor.AttentionParams{Heads: s.Heads, Scale: 0.125})
	return vs
}

// visiblePairs counts the (query, key) pairs of a sequence that p lets
// attend.
func visiblePairs(seq int, p tensor.AttentionParams) int {
	if p.Blocks.Size > 0 {
		n := 0
		for i := range seq {
			for j := range seq {
				if p.Sees(i, j) {
					n++
				}
			}
		}
		return n
	}
	if p.Window <= 0 {
		return seq * seq
	}
	n := 0
	for i := range seq {
		lo, hi := max(0, i-p.Window/2), min(seq-1, i+p.Window/2)
		n += hi - lo + 1
	}
	return n
}
