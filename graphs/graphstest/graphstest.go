// Package graphstest is a backend that records graphs on the CPU, for
// testing code that records and replays (package graphs, and the models
// that use it) without a GPU.
//
// Its graphs keep the recorded function and run it again on each launch.
// Like a CUDA graph, recording queues nothing (the function does not run
// while recorded) and a replay reads the inputs at the addresses they had
// when recorded, so a caller that forgets to refresh an input buffer, or
// reads a result from before the replay, sees stale values here too. Unlike
// a CUDA graph, a replay re-runs host code as well, so a forward pass that
// keeps host state between calls is not caught.
package graphstest

import (
	"errors"
	"sync"

	"github.com/dllmgo/dllm/tensor"
)

// Backend is a backend (the CPU, by default) that records graphs and counts
// what it does with them.
type Backend struct {
	tensor.Backend
	// Fail makes CaptureGraph fail, as a backend whose recording breaks.
	Fail bool

	mu                           sync.Mutex
	captures, launches, destroys int
}

// New is a recording backend over the CPU.
func New() *Backend { return &Backend{Backend: tensor.CPU()} }

// Counts are how many graphs were recorded (or attempted), launched and
// destroyed.
type Counts struct{ Captures, Launches, Destroys int }

// Counts reports the counters so far.
func (b *Backend) Counts() Counts {
	b.mu.Lock()
	defer b.mu.Unlock()
	return Counts{b.captures, b.launches, b.destroys}
}

// CaptureGraph implements tensor.GraphCapturer: it keeps f without running
// it.
func (b *Backend) CaptureGraph(f func()) (tensor.Graph, error) {
	b.mu.Lock()
	b.captures++
	b.mu.Unlock()
	if b.Fail {
		return nil, errors.New("graphstest: recording refused")
	}
	return &graph{b: b, run: f}, nil
}

type graph struct {
	b         *Backend
	run       func()
	destroyed bool
}

func (g *graph) Launch() {
	if g.destroyed {
		panic("graphstest: launch of a destroyed graph")
	}
	g.b.mu.Lock()
	g.b.launches++
	g.b.mu.Unlock()
	g.run()
}

func (g *graph) Destroy() {
	if g.destroyed {
		panic("graphstest: graph destroyed twice")
	}
	g.destroyed = true
	g.b.mu.Lock()
	g.b.destroys++
	g.b.mu.Unlock()
}
