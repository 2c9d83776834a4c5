package tensor

// Row gathers and their backward scatters. The scatters add rows that may
// collide (a token id appears many times in a batch), so they split the work
// by columns: each goroutine adds its columns of every source row, in row
// order, and no two goroutines touch the same element.

// checkIndices panics unless every index is a row of a table of n rows:
// the part of the contract that reads values, which only the CPU checks.
func checkIndices(op string, idx *Tensor, table *Tensor) {
	n := table.Dim(0)
	for i, v := range idx.I32() {
		if v < 0 || int(v) >= n { // test first: check's arguments would be boxed on every row
			check(false, op, "index %d at %d is outside [0, %d) for table %v", v, i, n, table)
		}
	}
}

func (cpuBackend) Embedding(dst, table, ids *Tensor) {
	s := CheckEmbedding(dst, table, ids)
	checkIndices("Embedding", ids, table)
	if table.dtype == BF16 {
		gatherBF16(dst, table, ids, s)
		return
	}
	gather(dst, table, ids, s)
}

// gatherBF16 sets dst[m] = widen(table[ids[m]]) for a BF16 table.
func gatherBF16(dst, table, ids *Tensor, s GatherShape) {
	m, d := s.M, s.D
	out, tab, idx := dst.F32(), table.BF16Bits(), ids.I32()
	parallelFor(m, rowGrain(d), func(lo, hi int) {
		for i := lo; i < hi; i++ {
			r := int(idx[i])
			o, src := out[i*d:(i+1)*d], tab[r*d:(r+1)*d]
			for j, v := range src {
				o[j] = F32FromBF16(v)
			}
		}
	})
}

func (cpuBackend) GatherRows(dst, src, idx *Tensor) {
	s := CheckGatherRows(dst, src, idx)
	checkIndices("GatherRows", idx, src)
	gather(dst, src, idx, s)
}

// gather sets dst[m] = src[idx[m]].
func gather(dst, src, idx *Tensor, s GatherShape) {
	m, d := s.M, s.D
	out, tab, ids := dst.F32(), src.F32(), idx.I32()
	parallelFor(m, rowGrain(d), func(lo, hi int) {
		for i := lo; i < hi; i++ {
			r := int(ids[i])
			copy(out[i*d:(i+1)*d], tab[r*d:(r+1)*d])
		}
	})
}

func (cpuBackend) EmbeddingBackward(dtable, ids, dy *Tensor, padIdx int) {
	s := CheckEmbeddingBackward(dtable, ids, dy)
	checkIndices("EmbeddingBackward", ids, dtable)
	scatterAdd(dtable, dy, ids, s, padIdx)
}

func (cpuBackend) ScatterAddRows(dst, src, idx *Tensor) {
	s := CheckScatterAddRows(dst, src, idx)
	checkIndices("ScatterAddRows", idx, dst)
	scatterAdd(dst, src, idx, s, -1)
}

// scatterAdd adds src[m] into dst[idx[m]] for every m whose index is not skip.
func scatterAdd(dst, src, idx *Tensor, s GatherShape, skip int) {
	m, d := s.M, s.D
	out, in, ids := dst.F32(), src.F32(), idx.I32()
	parallelFor(d, max(16, grainElems/max(1, m)), func(lo, hi int) {
		for i := range m {
			r := int(ids[i])
			if r == skip {
				continue
			}
			o, s := out[r*d+lo:r*d+hi], in[i*d+lo:i*d+hi]
			for j, v := range s {
				o[j] += v
			}
		}
	})
}
