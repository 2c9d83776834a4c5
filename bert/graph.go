package bert

import (
	"sync"

	"github.com/dllmgo/dllm/nn"
	"github.com/dllmgo/dllm/tensor"
)

// Recorded forward passes for sampling.
//
// A sampler asks for logits once per denoising step, with the same shapes
// step after step. On a GPU one forward pass is hundreds of small kernel
// launches that each cost more than their work. When the backend can record
// its ops as a graph (tensor.GraphCapturer: CUDA graphs), Logits records the
// forward pass once per shape and replays it with one launch: the inputs live
// in device buffers that each call overwrites, and the number of requested
// rows is rounded up to a multiple of graphRowQuantum (the padding repeats the
// first row and its logits are dropped), so that one graph serves every step
// of a block.
//
// The first call for a shape runs eagerly: it compiles the kernels and fills
// the caches (position ids, RoPE tables, GEMM plans) that would otherwise copy
// from the host inside the recording, which a graph cannot do. The recording
// follows it, and later calls replay.

// graphRowQuantum is the row-count granularity of recorded graphs.
const graphRowQuantum = 32

// maxGraphs bounds the recorded graphs a model keeps; each holds its
// intermediate activations. Past it they are all released and recording
// starts over (a new prompt length, typically).
const maxGraphs = 16

type graphKey struct {
	batch, seq, rows int
	masked           bool
	prec             nn.Precision
}

// logitsGraph is one recorded forward pass with its input and output buffers.
type logitsGraph struct {
	ids, mask, rows *tensor.Tensor
	logits          *tensor.Tensor // [rows, V], written by each replay
	graph           tensor.Graph   // nil until recorded
	failed          bool           // recording failed: stay eager
}

// graphs is the model's cache of recorded forward passes.
type graphs struct {
	mu sync.Mutex
	m  map[graphKey]*logitsGraph
}

// LogitsGraphs reports how many forward passes Logits has recorded as
// graphs (0 on a backend without graphs, or with NoGraphs set).
func (m *Model) LogitsGraphs() int {
	m.graphs.mu.Lock()
	defer m.graphs.mu.Unlock()
	n := 0
	for _, e := range m.graphs.m {
		if e.graph != nil {
			n++
		}
	}
	return n
}

// ReleaseGraphs destroys the recorded graphs and their memory.
func (m *Model) ReleaseGraphs() {
	m.graphs.mu.Lock()
	defer m.graphs.mu.Unlock()
	m.releaseGraphsLocked()
}

func (m *Model) releaseGraphsLocked() {
	for _, e := range m.graphs.m {
		if e.graph != nil {
			e.graph.Destroy()
		}
		for _, t := range []*tensor.Tensor{e.ids, e.mask, e.rows} {
			if t != nil {
				t.Free()
			}
		}
	}
	m.graphs.m = nil
}

// graphLogits is Logits through a recorded graph on backend gc (m.b). The
// arguments have been checked.
func (m *Model) graphLogits(gc tensor.GraphCapturer, ids []int32, batch, seqLen int, keyMask, rows []int32) ([]float32, error) {
	m.graphs.mu.Lock()
	defer m.graphs.mu.Unlock()
	n := (len(rows) + graphRowQuantum - 1) / graphRowQuantum * graphRowQuantum
	key := graphKey{batch: batch, seq: seqLen, rows: n, masked: keyMask != nil, prec: m.Precision}
	e := m.graphs.m[key]
	if e == nil {
		if len(m.graphs.m) >= maxGraphs {
			m.releaseGraphsLocked()
		}
		if m.graphs.m == nil {
			m.graphs.m = map[graphKey]*logitsGraph{}
		}
		e = &logitsGraph{ids: m.b.New(tensor.I32, batch, seqLen), rows: m.b.New(tensor.I32, n)}
		if keyMask != nil {
			e.mask = m.b.New(tensor.I32, batch, seqLen)
		}
		m.graphs.m[key] = e
	}

	padded := make([]int32, n)
	copy(padded, rows)
	for i := len(rows); i < n; i++ {
		padded[i] = rows[0]
	}
	m.upload(e.ids, tensor.FromI32(ids, batch, seqLen))
	m.upload(e.rows, tensor.FromI32(padded, n))
	if keyMask != nil {
		m.upload(e.mask, tensor.FromI32(keyMask, batch, seqLen))
	}

	forward := func() *tensor.Tensor {
		tp := nn.NoGrad(m.b)
		tp.Precision = m.Precision
		return m.Forward(tp, Input{IDs: e.ids, KeyMask: e.mask, Rows: e.rows}).Logits.Value
	}
	var logits *tensor.Tensor
	switch {
	case e.graph != nil:
		e.graph.Launch()
		logits = e.logits
	case e.failed:
		logits = forward()
	default:
		logits = forward() // eager: warms every cache the recording needs
		g, err := gc.CaptureGraph(func() { e.logits = forward() })
		if err != nil {
			e.failed = true // the eager result stands; this shape stays eager
		} else {
			e.graph = g
		}
	}
	out := m.b.ToHost(logits).F32()
	return out[:len(rows)*m.Config.VocabSize], nil
}

// upload copies a host tensor into the device tensor dst.
func (m *Model) upload(dst, host *tensor.Tensor) {
	t := m.b.FromHost(host)
	m.b.Copy(dst, t)
	t.Free() // stream order: the copy above reads it first
}
