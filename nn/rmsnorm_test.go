package nn

import (
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dllmgo/dllm/tensor"
)

// Either input of RMSNorm may be frozen: the gradient of the other is still
// right, and the frozen one gets none.
func TestRMSNormFrozenInputs(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 11))
	p := tensor.RMSNormParams{Eps: 1e-6}
	t.Run("frozen weight", func(t *testing.T) {
		x, w := randLeaf(rng, 5, 6), Constant(randLeaf(rng, 6).Value)
		require.NoError(t, GradCheck([]*Var{x}, func(tp *Tape) *Var { return tp.RMSNorm(x, w, p) }, 1e-2, 2e-3, 1))
		require.Nil(t, w.Grad)
	})
	t.Run("constant input", func(t *testing.T) {
		x, w := Constant(randLeaf(rng, 5, 6).Value), randLeaf(rng, 6)
		require.NoError(t, GradCheck([]*Var{w}, func(tp *Tape) *Var { return tp.RMSNorm(x, w, p) }, 1e-2, 2e-3, 1))
		require.Nil(t, x.Grad)
	})
}

// NewRMSNorm names its weight as checkpoints do, keeps it out of weight
// decay and starts at scale 1 in either convention, so that a fresh layer
// maps x to x/rms(x).
func TestNewRMSNorm(t *testing.T) {
	cpu := tensor.CPU()
	x := tensor.FromF32([]float32{3, -4, 1, 2, 2, -1}, 2, 3)
	// rms(3, −4, 1) = √(26/3), rms(2, 2, −1) = √3.
	want := []float32{3 / 2.9439203, -4 / 2.9439203, 1 / 2.9439203, 2 / 1.7320508, 2 / 1.7320508, -1 / 1.7320508}
	for _, c := range []struct {
		offset float32
		w      float32
	}{{0, 1}, {1, 0}} {
		n := NewRMSNorm(cpu, "model.layers.0.input_layernorm", 3, 1e-6, c.offset)
		require.Equal(t, "model.layers.0.input_layernorm.weight", n.Weight.Name)
		require.True(t, n.Weight.NoDecay)
		require.Equal(t, []float32{c.w, c.w, c.w}, n.Weight.Value.F32())
		require.Equal(t, []*Param{n.Weight}, n.Params())
		y := n.Forward(NoGrad(cpu), Constant(x)).Value.F32()
		require.InDeltaSlice(t, want, y, 1e-5)
	}
}
