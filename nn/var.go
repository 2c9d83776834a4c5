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

// freshGrad is grad for a backward step that can write the gradient whole
// instead of adding into it: when v has no gradient yet (and is not a view
// of another Var's), it allocates one without zero-filling it where the
// backend can (tensor.UninitAllocator) and reports fresh, and the caller must
// then set every element (a copy, a product with beta 0). Otherwise it is
// grad(), and the caller adds as usual. Writing g instead of adding it to
// zeros gives the same values (0 + g = g; a −0 stays −0 instead of turning
// +0) without a pass to zero the buffer and a read of it.
func (v *Var) freshGrad() (g *tensor.Tensor, fresh bool) {
	if v.Grad != nil || v.base != nil {
		return v.grad(), false
	}
	v.Grad = tensor.NewUninit(v.Value.Backend(), tensor.F32, v.Value.Shape()...)
	return v.Grad, true
}

// addGrad adds g (v's element count) into v's gradient, or copies it into a
// fresh one (freshGrad).
func (v *Var) addGrad(be tensor.Backend, g *tensor.Tensor) {
	if dst, fresh := v.freshGrad(); fresh {
		be.Copy(dst, g)
	} else {
		be.AXPY(dst, g, 1)
	}
}

// ZeroGrad drops the gradient so the next backward pass starts from zero.
func (v *Var) ZeroGrad() {
	if v.Grad != nil {
		v.Grad.Backend().Fill(v.Grad, 0)
	}
}

func (v *Var) String() string { return fmt.Sprintf("Var(%v)", v.Value) }
