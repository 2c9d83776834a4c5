package dist

import (
	"fmt"
	"os"
	"sync"

	"github.com/dllmgo/dllm/tensor"
)

// NewLocal returns the n Comms of a group of ranks inside one process (one
// goroutine per rank), with CPU tensors: the same collectives as MPI,
// summed in rank order, for tests and for trying data parallelism without
// a launcher. Each Comm must be used by its own goroutine.
func NewLocal(n int) []Comm {
	g := &localGroup{n: n, bufs: make([][]float32, n), bytes: make([][]byte, n)}
	g.cond = sync.NewCond(&g.mu)
	cs := make([]Comm, n)
	for r := range n {
		cs[r] = &local{g: g, rank: r}
	}
	return cs
}

type localGroup struct {
	n       int
	mu      sync.Mutex
	cond    *sync.Cond
	arrived int
	gen     int
	bufs    [][]float32
	bytes   [][]byte
}

// barrier returns when all n ranks have called it.
func (g *localGroup) barrier() {
	g.mu.Lock()
	defer g.mu.Unlock()
	gen := g.gen
	g.arrived++
	if g.arrived == g.n {
		g.arrived = 0
		g.gen++
		g.cond.Broadcast()
		return
	}
	for gen == g.gen {
		g.cond.Wait()
	}
}

type local struct {
	g    *localGroup
	rank int
}

func (c *local) Name() string   { return "local" }
func (c *local) Rank() int      { return c.rank }
func (c *local) Size() int      { return c.g.n }
func (c *local) String() string { return fmt.Sprintf("%d ranks in one process", c.g.n) }

func (c *local) AllReduceSum(t *tensor.Tensor) error {
	s, err := hostF32("all-reduce", t)
	if err != nil {
		return err
	}
	c.g.bufs[c.rank] = s
	c.g.barrier()
	sum := make([]float32, len(s))
	for r := range c.g.n { // every rank adds in rank order: equal results
		o := c.g.bufs[r]
		if len(o) != len(s) {
			return fmt.Errorf("dist: local all-reduce of %d floats on rank %d, %d on rank %d", len(s), c.rank, len(o), r)
		}
		for i, v := range o {
			sum[i] += v
		}
	}
	c.g.barrier() // everyone has read everyone's buffer
	copy(s, sum)
	return nil
}

func (c *local) Broadcast(t *tensor.Tensor, root int) error {
	s, err := hostF32("broadcast", t)
	if err != nil {
		return err
	}
	c.g.bufs[c.rank] = s
	c.g.barrier()
	var cp []float32
	if c.rank != root {
		cp = append([]float32(nil), c.g.bufs[root]...)
	}
	c.g.barrier()
	if cp != nil {
		copy(s, cp)
	}
	return nil
}

func (c *local) BroadcastBytes(b []byte, root int) error {
	c.g.bytes[c.rank] = b
	c.g.barrier()
	var cp []byte
	if c.rank != root {
		cp = append([]byte(nil), c.g.bytes[root]...)
	}
	c.g.barrier()
	if cp != nil {
		copy(b, cp)
	}
	return nil
}

func (c *local) Barrier() error { c.g.barrier(); return nil }
func (c *local) Abort(code int) { os.Exit(code) }
func (c *local) Close() error   { return nil }
