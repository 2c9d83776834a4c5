package nn

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dllmgo/dllm/tensor"
)

func randLeaf(rng *rand.Rand, shape ...int) *Var {
	n := tensor.Numel(shape)
	d := make([]float32, n)
	for i := range d {
		d[i] = float32(rng.NormFloat64())
	}
	return Leaf(tensor.FromF32(d, shape...))
}

func randIDs(rng *rand.Rand, n, vocab int) *tensor.Tensor {
	d := make([]int32, n)
	for i := range d {
		d[i] = int32(rng.IntN(vocab))
	}
	return tensor.FromI32(d, n)
}

// opCase is one op applied to random leaves, for the gradient checks.
type opCase struct {
	name   string
	inputs []*Var
	f      func(tp *Tape) *Var
}

// opCases applies every op to fresh random inputs of odd sizes.
func opCases(rng *rand.Rand) []opCase {
	type tc = opCase
	var cases []tc
	add := func(name string, f func(in []*Var) func(tp *Tape) *Var, inputs ...*Var) {
		cases = append(cases, tc{name, inputs, f(inputs)})
	}
	add("Add", func(in []*Var) func(*Tape) *Var {
		return func(tp *Tape) *Var { return tp.Add(in[0], in[1]) }
	}, randLeaf(rng, 3, 5), randLeaf(rng, 3, 5))
	add("Mul", func(in []*Var) func(*Tape) *Var {
		return func(tp *Tape) *Var { return tp.Mul(in[0], in[1]) }
	}, randLeaf(rng, 7), randLeaf(rng, 7))
	add("Scale", func(in []*Var) func(*Tape) *Var {
		return func(tp *Tape) *Var { return tp.Scale(in[0], -1.7) }
	}, randLeaf(rng, 2, 3))
	add("Linear", func(in []*Var) func(*Tape) *Var {
		return func(tp *Tape) *Var { return tp.Linear(in[0], in[1]) }
	}, randLeaf(rng, 5, 7), randLeaf(rng, 3, 7))
	add("AddBias", func(in []*Var) func(*Tape) *Var {
		return func(tp *Tape) *Var { return tp.AddBias(in[0], in[1]) }
	}, randLeaf(rng, 4, 6), randLeaf(rng, 6))
	add("LinearBias", func(in []*Var) func(*Tape) *Var {
		return func(tp *Tape) *Var { return tp.LinearBias(in[0], in[1], in[2]) }
	}, randLeaf(rng, 5, 7), randLeaf(rng, 3, 7), randLeaf(rng, 3))
	add("GELU", func(in []*Var) func(*Tape) *Var {
		return func(tp *Tape) *Var { return tp.GELU(in[0]) }
	}, randLeaf(rng, 3, 11))
	add("GeGLU", func(in []*Var) func(*Tape) *Var {
		return func(tp *Tape) *Var { return tp.GeGLU(in[0]) }
	}, randLeaf(rng, 3, 10))
	add("LayerNorm/no-bias", func(in []*Var) func(*Tape) *Var {
		return func(tp *Tape) *Var { return tp.LayerNorm(in[0], in[1], nil, 1e-5) }
	}, randLeaf(rng, 4, 9), randLeaf(rng, 9))
	add("LayerNorm/bias", func(in []*Var) func(*Tape) *Var {
		return func(tp *Tape) *Var { return tp.LayerNorm(in[0], in[1], in[2], 1e-5) }
	}, randLeaf(rng, 3, 8), randLeaf(rng, 8), randLeaf(rng, 8))
	add("SwiGLU", func(in []*Var) func(*Tape) *Var {
		return func(tp *Tape) *Var { return tp.SwiGLU(in[0]) }
	}, randLeaf(rng, 3, 14))
	add("RMSNorm", func(in []*Var) func(*Tape) *Var {
		return func(tp *Tape) *Var { return tp.RMSNorm(in[0], in[1], tensor.RMSNormParams{Eps: 1e-6}) }
	}, randLeaf(rng, 4, 9), randLeaf(rng, 9))
	add("RMSNorm/offset", func(in []*Var) func(*Tape) *Var {
		return func(tp *Tape) *Var { return tp.RMSNorm(in[0], in[1], tensor.RMSNormParams{Eps: 1e-5, WeightOffset: 1}) }
	}, randLeaf(rng, 3, 7), randLeaf(rng, 7))
	add("RMSNorm/per-head", func(in []*Var) func(*Tape) *Var {
		return func(tp *Tape) *Var { return tp.RMSNorm(in[0], in[1], tensor.RMSNormParams{Eps: 1e-6}) }
	}, randLeaf(rng, 3, 4, 8), randLeaf(rng, 8))
	ids := randIDs(rng, 9, 6)
	add("Embedding", func(in []*Var) func(*Tape) *Var {
		return func(tp *Tape) *Var { return tp.Embedding(in[0], ids, -1) }
	}, randLeaf(rng, 6, 5))
	rows := tensor.FromI32([]int32{4, 0, 4, 2}, 4)
	add("GatherRows", func(in []*Var) func(*Tape) *Var {
		return func(tp *Tape) *Var { return tp.GatherRows(in[0], rows) }
	}, randLeaf(rng, 5, 3))
	pos := randIDs(rng, 6, 50)
	add("RoPE", func(in []*Var) func(*Tape) *Var {
		return func(tp *Tape) *Var { return tp.RoPE(in[0], pos, tensor.RoPEParams{Theta: 10000, Heads: 2}) }
	}, randLeaf(rng, 6, 3, 8))
	for _, window := range []int{0, 4} {
		keyMask := tensor.FromI32([]int32{1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0}, 2, 6)
		p := tensor.AttentionParams{Heads: 2, Scale: 0.5, Window: window}
		add("Attention", func(in []*Var) func(*Tape) *Var {
			return func(tp *Tape) *Var { return tp.Attention(in[0], keyMask, p) }
		}, randLeaf(rng, 2, 6, 3, 2, 4))
		gqa := tensor.AttentionParams{Heads: 4, KVHeads: 2, Scale: 0.5, Window: window}
		add("Attention GQA", func(in []*Var) func(*Tape) *Var {
			return func(tp *Tape) *Var { return tp.Attention(in[0], keyMask, gqa) }
		}, randLeaf(rng, 2, 6, 4+2*2, 3))
	}
	targets := tensor.FromI32([]int32{3, -100, 0, 6, 2}, 5)
	weights := tensor.FromF32([]float32{0.5, 1, 2, 0.25, 1.5}, 5)
	add("CrossEntropy", func(in []*Var) func(*Tape) *Var {
		return func(tp *Tape) *Var { return tp.CrossEntropy(in[0], targets, weights, -100) }
	}, randLeaf(rng, 5, 7))
	add("Sum", func(in []*Var) func(*Tape) *Var {
		return func(tp *Tape) *Var { return tp.Sum(in[0]) }
	}, randLeaf(rng, 4, 3))
	add("Reshape∘Linear", func(in []*Var) func(*Tape) *Var {
		return func(tp *Tape) *Var { return tp.Linear(tp.Reshape(in[0], 6, 2), in[1]) }
	}, randLeaf(rng, 3, 4), randLeaf(rng, 5, 2))
	add("ConcatRows", func(in []*Var) func(*Tape) *Var {
		return func(tp *Tape) *Var { return tp.ConcatRows(in[0], in[1], in[2]) }
	}, randLeaf(rng, 3, 4), randLeaf(rng, 1, 4), randLeaf(rng, 2, 4))
	stack := randLeaf(rng, 6, 4).Value
	add("Stacked", func(in []*Var) func(*Tape) *Var {
		return func(tp *Tape) *Var { return tp.Stacked(stack, in...) }
	}, Leaf(stack.Rows(0, 3)), Leaf(stack.Rows(3, 4)), Leaf(stack.Rows(4, 6)))
	return cases
}

// TestOpGradients checks every op's hand-written backward against finite
// differences.
func TestOpGradients(t *testing.T) {
	for _, c := range opCases(rand.New(rand.NewPCG(7, 7))) {
		t.Run(c.name, func(t *testing.T) {
			require.NoError(t, GradCheck(c.inputs, c.f, 1e-2, 2e-3, 1))
		})
	}
}

// TestBackwardReadsNoFreedMemory runs every op's forward and backward twice,
// once as usual and once with the CPU backend poisoning freed buffers (NaN)
// instead of reusing them, and requires bit-identical gradients: a backward
// step that read a gradient or scratch buffer the tape had already freed
// would see NaN in the second run.
func TestBackwardReadsNoFreedMemory(t *testing.T) {
	grads := func(c opCase, freeActs bool) [][]float32 {
		for _, in := range c.inputs {
			in.Grad = nil
		}
		tp := NewTape(tensor.CPU())
		tp.FreeActivations = freeActs
		out := c.f(tp)
		// Two uses of the output, so that its gradient is accumulated
		// before the op's own step reads it.
		tp.Backward(tp.Sum(tp.Add(tp.Scale(out, 0.5), tp.GELU(out))))
		switch {
		case freeActs && out.borrowed:
			// Stacked's output is its parameters' storage: it stays.
			require.NotPanics(t, func() { out.Value.F32() }, "FreeActivations freed borrowed storage")
		case freeActs && out.NeedsGrad():
			// Backward freed the op's output: its storage is gone.
			require.Panics(t, func() { out.Value.F32() }, "FreeActivations left the output alive")
		}
		var gs [][]float32
		for _, in := range c.inputs {
			gs = append(gs, append([]float32(nil), in.Grad.F32()...))
		}
		return gs
	}
	for _, c := range opCases(rand.New(rand.NewPCG(8, 8))) {
		for _, freeActs := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/free activations %v", c.name, freeActs), func(t *testing.T) {
				want := grads(c, false)
				was := tensor.DebugPoisonFreed(true)
				defer tensor.DebugPoisonFreed(was)
				got := grads(c, freeActs)
				require.Equal(t, len(want), len(got))
				for i := range want {
					for j := range want[i] {
						require.Equal(t, math.Float32bits(want[i][j]), math.Float32bits(got[i][j]),
							"input %d element %d: %v with poisoned frees, %v without", i, j, got[i][j], want[i][j])
					}
				}
			})
		}
	}
}

// TestBackwardKeepsOnlyLeafGradients: an op output's gradient is freed once
// its backward step has used it, a Leaf's stays.
func TestBackwardKeepsOnlyLeafGradients(t *testing.T) {
	rng := rand.New(rand.NewPCG(4, 4))
	x, w := randLeaf(rng, 4, 6), randLeaf(rng, 5, 3)
	tp := NewTape(tensor.CPU())
	h := tp.GELU(x)
	r := tp.Reshape(h, 8, 3)
	y := tp.Linear(r, w)
	require.Nil(t, r.Grad, "a reshape's gradient is made when a backward step needs it")
	tp.Backward(tp.Sum(y))
	require.NotNil(t, x.Grad)
	require.NotNil(t, w.Grad)
	require.Nil(t, h.Grad)
	require.Nil(t, y.Grad)
}

// A gradient check that cannot fail proves nothing: a wrong backward must be
// caught.
func TestGradCheckCatchesWrongBackward(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 3))
	x := randLeaf(rng, 4, 3)
	wrong := func(tp *Tape) *Var {
		out := tp.newVar(tensor.F32, x.Shape()...)
		tp.B.Scale(out.Value, x.Value, 2)
		return tp.record(out, func() { tp.B.AXPY(x.grad(), out.Grad, 2.1) }, x)
	}
	require.Error(t, GradCheck([]*Var{x}, wrong, 1e-2, 2e-3, 1))
}

func TestGradientsAccumulateAcrossUses(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 5))
	x := randLeaf(rng, 6)
	tp := NewTape(tensor.CPU())
	loss := tp.Sum(tp.Add(x, x)) // d/dx of Σ 2x is 2 everywhere
	tp.Backward(loss)
	for _, g := range x.Grad.F32() {
		require.Equal(t, float32(2), g)
	}
	tp.Backward(tp.Sum(tp.Scale(x, 3))) // a second pass adds 3
	for _, g := range x.Grad.F32() {
		require.Equal(t, float32(5), g)
	}
}

// TestLinearBiasInPlaceUnderNoGrad: under NoGrad LinearBias adds the bias
// into the product in place, with the same float32 sums as AddBias(Linear)
// on a recording tape, and leaves its inputs as they were.
func TestLinearBiasInPlaceUnderNoGrad(t *testing.T) {
	rng := rand.New(rand.NewPCG(12, 13))
	for _, shape := range [][3]int{{1, 5, 3}, {7, 33, 19}, {16, 64, 70}} {
		x, w, b := randLeaf(rng, shape[0], shape[1]), randLeaf(rng, shape[2], shape[1]), randLeaf(rng, shape[2])
		xs, ws, bs := append([]float32(nil), x.Value.F32()...), append([]float32(nil), w.Value.F32()...), append([]float32(nil), b.Value.F32()...)
		want := NewTape(tensor.CPU()).AddBias(NewTape(tensor.CPU()).Linear(x, w), b).Value.F32()
		tp := NoGrad(tensor.CPU())
		got := tp.LinearBias(x, w, b)
		require.Empty(t, tp.steps)
		require.Equal(t, []int{shape[0], shape[2]}, got.Shape())
		for i := range want {
			require.Equal(t, math.Float32bits(want[i]), math.Float32bits(got.Value.F32()[i]), "%v element %d", shape, i)
		}
		require.Equal(t, xs, x.Value.F32())
		require.Equal(t, ws, w.Value.F32())
		require.Equal(t, bs, b.Value.F32())
	}
}

// TestNoGradLinearWritesEveryElement: under NoGrad Linear's output comes
// from the pool unzeroed (tensor.UninitAllocator); on a recycled buffer full of
// NaN it still equals the recording tape's product bit for bit, because the
// product (beta 0) writes every element.
func TestNoGradLinearWritesEveryElement(t *testing.T) {
	rng := rand.New(rand.NewPCG(14, 15))
	for _, s := range [][3]int{{64, 33, 160}, {17, 40, 1000}, {130, 8, 70}} {
		n, in, out := s[0], s[1], s[2]
		x, w := randLeaf(rng, n, in), randLeaf(rng, out, in)
		want := NewTape(tensor.CPU()).Linear(x, w).Value.F32()
		garbage := tensor.CPU().New(tensor.F32, n*out)
		for i := range garbage.F32() {
			garbage.F32()[i] = float32(math.NaN())
		}
		garbage.Free()
		got := NoGrad(tensor.CPU()).Linear(x, w).Value.F32()
		for i := range want {
			require.Equal(t, math.Float32bits(want[i]), math.Float32bits(got[i]), "%v element %d", s, i)
		}
	}
}

func TestNoGradRecordsNothing(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 9))
	x := randLeaf(rng, 2, 3)
	tp := NoGrad(tensor.CPU())
	y := tp.GELU(x)
	require.False(t, y.NeedsGrad())
	require.Empty(t, tp.steps)
	require.Panics(t, func() { tp.Backward(tp.Sum(y)) })
}

func TestDropoutIsSeededAndUnbiased(t *testing.T) {
	ones := make([]float32, 20000)
	for i := range ones {
		ones[i] = 1
	}
	x := Leaf(tensor.FromF32(ones, len(ones)))
	run := func() []float32 {
		d := &Dropout{P: 0.25, Rng: rand.New(rand.NewPCG(1, 2))}
		return d.Forward(NewTape(tensor.CPU()), x).Value.F32()
	}
	a, b := run(), run()
	require.Equal(t, a, b, "same seed, same mask")
	sum, zeros := 0.0, 0
	for _, v := range a {
		sum += float64(v)
		if v == 0 {
			zeros++
		}
	}
	require.InDelta(t, 1.0, sum/float64(len(a)), 0.03, "mean preserved")
	require.InDelta(t, 0.25, float64(zeros)/float64(len(a)), 0.02)
	// Inference leaves values alone.
	d := &Dropout{P: 0.5, Rng: rand.New(rand.NewPCG(1, 2))}
	require.Equal(t, x, d.Forward(NoGrad(tensor.CPU()), x))
}
