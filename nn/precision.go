package nn

import (
	"fmt"

	"github.com/dllmgo/dllm/tensor"
)

// Precision is the arithmetic of a tape's matrix multiplications: the one
// switch of mixed-precision training. Set it on the tape before the forward
// pass (tp.Precision = nn.PrecisionBF16); every Linear recorded on that tape
// follows it, so model code needs no changes.
type Precision uint8

const (
	// PrecisionF32 multiplies in float32 throughout. It is the zero value.
	PrecisionF32 Precision = iota
	// PrecisionBF16 is autocast: the operands of every Linear are rounded
	// to bfloat16 (to nearest even) and multiplied with f32 accumulation,
	// forward and backward, while parameters, gradients, optimizer state and
	// every other op stay float32. Tensor cores run such products several
	// times faster than f32 ones and the bf16 copies halve their memory
	// traffic; the CPU backend widens them back and only gets slower.
	PrecisionBF16
)

func (p Precision) String() string {
	switch p {
	case PrecisionF32:
		return "f32"
	case PrecisionBF16:
		return "bf16"
	}
	return fmt.Sprintf("Precision(%d)", uint8(p))
}

// ParsePrecision reads "f32" or "bf16", the names String gives.
func ParsePrecision(s string) (Precision, error) {
	for _, p := range []Precision{PrecisionF32, PrecisionBF16} {
		if s == p.String() {
			return p, nil
		}
	}
	return 0, fmt.Errorf("unknown precision %q (known: f32, bf16)", s)
}

// linearBF16 is Linear under autocast: y = bf16(x)·bf16(w)ᵀ summed in f32.
//
// The backward casts dy to bf16 once and forms dx = dy·w and dw = dyᵀ·x from
// the same bf16 copies of x and w the forward used, adding f32 results into
// the f32 gradients (for a parameter, the gradient of its f32 master copy).
// The rounding of x and w is treated as the identity when differentiating,
// as PyTorch's autocast does: apart from the rounding of dy, the backward is
// the exact derivative of the product the forward computed.
func (tp *Tape) linearBF16(out, x, w *Var) *Var {
	// A weight kept in BF16 is used as it is; the rounding it was stored
	// with is the rounding autocast would apply.
	xb, wb, ownW := tp.toBF16(x.Value), w.Value, w.Value.DType() != tensor.BF16
	if ownW {
		wb = tp.toBF16(w.Value)
	}
	freeW := func() {
		if ownW {
			wb.Free()
		}
	}
	tp.B.MatMul(out.Value, xb, wb, false, true, 1, 0)
	if tp.off || !(x.needGrad || w.needGrad) {
		xb.Free()
		freeW()
		return out
	}
	return tp.record(out, func() {
		dy := tp.toBF16(out.Grad)
		if x.needGrad { // dx += dy·w
			tp.B.MatMul(x.grad(), dy, wb, false, false, 1, 1)
		}
		if w.needGrad { // dw += dyᵀ·x
			tp.B.MatMul(w.grad(), dy, xb, true, false, 1, 1)
		}
		dy.Free()
		xb.Free()
		freeW()
	}, x, w)
}

// toBF16 returns a bfloat16 copy of the F32 tensor t (round to nearest even).
func (tp *Tape) toBF16(t *tensor.Tensor) *tensor.Tensor {
	b := tp.B.New(tensor.BF16, t.Shape()...)
	tp.B.Cast(b, t)
	return b
}
