package nn

import (
	"math"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dllmgo/dllm/tensor"
)

func TestSoftmaxAndScatterAddRows(t *testing.T) {
	x := Leaf(tensor.FromF32([]float32{0.3, -1.2, 2.0, 0.5, 1.1, 0.7, -0.4, 0.9}, 2, 4))
	y := NoGrad(tensor.CPU()).Softmax(x).Value.F32()
	z := math.Exp(0.3) + math.Exp(-1.2) + math.Exp(2.0) + math.Exp(0.5)
	require.InDelta(t, math.Exp(2.0)/z, y[2], 1e-6)
	require.NoError(t, GradCheck([]*Var{x}, func(tp *Tape) *Var { return tp.Softmax(x) }, 1e-2, 1e-2, 3))

	idx := tensor.FromI32([]int32{2, 0, 2, 1}, 4)
	src := Leaf(tensor.FromF32([]float32{1, 2, 3, 4, 5, 6, 7, 8}, 4, 2))
	out := NoGrad(tensor.CPU()).ScatterAddRows(src, idx, 3)
	require.Equal(t, []float32{3, 4, 7, 8, 6, 8}, out.Value.F32())
	require.NoError(t, GradCheck([]*Var{src}, func(tp *Tape) *Var { return tp.ScatterAddRows(src, idx, 3) }, 1e-2, 1e-3, 4))
}
