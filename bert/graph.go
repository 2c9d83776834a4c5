package bert

import (
	"github.com/dllmgo/dllm/graphs"
	"github.com/dllmgo/dllm/nn"
	"github.com/dllmgo/dllm/tensor"
)

// Recorded forward passes for sampling, through package graphs: on a backend
// that records graphs (CUDA), Logits records its forward pass once per shape
// and replays it with one launch, and so does each block cache's cached step
// (cache.go). Requested rows are padded to a multiple of graphs.RowQuantum
// so that one graph serves every step of a block. NoGraphs turns both off.

// maxGraphs bounds the recorded graphs a model keeps for Logits; each holds
// its intermediate activations. Past it they are all released and
// recording starts over (a new prompt length, typically).
const maxGraphs = 16

// graphKey is the shape of one recorded Logits pass.
type graphKey struct {
	batch, seq, rows int
	masked           bool
	prec             nn.Precision
}

// LogitsGraphs reports how many forward passes Logits has recorded as
// graphs (0 on a backend without graphs, or with NoGraphs set).
func (m *Model) LogitsGraphs() int { return m.graphs.Graphs() }

// ReleaseGraphs destroys the recorded graphs and their memory.
func (m *Model) ReleaseGraphs() { m.graphs.Release() }

// useGraphs reports whether Logits and the cached steps record graphs.
func (m *Model) useGraphs() bool { return !m.NoGraphs && m.graphs.CanRecord() }

// graphLogits is Logits through a recorded graph. The arguments have been
// checked.
func (m *Model) graphLogits(ids []int32, batch, seqLen int, keyMask, rows []int32) ([]float32, error) {
	padded := graphs.PadRows(rows, graphs.RowQuantum)
	key := graphKey{batch: batch, seq: seqLen, rows: len(padded), masked: keyMask != nil, prec: m.Precision}
	in := []*tensor.Tensor{tensor.FromI32(ids, batch, seqLen), nil, tensor.FromI32(padded, len(padded))}
	if keyMask != nil {
		in[1] = tensor.FromI32(keyMask, batch, seqLen)
	}
	out := m.graphs.Run(key, in, func(in []*tensor.Tensor) *tensor.Tensor {
		return m.Forward(m.inferenceTape(), Input{IDs: in[0], KeyMask: in[1], Rows: in[2]}).Logits.Value
	})
	return out.F32()[:len(rows)*m.Config.VocabSize], nil
}
