package nn

import (
	"fmt"

	"github.com/dllmgo/dllm/tensor"
)

// Var is a node of the computation: a value and, if it needs one, the
// gradient of the final loss with respect to it.
type Var struct {
	Value *tensor.Tensor
	// Grad has Value's shape (F32) once some backward step wrote into it;
	// nil before that.
	Grad *tensor.Tensor
	// needGrad says whether gradients must flow to this Var: it is a
	// trainable parameter or depends on one.
	needGrad bool
	// base is the Var this one is a Reshape of: its gradient is a view of
	// base's, made when first needed.
	base *Var
	// borrowed says that Value belongs to someone else (parameters, see
	// Tape.Stacked): Backward never frees it.
	borrowed bool
}

// Constant wraps a value that needs no gradient (inputs, masks).
func Constant(v *tensor.Tensor) *Var { return &Var{Value: v} }

// Leaf wraps a value whose gradient is wanted (a parameter, or an input in a
// gradient check).
func Leaf(v *tensor.Tensor) *Var { return &Var{Value: v, needGrad: true} }

// NeedsGrad reports whether gradients flow to v.
func (v *Var) NeedsGrad() bool { return v.needGrad }

// Shape is the value's shape.
func (v *Var) Shape() []int { return v.Value.Shape() }

// grad returns v's gradient buffer, allocating a zero one on first use (a
// view of base's for a reshaped Var). Backward functions accumulate into it.
func (v *Var) grad() *tensor.Tensor {
	if v.Grad == nil {
		if v.base != nil {
			v.Grad = v.base.grad().Reshape(v.Value.Shape()...)
		} else {
			v.Grad = v.Value.Backend().New(tensor.F32, v.Value.Shape()...)
		}
	}
	return v.Grad
}

// ZeroGrad drops the gradient so the next backward pass starts from zero.
func (v *Var) ZeroGrad() {
	if v.Grad != nil {
		v.Grad.Backend().Fill(v.Grad, 0)
	}
}

func (v *Var) String() string { return fmt.Sprintf("Var(%v)", v.Value) }
