package kernels

import (
	"fmt"

	"github.com/dllmgo/dllm/kernels/cu"
	"github.com/dllmgo/dllm/tensor"
)

// Graph is a recorded sequence of this backend's ops that replays with one
// launch: the many small kernels of a sampler's denoising step cost one
// launch's overhead instead of hundreds.
//
// A graph replays the recorded kernels on the same device addresses. Tensors
// allocated while recording belong to the graph: Free and the garbage
// collector leave their memory alone until Destroy, so the intermediates of a
// recorded forward pass can be dropped safely. So does memory freed while
// recording, which the recorded ops may have used before the Free. Tensors from before the
// recording (weights, inputs) must stay alive while the graph is used; update
// inputs in place (Copy into them) between replays. Ops that wait for the
// device cannot be recorded: ToHost, FromHost, SumSquares, Sync.
type Graph struct {
	b    *Backend
	g    cu.Graph
	exec cu.GraphExec
	pins []*devMem // the memory allocated during the recording
}

// CaptureGraph is Capture behind the backend-neutral tensor.GraphCapturer
// interface, which package bert uses to record its sampling forward pass.
func (b *Backend) CaptureGraph(f func()) (tensor.Graph, error) {
	g, err := b.Capture(f)
	if err != nil {
		return nil, err
	}
	return g, nil
}

// pinIfCapturing gives memory to the graph being recorded, if one is: memory
// allocated during the recording, and memory freed during it (the recorded
// ops may use it before the Free, and every replay will). It reports whether
// a recording was under way.
func (b *Backend) pinIfCapturing(m *devMem) bool {
	b.captureMu.Lock()
	defer b.captureMu.Unlock()
	if b.capturing == nil {
		return false
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.pinned && !m.done {
		m.pinned = true
		b.capturing.pins = append(b.capturing.pins, m)
	}
	return true
}

// Capture runs f with the stream in capture mode, so the ops f queues are
// recorded instead of run, and returns them as an executable graph.
// Allocations inside f are allowed (relaxed capture mode).
func (b *Backend) Capture(f func()) (g *Graph, err error) {
	if err := b.Sync(); err != nil {
		return nil, err
	}
	if err := b.ctx.Do(func(th *cu.Thread) error { return th.BeginCapture(cu.CaptureModeRelaxed) }); err != nil {
		return nil, err
	}
	g = &Graph{b: b}
	b.captureMu.Lock()
	b.capturing = g
	b.captureMu.Unlock()
	defer func() {
		b.captureMu.Lock()
		b.capturing = nil
		b.captureMu.Unlock()
		// Always leave capture mode, even when f panics, or the stream
		// refuses all later work.
		endErr := b.ctx.Do(func(th *cu.Thread) error {
			var err error
			if g.g, err = th.EndCapture(); err != nil {
				return err
			}
			g.exec, err = th.GraphInstantiate(g.g)
			return err
		})
		if err == nil && endErr != nil {
			err = fmt.Errorf("kernels: capturing a graph: %w", endErr)
		}
		if err == nil {
			err = b.Err()
		}
		if err != nil {
			g.Destroy()
			g = nil
		}
	}()
	f()
	return g, nil
}

// Launch queues one replay of the graph.
func (g *Graph) Launch() {
	g.b.do(func(th *cu.Thread) error { return th.GraphLaunch(g.exec) })
}

// Destroy releases the graph and the memory allocated while recording it.
func (g *Graph) Destroy() {
	if g == nil {
		return
	}
	for _, m := range g.pins {
		m.unpin(g.b.alloc) // stream order: later users of a block run after the last replay
	}
	g.pins = nil
	g.b.ctx.Do(func(th *cu.Thread) error {
		if g.exec != 0 {
			th.GraphExecDestroy(g.exec)
		}
		if g.g != 0 {
			th.GraphDestroy(g.g)
		}
		return nil
	})
	g.exec, g.g = 0, 0
}
