package gemm

// Packing copies a block of op(A) or op(B) into the order the micro-kernel
// reads it. Both operands are packed the same way once we name their two
// dimensions q (the panel dimension: rows of op(A), columns of op(B)) and p
// (the shared k dimension): a block of nq×kb elements becomes ⌈nq/w⌉ panels,
// and panel t is kb groups of w floats, group p holding elements
// (q0+t·w+i, p0+p) for i < w. Past nq the last panel holds whatever the
// buffer held before: padding of A only meets rows of an edge tile, padding
// of B only its columns, and those are thrown away, so filling it with zeros
// would be work for nothing (measured: half the time of a 16×16 product).
//
// How the source is laid out decides the copy loop. When the stored rows run
// along k (kMajor: element (q, p) is data[p·ld+q]), each group is a contiguous
// run of the source: op(A) with transA, op(B) without transB. Otherwise
// (element (q, p) is data[q·ld+p]: op(A) without transA, op(B) with transB)
// each panel is a small transpose: w source rows are read side by side.

// packers are the two inner loops of packing, which the assembly kernels
// replace with vector code: transpose is packTransposed (one panel of rows ≤ w
// elements from a source whose rows are the panel's elements), copyGroups is
// copyGroups. When w is not a multiple of 8, the vector transpose may store
// up to 8 floats past the panel, which must be free or packed after it.
type packers struct {
	transpose  func(panel, data []float32, ld, q0, rows, p0, kb, w int)
	copyGroups func(dst, src []float32, ld, n, w int)
	// widen widens bfloat16 bits to float32 (widen in bf16.go), for
	// packing a bfloat16 B.
	widen func(dst []float32, src []uint16)
}

var goPackers = packers{transpose: packTransposed, copyGroups: copyGroups, widen: widen}

// packPanels packs the nq×kb block at (q0, p0) into dst in panels of w.
// dst must hold ⌈nq/w⌉·w·kb floats.
func packPanels(dst, data []float32, ld int, kMajor bool, q0, nq, p0, kb, w int, pk packers) {
	if kMajor {
		packContiguous(dst, data, ld, q0, nq, p0, kb, w, pk.copyGroups)
		return
	}
	for t := 0; t*w < nq; t++ {
		panel := dst[t*w*kb : (t+1)*w*kb]
		pk.transpose(panel, data, ld, q0+t*w, min(w, nq-t*w), p0, kb, w)
	}
}

// packContiguous packs from a k-major source, where panel t's group p is
// data[(p0+p)·ld+q0+t·w : +w]. It walks the source eight rows (k steps) at a
// time, which reads memory nearly in order, and deals each row slice out to
// the panels in runs of eight groups, which keeps the writes together too.
func packContiguous(dst, data []float32, ld, q0, nq, p0, kb, w int, copyGroups func(dst, src []float32, ld, n, w int)) {
	const rowsPerPass = 8
	full := nq / w // panels without padding
	rem := nq - full*w
	for pb := 0; pb < kb; pb += rowsPerPass {
		pe := min(pb+rowsPerPass, kb)
		for t := range full {
			copyGroups(dst[(t*kb+pb)*w:], data[(p0+pb)*ld+q0+t*w:], ld, pe-pb, w)
		}
		if rem > 0 {
			for p := pb; p < pe; p++ {
				copy(dst[(full*kb+p)*w:][:rem], data[(p0+p)*ld+q0+full*w:][:rem])
			}
		}
	}
}

// copyGroups copies n groups of w floats, group i from src[i·ld:] to
// dst[i·w:].
func copyGroups(dst, src []float32, ld, n, w int) {
	for i := range n {
		copy(dst[i*w:(i+1)*w], src[i*ld:i*ld+w])
	}
}

// packTransposed fills one panel from a source whose rows are the panel's w
// elements: group p is (data[q0·ld+p0+p], data[(q0+1)·ld+p0+p], ...). Four
// source rows are read side by side so the panel is written in runs of four.
func packTransposed(panel, data []float32, ld, q0, rows, p0, kb, w int) {
	i := 0
	for ; i+4 <= rows; i += 4 {
		r0 := data[(q0+i)*ld+p0:][:kb]
		r1 := data[(q0+i+1)*ld+p0:][:kb]
		r2 := data[(q0+i+2)*ld+p0:][:kb]
		r3 := data[(q0+i+3)*ld+p0:][:kb]
		for p := range r0 {
			g := panel[p*w+i : p*w+i+4 : p*w+i+4]
			g[0], g[1], g[2], g[3] = r0[p], r1[p], r2[p], r3[p]
		}
	}
	for ; i < rows; i++ {
		r := data[(q0+i)*ld+p0:][:kb]
		for p, v := range r {
			panel[p*w+i] = v
		}
	}
}
