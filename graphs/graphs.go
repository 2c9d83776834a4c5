package graphs

import (
	"fmt"
	"slices"
	"sync"

	"github.com/dllmgo/dllm/tensor"
)

// RowQuantum is the granularity of requested row counts that PadRows rounds
// to: one graph serves every count up to the same multiple of it.
const RowQuantum = 32

// PadRows returns rows padded to a multiple of quantum by repeating rows[0].
// rows must not be empty.
func PadRows(rows []int32, quantum int) []int32 {
	n := (len(rows) + quantum - 1) / quantum * quantum
	padded := make([]int32, n)
	copy(padded, rows)
	for i := len(rows); i < n; i++ {
		padded[i] = rows[0]
	}
	return padded
}

// A Forward is the pass a Recorder records: it reads its inputs from in (the
// Recorder's device buffers, in the order Run was given them; nil where Run
// was given nil) and returns its output, a tensor of the backend.
type Forward func(in []*tensor.Tensor) *tensor.Tensor

// Recorder keeps the recorded graphs of one forward pass (or of a family of
// them), one per key K: a comparable value that determines the shapes of
// the inputs and of the output, such as (batch, sequence length, rows, mask
// or not, precision). It is safe for concurrent use; calls are serialised.
type Recorder[K comparable] struct {
	be  tensor.Backend
	gc  tensor.GraphCapturer // nil: the backend cannot record, Run is eager
	max int

	mu      sync.Mutex
	entries map[K]*entry
}

// entry is one key's input buffers and recorded graph.
type entry struct {
	in     []*tensor.Tensor // device buffers, nil where the input is nil
	out    *tensor.Tensor   // the output of the recorded pass, written by each replay
	graph  tensor.Graph     // nil until recorded
	failed bool             // recording failed: stay eager
}

// NewRecorder makes a Recorder on backend be that keeps at most max graphs;
// past it, all are released and recording starts over (a new prompt length,
// typically). On a backend that cannot record graphs Run runs eagerly.
func NewRecorder[K comparable](be tensor.Backend, max int) *Recorder[K] {
	gc, _ := be.(tensor.GraphCapturer)
	return &Recorder[K]{be: be, gc: gc, max: max}
}

// CanRecord reports whether the backend records graphs; a nil Recorder
// does not.
func (r *Recorder[K]) CanRecord() bool { return r != nil && r.gc != nil }

// Run copies the host tensors inputs (nil allowed) into key's device
// buffers, runs forward on them (eagerly the first time, then through the
// recorded graph) and returns its output copied to the host. Inputs of one
// key must keep their shapes and dtypes, and their nil-ness.
func (r *Recorder[K]) Run(key K, inputs []*tensor.Tensor, forward Forward) *tensor.Tensor {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.gc == nil {
		in := make([]*tensor.Tensor, len(inputs))
		for i, h := range inputs {
			if h != nil {
				in[i] = r.be.FromHost(h)
			}
		}
		return r.be.ToHost(forward(in))
	}

	e := r.entries[key]
	if e == nil {
		if len(r.entries) >= r.max {
			r.releaseLocked()
		}
		if r.entries == nil {
			r.entries = map[K]*entry{}
		}
		e = &entry{in: make([]*tensor.Tensor, len(inputs))}
		for i, h := range inputs {
			if h != nil {
				e.in[i] = r.be.New(h.DType(), h.Shape()...)
			}
		}
		r.entries[key] = e
	}
	for i, h := range inputs {
		r.upload(key, e.in[i], h)
	}

	var out *tensor.Tensor
	switch {
	case e.graph != nil:
		e.graph.Launch()
		out = e.out
	case e.failed:
		out = forward(e.in)
	default:
		out = forward(e.in) // eager: warms every cache the recording needs
		g, err := r.gc.CaptureGraph(func() { e.out = forward(e.in) })
		if err != nil {
			e.failed = true // the eager result stands; this key stays eager
		} else {
			e.graph = g
		}
	}
	return r.be.ToHost(out)
}

// upload copies the host tensor h into the device buffer dst.
func (r *Recorder[K]) upload(key K, dst, h *tensor.Tensor) {
	if (dst == nil) != (h == nil) || (h != nil && (dst.DType() != h.DType() || !slices.Equal(dst.Shape(), h.Shape()))) {
		panic(fmt.Sprintf("graphs: key %v was recorded with another input (%v, now %v)", key, dst, h))
	}
	if h == nil {
		return
	}
	t := r.be.FromHost(h)
	r.be.Copy(dst, t)
	t.Free() // stream order: the copy above reads it first
}

// Graphs reports how many graphs are recorded (none by a nil Recorder).
func (r *Recorder[K]) Graphs() int {
	if r == nil {
		return 0
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, e := range r.entries {
		if e.graph != nil {
			n++
		}
	}
	return n
}

// Release destroys the recorded graphs and frees their buffers; the
// Recorder stays usable and records anew.
func (r *Recorder[K]) Release() {
	if r == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.releaseLocked()
}

func (r *Recorder[K]) releaseLocked() {
	for _, e := range r.entries {
		if e.graph != nil {
			e.graph.Destroy()
		}
		for _, t := range e.in {
			if t != nil {
				t.Free()
			}
		}
	}
	r.entries = nil
}
