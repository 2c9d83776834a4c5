package nn

import (
	"fmt"

	"github.com/dllmgo/dllm/tensor"
)

// Tape records the backward steps of a forward pass. A Tape with grad
// disabled (NoGrad) records nothing: the same model code then runs as plain
// inference without keeping activations alive.
type Tape struct {
	B tensor.Backend
	// Precision is the arithmetic of the matrix products recorded on this
	// tape (Linear); the zero value is PrecisionF32.
	Precision Precision
	// FreeActivations makes Backward also free the value of every recorded
	// op's output once the op's backward step has run (the loss, and the
	// last op's output in case the loss is a view of it, excepted).
	// Those activations are dead by then, but the tape cannot know whether
	// its caller still reads them (logits kept for a metric, say), so it is
	// opt-in: set it where a step reads nothing but the loss. Without it the
	// garbage collector returns them, which on a GPU waits until the device
	// is full.
	FreeActivations bool
	steps           []step
	off             bool
	scratch         bool   // TrackScratch: made lists the values of op outputs
	made            []*Var // op outputs since the last FreeScratch
}

// step is one recorded backward function and the output whose gradient it
// propagates to the op's inputs.
type step struct {
	out      *Var
	backward func()
}

// NewTape starts recording on backend b.
func NewTape(b tensor.Backend) *Tape { return &Tape{B: b} }

// NoGrad returns a tape that records nothing, for inference.
func NoGrad(b tensor.Backend) *Tape { return &Tape{B: b, off: true} }

// Recording reports whether backward steps are kept.
func (tp *Tape) Recording() bool { return !tp.off }

// record keeps a backward step if any input needs a gradient, and marks the
// output accordingly. It is how every op joins the graph.
func (tp *Tape) record(out *Var, backward func(), inputs ...*Var) *Var {
	if tp.off {
		return out
	}
	for _, in := range inputs {
		if in != nil && in.needGrad {
			out.needGrad = true
			tp.steps = append(tp.steps, step{out, backward})
			break
		}
	}
	return out
}

// Backward computes the gradients of the scalar loss (one element) with
// respect to every Var that needs one, adding into existing gradients. The
// tape is emptied, so the activations it held can be freed.
//
// Only leaves (parameters, Leaf inputs) keep their gradients. The gradient of
// an op's output is dead once the op's own backward step has passed it on:
// every op that consumed the output was recorded later and so ran earlier.
// Backward frees it there (Free, so a CPU buffer goes to the next gradient
// of its size) and sets the output's Grad back to nil.
func (tp *Tape) Backward(loss *Var) {
	if loss.Value.Numel() != 1 {
		panic(fmt.Sprintf("nn: Backward from a non-scalar %v", loss.Value))
	}
	if !loss.needGrad {
		panic("nn: Backward from a loss that depends on no parameter")
	}
	tp.B.Fill(loss.grad(), 1)
	for i := len(tp.steps) - 1; i >= 0; i-- {
		s := tp.steps[i]
		s.backward()
		s.out.Grad.Free()
		s.out.Grad = nil
		if tp.FreeActivations && s.out != loss && i != len(tp.steps)-1 && !s.out.borrowed {
			// Every op that read this output was recorded later, so its
			// backward step has run: the value is dead.
			s.out.Value.Free()
		}
		tp.steps[i] = step{}
	}
	tp.steps = tp.steps[:0]
}

// Reset drops the recorded steps without running them (after an evaluation
// pass on a recording tape, say).
func (tp *Tape) Reset() { tp.steps = tp.steps[:0] }

// newVar allocates an output value on the tape's backend. Every op writes
// its output whole, so the value is not zero-filled where the backend can
// skip that (tensor.UninitAllocator).
func (tp *Tape) newVar(dtype tensor.DType, shape ...int) *Var {
	v := &Var{Value: tensor.NewUninit(tp.B, dtype, shape...)}
	if tp.scratch {
		tp.made = append(tp.made, v)
	}
	return v
}

// TrackScratch makes a NoGrad tape remember every op output it allocates,
// so that FreeScratch can give their memory back before the pass ends.
// Inference through a deep model makes each layer's activations dead as
// soon as the next layer has read them; freed, a CPU buffer serves the
// next layer's outputs of its size instead of fresh memory the runtime
// must fault in, zero and collect again. A recording tape ignores it (its
// backward steps read the activations).
func (tp *Tape) TrackScratch() {
	if tp.off {
		tp.scratch = true
	}
}

// FreeScratch frees the value of every op output allocated since the last
// call (TrackScratch) except keep, and forgets them. The caller must hold
// no other reference to them: keep is the only value that may still be
// read, and it must be an op's own output, not a view (Reshape) of one.
// Without TrackScratch it does nothing.
func (tp *Tape) FreeScratch(keep *Var) {
	for _, v := range tp.made {
		if v != keep {
			v.Value.Free()
		}
	}
	clear(tp.made)
	tp.made = tp.made[:0]
	if keep != nil && tp.scratch {
		tp.made = append(tp.made, keep)
	}
}
