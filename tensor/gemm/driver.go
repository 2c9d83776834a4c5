package gemm

import (
	"sync"
	"sync/atomic"
	"unsafe"
)

// minWorkPerThread is the smallest share of a product, in multiply-adds, worth
// a goroutine of its own: about 10 µs of kernel time. (A variable so that
// tests can run small products on many goroutines.)
var minWorkPerThread = 1 << 18

// maxPackedB caps the floats of B packed at once (k rows × a column block):
// 32 MiB. Wider products are done a column block at a time.
const maxPackedB = 8 << 20

// run computes the product with kern on up to threads goroutines.
//
// The columns of C are done in blocks of nc (fewer when k is large, to cap
// the packed B). For each block, the goroutines first pack all of its B
// together, then take tasks from a shared counter: a task is a band of rows
// and a range of the block's columns, run over all of k with its own packed
// A blocks. Taking tasks rather than being handed a fixed share keeps both
// cores busy when one of them is also running something else.
func (g *problem) run(kern *kernel, threads int) {
	if g.m == 0 || g.n == 0 {
		return
	}
	if g.k == 0 || g.alpha == 0 {
		g.scaleC()
		return
	}
	mr, nr := kern.mr, kern.nr
	work := g.m * g.n * g.k
	threads = max(1, min(threads, work/minWorkPerThread))
	nc := max(nr, min(kern.nc, maxPackedB/g.k/nr*nr))
	rows, cols := split(threads, g.m, min(g.n, nc), g.k, kern)
	// Each goroutine's rows are cut in bands of about mc, so that there are a
	// few tasks per goroutine to share out.
	bands := min(ceilDiv(g.m, mr), rows*ceilDiv(ceilDiv(g.m, rows), kern.mc))

	job := getJob(g.k * ceilDiv(min(nc, g.n), nr) * nr)
	defer jobs.Put(job)
	job.g, job.kern = *g, kern // a copy: a pointer would move g to the heap
	job.bands, job.cols = bands, cols
	job.kBlocks = ceilDiv(g.k, kern.kc)
	for jc := 0; jc < g.n; jc += nc {
		job.jc, job.nb = jc, min(nc, g.n-jc)
		job.panels = ceilDiv(job.nb, nr)
		job.chunks = min(job.panels, 4*threads)
		job.nextPack.Store(0)
		job.nextTask.Store(0)
		if threads == 1 {
			job.packB()
			job.multiply()
			continue
		}
		parallel(threads, func(int) { job.packB() })
		parallel(threads, func(int) { job.multiply() })
	}
	job.g, job.kern = problem{}, nil // let the pool hold no caller's slices
}

// job is the work on one column block of C, which goroutines share by taking
// units from its counters. Jobs are recycled, with their packed B buffer
// (megabytes, too much to allocate per product), through the jobs pool.
type job struct {
	g    problem
	kern *kernel
	// packed holds B[:, jc:jc+nb] in panels: for each k block in turn, its
	// panels panels.
	packed         []float32
	jc, nb, panels int
	// Packing units are (k block, chunk of panels) pairs, kBlocks·chunks.
	kBlocks, chunks int
	// Tasks are (row band, column range) pairs, bands·cols.
	bands, cols        int
	nextPack, nextTask atomic.Int64
}

var jobs sync.Pool

// getJob returns a job whose packed buffer holds n floats plus the slack
// that packTransposedAVX2 may store past a block's last panel.
func getJob(n int) *job {
	const slack = 16
	j, _ := jobs.Get().(*job)
	if j == nil {
		j = new(job)
	}
	if len(j.packed) < n+slack {
		j.packed = alignedFloats(n + slack)
	}
	return j
}

// packB packs units of B until none are left. (The assembly kernels' panels
// are a multiple of 8 wide, so packTransposedAVX2 never stores past a panel
// here, into a chunk another goroutine packs.)
func (j *job) packB() {
	g, kern, nr := &j.g, j.kern, j.kern.nr
	for {
		u := int(j.nextPack.Add(1) - 1)
		if u >= j.kBlocks*j.chunks {
			return
		}
		pb, chunk := u/j.chunks, u%j.chunks
		pc, kb := pb*kern.kc, min(kern.kc, g.k-pb*kern.kc)
		t0, t1 := share(j.panels, 1, j.chunks, chunk)
		q0, q1 := t0*nr, min(j.nb, t1*nr)
		dst := j.packed[pc*j.panels*nr+t0*kb*nr:]
		if g.b.bf16 {
			packPanelsBF16(dst, g.b.bits, g.b.ld, !g.b.trans, j.jc+q0, q1-q0, pc, kb, nr, kern.pack)
			continue
		}
		packPanels(dst, g.b.data, g.b.ld, !g.b.trans, j.jc+q0, q1-q0, pc, kb, nr, kern.pack)
	}
}

// multiply runs tasks until none are left.
func (j *job) multiply() {
	g, kern := &j.g, j.kern
	ws := getWorkspace(kern, g.m, g.k)
	defer workspaces.Put(ws)
	for {
		u := int(j.nextTask.Add(1) - 1)
		if u >= j.bands*j.cols {
			return
		}
		i0, i1 := share(g.m, kern.mr, j.bands, u/j.cols)
		t0, t1 := share(j.panels, 1, j.cols, u%j.cols)
		if i0 < i1 && t0 < t1 {
			g.task(kern, ws, j.packed, j.panels, i0, i1, j.jc, t0, t1, j.nb)
		}
	}
}

// task computes rows [i0, i1) of C and panels [t0, t1) of the column block
// that starts at jc and is nb wide, whose B is packed in packed (panels
// panels per k block).
func (g *problem) task(kern *kernel, ws *workspace, packed []float32, panels, i0, i1, jc, t0, t1, nb int) {
	mr, nr := kern.mr, kern.nr
	for pc := 0; pc < g.k; pc += kern.kc {
		kb := min(kern.kc, g.k-pc)
		blockB := packed[pc*panels*nr:]
		// The first k block applies the caller's beta; later ones add.
		beta := g.beta
		if pc > 0 {
			beta = 1
		}
		for ic := i0; ic < i1; ic += kern.mc {
			mb := min(kern.mc, i1-ic)
			packPanels(ws.a, g.a.data, g.a.ld, g.a.trans, ic, mb, pc, kb, mr, kern.pack)
			for t := t0; t < t1; t++ {
				jr := t * nr
				bp := blockB[t*kb*nr:]
				cols := min(nr, nb-jr)
				for ir := 0; ir < mb; ir += mr {
					ap := ws.a[ir*kb:]
					c := g.c[(ic+ir)*g.ldc+jc+jr:]
					if rows := min(mr, mb-ir); rows < mr || cols < nr {
						g.edgeTile(kern, ws.tile, kb, ap, bp, c, rows, cols, beta)
						continue
					}
					kern.tile(kb, ap, bp, c, g.ldc, g.alpha, beta)
				}
			}
		}
	}
}

// edgeTile computes a tile that sticks out of C. Short of rows, a kernel
// of that many rows runs when the kernel has one (kern.edges); short of
// columns, the kernel runs on a scratch tile holding the valid part of C,
// and only that part is copied back. The arithmetic of each element is the
// full kernel's either way, so edge and inner tiles round alike.
func (g *problem) edgeTile(kern *kernel, tile []float32, kb int, ap, bp, c []float32, rows, cols int, beta float32) {
	nr := kern.nr
	run := kern.tile
	if rows < kern.mr && kern.edges != nil {
		run = kern.edges[rows]
		if cols == nr {
			run(kb, ap, bp, c, g.ldc, g.alpha, beta)
			return
		}
	}
	if beta != 0 {
		for i := range rows {
			copy(tile[i*nr:i*nr+cols], c[i*g.ldc:i*g.ldc+cols])
		}
	}
	run(kb, ap, bp, tile, nr, g.alpha, beta)
	for i := range rows {
		copy(c[i*g.ldc:i*g.ldc+cols], tile[i*nr:i*nr+cols])
	}
}

// scaleC sets C = beta·C (C = 0 when beta is 0, whatever C held).
func (g *problem) scaleC() {
	if g.beta == 1 {
		return
	}
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

// split chooses how to share C between goroutines: as rows×cols rectangles,
// rows·cols = threads. Every rectangle packs the A rows it multiplies, so
// cutting along n packs A more than once; B is packed once whatever the cut.
// The choice minimises the largest rectangle's cost: its tiles' multiply-adds
// plus its packing of A, counting a packed float as 16 multiply-adds (the
// kernels do about that many in the time a float is copied).
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
		cost := mMax*nMax*k + packCost*k*mMax
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

// workspace holds one goroutine's packed A block and scratch tile.
type workspace struct {
	a, tile []float32
}

// workspaces recycles workspaces between calls.
var workspaces sync.Pool

// getWorkspace returns a workspace big enough for kern's blocks of A in an
// m×k product. (Buffers are sized to the product, not to the largest block,
// so that small products stay cheap when a garbage collection has emptied
// the pool.)
func getWorkspace(kern *kernel, m, k int) *workspace {
	const slack = 16 // see getJob
	na := ceilDiv(min(kern.mc, m), kern.mr)*kern.mr*min(kern.kc, k) + slack
	nt := kern.mr * kern.nr
	ws, _ := workspaces.Get().(*workspace)
	if ws == nil {
		ws = &workspace{}
	}
	if len(ws.a) < na {
		ws.a = alignedFloats(na)
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
