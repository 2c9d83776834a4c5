package gemm

import (
	"sync"
	"unsafe"
)

// minWorkPerThread is the smallest share of a product, in multiply-adds, worth
// a goroutine of its own: about 10 µs of kernel time.
const minWorkPerThread = 1 << 18

// run computes the product with kern on up to threads goroutines.
func (g *problem) run(kern *kernel, threads int) {
	if g.m == 0 || g.n == 0 {
		return
	}
	if g.k == 0 || g.alpha == 0 {
		g.scaleC()
		return
	}
	work := g.m * g.n * g.k
	threads = max(1, min(threads, work/minWorkPerThread))
	rows, cols := split(threads, g.m, g.n, g.k, kern)
	parallel(rows*cols, func(t int) {
		i0, i1 := share(g.m, kern.mr, rows, t/cols)
		j0, j1 := share(g.n, kern.nr, cols, t%cols)
		if i0 == i1 || j0 == j1 {
			return
		}
		ws := getWorkspace(kern)
		g.block(kern, ws, i0, i1, j0, j1)
		workspaces.Put(ws)
	})
}

// scaleC sets C = beta·C (C = 0 when beta is 0, whatever C held).
func (g *problem) scaleC() {
	for i := range g.m {
		row := g.c[i*g.ldc : i*g.ldc+g.n]
		if g.beta == 0 {
			clear(row)
			continue
		}
		for j := range row {
			row[j] *= g.beta
		}
	}
}

// parallel runs f(0), ..., f(n-1) on n goroutines (f(0) on the caller's) and
// waits for all of them.
func parallel(n int, f func(t int)) {
	if n == 1 {
		f(0)
		return
	}
	var wg sync.WaitGroup
	for t := 1; t < n; t++ {
		wg.Go(func() { f(t) })
	}
	f(0)
	wg.Wait()
}

// split chooses how to cut C into rows×cols rectangles, one per goroutine,
// with rows·cols = threads. Each goroutine packs the A rows and B columns of
// its rectangle, so cutting along m repacks B and cutting along n repacks A;
// the choice minimises the slowest goroutine's cost: its tiles' multiply-adds
// plus its packing, counting a packed float as 16 multiply-adds (the kernels
// do about that many in the time a float is copied).
func split(threads, m, n, k int, kern *kernel) (rows, cols int) {
	const packCost = 16
	mPanels, nPanels := ceilDiv(m, kern.mr), ceilDiv(n, kern.nr)
	best := -1
	for r := 1; r <= threads; r++ {
		if threads%r != 0 {
			continue
		}
		c := threads / r
		if r > mPanels || c > nPanels {
			continue
		}
		mMax := ceilDiv(mPanels, r) * kern.mr
		nMax := ceilDiv(nPanels, c) * kern.nr
		cost := mMax*nMax*k + packCost*k*(mMax*ceilDiv(nMax, kern.nc)+nMax)
		if best < 0 || cost < best {
			best, rows, cols = cost, r, c
		}
	}
	if best < 0 {
		// Fewer panels than threads in both directions: a thread per panel
		// along the longer side is the most that helps.
		if mPanels >= nPanels {
			return mPanels, 1
		}
		return 1, nPanels
	}
	return rows, cols
}

// share returns part t of [0, n) cut into parts pieces on unit boundaries,
// as even as whole units allow.
func share(n, unit, parts, t int) (lo, hi int) {
	units := ceilDiv(n, unit)
	lo = min(n, t*units/parts*unit)
	hi = min(n, (t+1)*units/parts*unit)
	return lo, hi
}

func ceilDiv(a, b int) int { return (a + b - 1) / b }

// block computes rows [i0, i1) and columns [j0, j1) of C with the loops of
// doc.go.
func (g *problem) block(kern *kernel, ws *workspace, i0, i1, j0, j1 int) {
	mr, nr := kern.mr, kern.nr
	for jc := j0; jc < j1; jc += kern.nc {
		nb := min(kern.nc, j1-jc)
		for pc := 0; pc < g.k; pc += kern.kc {
			kb := min(kern.kc, g.k-pc)
			packPanels(ws.b, g.b.data, g.b.ld, !g.b.trans, jc, nb, pc, kb, nr, kern.pack)
			// The first k block applies the caller's beta; later ones add.
			beta := g.beta
			if pc > 0 {
				beta = 1
			}
			for ic := i0; ic < i1; ic += kern.mc {
				mb := min(kern.mc, i1-ic)
				packPanels(ws.a, g.a.data, g.a.ld, g.a.trans, ic, mb, pc, kb, mr, kern.pack)
				for jr := 0; jr < nb; jr += nr {
					bp := ws.b[jr*kb:]
					for ir := 0; ir < mb; ir += mr {
						ap := ws.a[ir*kb:]
						c := g.c[(ic+ir)*g.ldc+jc+jr:]
						rows, cols := min(mr, mb-ir), min(nr, nb-jr)
						if rows == mr && cols == nr {
							kern.tile(kb, ap, bp, c, g.ldc, g.alpha, beta)
							continue
						}
						g.edgeTile(kern, ws.tile, kb, ap, bp, c, rows, cols, beta)
					}
				}
			}
		}
	}
}

// edgeTile computes a tile that sticks out of C: the kernel runs on a full
// scratch tile holding the valid part of C, and only that part is copied
// back. The arithmetic is the kernel's, so edge and inner tiles round alike.
func (g *problem) edgeTile(kern *kernel, tile []float32, kb int, ap, bp, c []float32, rows, cols int, beta float32) {
	nr := kern.nr
	if beta != 0 {
		for i := range rows {
			copy(tile[i*nr:i*nr+cols], c[i*g.ldc:i*g.ldc+cols])
		}
	}
	kern.tile(kb, ap, bp, tile, nr, g.alpha, beta)
	for i := range rows {
		copy(c[i*g.ldc:i*g.ldc+cols], tile[i*nr:i*nr+cols])
	}
}

// workspace holds one goroutine's packed blocks and scratch tile.
type workspace struct {
	a, b, tile []float32
}

// workspaces recycles workspaces between calls: the packed B block alone is
// a few MiB, too much to allocate per product.
var workspaces sync.Pool

// getWorkspace returns a workspace big enough for kern's blocks.
func getWorkspace(kern *kernel) *workspace {
	na := ceilDiv(kern.mc, kern.mr) * kern.mr * kern.kc
	nb := ceilDiv(kern.nc, kern.nr) * kern.nr * kern.kc
	nt := kern.mr * kern.nr
	ws, _ := workspaces.Get().(*workspace)
	if ws == nil {
		ws = &workspace{}
	}
	// packTransposedAVX2 may store a few floats past a block's last panel.
	const slack = 16
	if len(ws.a) < na+slack {
		ws.a = alignedFloats(na + slack)
	}
	if len(ws.b) < nb+slack {
		ws.b = alignedFloats(nb + slack)
	}
	if len(ws.tile) < nt {
		ws.tile = alignedFloats(nt)
	}
	return ws
}

// alignedFloats returns n floats starting on a 64-byte boundary, so that the
// kernels' vector loads of packed panels never straddle cache lines.
func alignedFloats(n int) []float32 {
	const align = 64 / 4 // in floats
	buf := make([]float32, n+align)
	off := int(uintptr(unsafe.Pointer(&buf[0])) % 64 / 4)
	start := (align - off) % align
	return buf[start : start+n : start+n]
}
