package gemm

// Packing copies a block of op(A) or op(B) into the order the micro-kernel
// reads it. Both operands are packed the same way once we name their two
// dimensions q (the panel dimension: rows of op(A), columns of op(B)) and p
// (the shared k dimension): a block of nq×kb elements becomes ⌈nq/w⌉ panels,
// and panel t is kb groups of w floats, group p holding elements
// (q0+t·w+i, p0+p) for i < w, zero-padded past nq.
//
// How the source is laid out decides the copy loop. When the stored rows run
// along k (kMajor: element (q, p) is data[p·ld+q]), each group is a contiguous
// run of the source: op(A) with transA, op(B) without transB. Otherwise
// (element (q, p) is data[q·ld+p]: op(A) without transA, op(B) with transB)
// each panel is a small transpose: w source rows are read side by side.

// packPanels packs the nq×kb block at (q0, p0) into dst in panels of w.
// dst must hold ⌈nq/w⌉·w·kb floats.
func packPanels(dst, data []float32, ld int, kMajor bool, q0, nq, p0, kb, w int) {
	for t := 0; t*w < nq; t++ {
		panel := dst[t*w*kb : (t+1)*w*kb]
		rows := min(w, nq-t*w)
		if kMajor {
			packContiguous(panel, data, ld, q0+t*w, rows, p0, kb, w)
		} else {
			packTransposed(panel, data, ld, q0+t*w, rows, p0, kb, w)
		}
	}
}

// packContiguous fills one panel from a k-major source: group p is
// data[(p0+p)·ld+q0 : +rows], then w-rows zeros.
func packContiguous(panel, data []float32, ld, q0, rows, p0, kb, w int) {
	for p := 0; p < kb; p++ {
		group := panel[p*w : (p+1)*w]
		src := data[(p0+p)*ld+q0:]
		copy(group[:rows], src[:rows])
		clear(group[rows:])
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
	if rows < w {
		for p := 0; p < kb; p++ {
			clear(panel[p*w+rows : (p+1)*w])
		}
	}
}
