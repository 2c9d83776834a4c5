//go:build amd64 && !purego

package gemm

// The AVX2 packing loops are in pack_amd64.s.

//go:noescape
func transpose8(dst *float32, w int, rows *[8]*float32, kb int)

//go:noescape
func copyGroupsAVX(dst, src *float32, ld, n, w int)

// avx2Packers are the packing loops of the assembly kernels.
var avx2Packers = packers{transpose: packTransposedAVX2, copyGroups: copyGroupsAVX2, widen: widenBF16AVX2}

//go:noescape
func widenAVX2(dst *float32, src *uint16, n int)

// widenBF16AVX2 is widen with eight values per vector instruction.
func widenBF16AVX2(dst []float32, src []uint16) {
	n8 := len(src) &^ 7
	if n8 > 0 {
		_ = dst[n8-1]
		widenAVX2(&dst[0], &src[0], n8)
	}
	widen(dst[n8:], src[n8:])
}

// copyGroupsAVX2 is copyGroups with vector moves.
func copyGroupsAVX2(dst, src []float32, ld, n, w int) {
	if n == 0 {
		return
	}
	if w < 4 {
		copyGroups(dst, src, ld, n, w)
		return
	}
	_, _ = dst[n*w-1], src[(n-1)*ld+w-1]
	copyGroupsAVX(&dst[0], &src[0], ld, n, w)
}

// packTransposedAVX2 is packTransposed with the column steps in multiples of
// 8 done by transpose8. It needs 8 floats of room past the panel, because
// transpose8's last group may store past its end (see below); without that
// room it falls back to the Go loop.
func packTransposedAVX2(panel, data []float32, ld, q0, rows, p0, kb, w int) {
	kb8 := kb &^ 7
	if kb8 == 0 || cap(panel) < kb*w+8 {
		packTransposed(panel, data, ld, q0, rows, p0, kb, w)
		return
	}
	// Rows go eight at a time, the last group first: its 8-float stores run
	// up to 8-(w mod 8) floats into the next group (w = 14 or 6) and the
	// groups before it overwrite that, as does the loop below for the stores
	// past column kb8. A group short of 8 rows repeats its last row.
	var ptrs [8]*float32
	for g := (rows - 1) / 8; g >= 0; g-- {
		for i := range ptrs {
			r := min(g*8+i, rows-1)
			ptrs[i] = &data[(q0+r)*ld+p0]
		}
		transpose8(&panel[:cap(panel)][g*8], w, &ptrs, kb8)
	}
	// Columns past the last multiple of 8.
	for p := kb8; p < kb; p++ {
		group := panel[p*w : (p+1)*w]
		for i := range rows {
			group[i] = data[(q0+i)*ld+p0+p]
		}
	}
}
