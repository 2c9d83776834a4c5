package gemm

import (
	"fmt"
	"runtime"
	"sync/atomic"
)

// PackedB is op(B) packed once, in the panels the micro-kernel reads, to be
// multiplied by many A's: the weights of a model at inference. Sgemm packs B
// on every call, which for a short A (a sampling step multiplies ~16 rows by
// a 768×50368 decoder) costs more than the multiply itself; SgemmPacked skips
// that copy.
//
// The layout is that of Sgemm's own packed B with the whole of n as one
// column block: for each k block of kc rows in turn, ⌈n/NR⌉ panels of kb×NR
// floats. The kernel, the k blocks and the order of every sum are Sgemm's, so
// SgemmPacked's C equals Sgemm's bit for bit.
//
// It holds ⌈n/NR⌉·NR·k floats (NR = 32 with AVX-512, 16 with AVX2, 4 in Go):
// one more copy of B, padded to whole panels. B itself may change afterwards
// without affecting it; a PackedB of stale values must be packed again.
type PackedB struct {
	kern   *kernel
	n, k   int
	panels int
	data   []float32
}

// N and K are the shape of op(B): k×n.
func (p *PackedB) N() int { return p.n }

// K is the shared dimension of the product.
func (p *PackedB) K() int { return p.k }

// Bytes is the size of the packed copy: ⌈n/NR⌉·NR·k floats.
func (p *PackedB) Bytes() int { return 4 * p.panels * p.kern.nr * p.k }

// hugePacked is the size from which a packed B lives in huge pages
// (mapHuge) rather than on the heap. A sampling step streams the packed
// decoder (50368 × hidden floats: 52 MB in the small preset, 155 MB in
// ModernBERT-base) from memory to multiply a few rows; in 4 KiB pages every
// page of it is a TLB miss and a restart of the hardware prefetcher's
// stream. In 2 MiB pages the small decoder's products over the 1-32 rows of
// a sampling block take 6% less CPU time (4 rows 13%, 16 rows 1.5%). Off the
// heap, the copy does not count as live heap either, so the collector's
// garbage allowance does not grow with it.
const hugePacked = 4 << 20

// hugePage is the size of a transparent huge page on the systems that have
// them (x86-64, most arm64 kernels).
const hugePage = 2 << 20

// packedFloats returns n zero floats for p's packed panels: in a huge-page
// mapping, unmapped once p is unreachable, when n is large and the system
// allows; else 64-byte aligned on the heap.
func packedFloats(p *PackedB, n int) []float32 {
	if n*4 >= hugePacked {
		if data, mem := mapHuge(n); data != nil {
			runtime.AddCleanup(p, unmapHuge, mem)
			return data
		}
	}
	return alignedFloats(n)
}

// PackB packs op(B) (k×n; B is stored n×k with ldb when transB) for the
// kernel Sgemm uses, on Threads() goroutines.
func PackB(transB bool, n, k int, b []float32, ldb int) *PackedB {
	return Config{}.PackB(transB, n, k, b, ldb)
}

// PackB is PackB with this configuration's kernel and threads.
func (cfg Config) PackB(transB bool, n, k int, b []float32, ldb int) *PackedB {
	const op = "PackB"
	g := newProblem(op, false, transB, 0, n, k, 1, nil, max(1, k), b, ldb, 0, nil, max(1, n))
	if r, cols := g.storedB(); n > 0 && k > 0 && len(b) < (r-1)*ldb+cols {
		g.fail(op, fmt.Sprintf("len(b)=%d < %d", len(b), (r-1)*ldb+cols))
	}
	return packB(lookup(cfg.Kernel), cfg.threads(), transB, n, k, b, ldb)
}

// packB packs op(B) for kern on up to threads goroutines.
func packB(kern *kernel, threads int, transB bool, n, k int, b []float32, ldb int) *PackedB {
	nr := kern.nr
	p := &PackedB{kern: kern, n: n, k: k, panels: ceilDiv(n, nr)}
	const slack = 16 // see getJob
	p.data = packedFloats(p, p.panels*nr*k+slack)
	if n == 0 || k == 0 {
		return p
	}
	// Units of (k block, chunk of panels), as packB shares them.
	kBlocks := ceilDiv(k, kern.kc)
	threads = max(1, min(threads, n*k/(1<<16)))
	chunks := min(p.panels, 4*threads)
	var next atomic.Int64
	parallel(threads, func(int) {
		for {
			u := int(next.Add(1) - 1)
			if u >= kBlocks*chunks {
				return
			}
			pb, chunk := u/chunks, u%chunks
			pc, kb := pb*kern.kc, min(kern.kc, k-pb*kern.kc)
			t0, t1 := share(p.panels, 1, chunks, chunk)
			q0, q1 := t0*nr, min(n, t1*nr)
			dst := p.data[pc*p.panels*nr+t0*kb*nr:]
			packPanels(dst, b, ldb, !transB, q0, q1-q0, pc, kb, nr, kern.pack)
		}
	})
	return p
}

// SgemmPacked computes C = alpha·op(A)·B̃ + beta·C, where B̃ is the k×n
// matrix packed in pb, on Threads() goroutines. It equals Sgemm on the B
// that was packed, bit for bit.
func SgemmPacked(transA bool, m int, alpha float32, a []float32, lda int, pb *PackedB, beta float32, c []float32, ldc int) {
	Config{}.SgemmPacked(transA, m, alpha, a, lda, pb, beta, c, ldc)
}

// SgemmPacked is SgemmPacked with this configuration's threads; the kernel
// is the one pb was packed for.
func (cfg Config) SgemmPacked(transA bool, m int, alpha float32, a []float32, lda int, pb *PackedB, beta float32, c []float32, ldc int) {
	const op = "SgemmPacked"
	n, k := pb.n, pb.k
	// B's storage is pb's; give the checks a B that passes them.
	g := newProblem(op, transA, false, m, n, k, alpha, a, lda, nil, max(1, n), beta, c, ldc)
	if need := func() int {
		r, cols := g.storedA()
		if r == 0 || cols == 0 {
			return 0
		}
		return (r-1)*lda + cols
	}(); m > 0 && n > 0 && k > 0 && alpha != 0 && len(a) < need {
		g.fail(op, fmt.Sprintf("len(a)=%d < %d", len(a), need))
	}
	if m > 0 && n > 0 && len(c) < (m-1)*ldc+n {
		g.fail(op, fmt.Sprintf("len(c)=%d < %d", len(c), (m-1)*ldc+n))
	}
	g.runPacked(pb, cfg.threads())
}

// runPacked is run with B already packed: the same tasks, reading panels of
// pb instead of a freshly packed block. With nothing to pack there is no
// barrier between column blocks either, so the goroutines start once and take
// (column block, band, columns) units from one counter over the whole of n.
func (g *problem) runPacked(pb *PackedB, threads int) {
	if g.m == 0 || g.n == 0 {
		return
	}
	if g.k == 0 || g.alpha == 0 {
		g.scaleC()
		return
	}
	kern := pb.kern
	mr, nr := kern.mr, kern.nr
	threads = max(1, min(threads, g.m*g.n*g.k/minWorkPerThread))
	nc := max(nr, min(kern.nc, maxPackedB/g.k/nr*nr))
	rows, cols := splitPacked(threads, g.m, min(g.n, nc), g.k, kern)
	bands := min(ceilDiv(g.m, mr), rows*ceilDiv(ceilDiv(g.m, rows), kern.mc))
	perBlock := bands * cols
	units := ceilDiv(g.n, nc) * perBlock
	var next atomic.Int64
	defer runtime.KeepAlive(pb) // its panels may lie in a mapping that pb's cleanup unmaps
	parallel(threads, func(int) {
		ws := getWorkspace(kern, g.m, g.k)
		defer workspaces.Put(ws)
		for {
			u := int(next.Add(1) - 1)
			if u >= units {
				return
			}
			jc, v := u/perBlock*nc, u%perBlock
			panels := ceilDiv(min(nc, g.n-jc), nr)
			tp := jc / nr // the block's first panel in pb
			i0, i1 := share(g.m, mr, bands, v/cols)
			t0, t1 := share(panels, 1, cols, v%cols)
			if i0 < i1 && t0 < t1 {
				g.task(kern, ws, pb.data, pb.panels, i0, i1, 0, tp+t0, tp+t1, g.n)
			}
		}
	})
}

// splitPacked is split for a B packed already, which costs nothing to read
// again but is read from memory by every band of rows that multiplies it: a
// short product (sampling's 16 rows by a vocabulary-wide decoder) is better
// cut along n, every goroutine taking all the rows, than into a band of 14
// rows and one of 2 that both stream the whole of B. So the cost counts the
// rows a rectangle really has, a last tile of few rows as half a tile (its
// kernel is bound by the loads of B, not by its multiply-adds).
func splitPacked(threads, m, n, k int, kern *kernel) (rows, cols int) {
	const packCost = 16 // as in split
	mPanels, nPanels := ceilDiv(m, kern.mr), ceilDiv(n, kern.nr)
	best := -1
	for r := threads; r >= 1; r-- { // fewer bands only when 2% cheaper: split's choice on a tie
		if threads%r != 0 {
			continue
		}
		c := threads / r
		if r > mPanels || c > nPanels {
			continue
		}
		mMax := min(m, ceilDiv(mPanels, r)*kern.mr) // the first rectangle's rows
		tiles := mMax / kern.mr * kern.mr
		if rest := mMax - tiles; rest > 0 {
			tiles += max(rest, kern.mr/2)
		}
		nMax := ceilDiv(nPanels, c) * kern.nr
		cost := tiles*nMax*k + packCost*k*mMax
		if best < 0 || cost < best-best/50 {
			best, rows, cols = cost, r, c
		}
	}
	if best < 0 {
		return split(threads, m, n, k, kern)
	}
	return rows, cols
}
