package kernels

import (
	"fmt"

	"github.com/dllmgo/dllm/kernels/cu"
)

// Graph is a recorded sequence of this backend's ops that replays with one
// launch: the many small kernels of a sampler's denoising step cost one
// launch's overhead instead of hundreds.
//
// A graph replays the recorded kernels on the same device addresses, so every
// tensor the recorded ops touched must stay alive (not Freed) while the graph
// is used; update inputs in place (Copy into them) between replays. Ops that
// wait for the device cannot be recorded: ToHost, FromHost, SumSquares, Sync.
type Graph struct {
	b    *Backend
	g    cu.Graph
	exec cu.GraphExec
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
	defer func() {
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

// Destroy releases the graph.
func (g *Graph) Destroy() {
	if g == nil {
		return
	}
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
