package tensor

// Row gathers and their backward scatters. The scatters add rows that may
// collide (a token id appears many times in a batch), so they split the work
// by columns: each goroutine adds its columns of every source row, in row
// order, and no two goroutines touch the same element.

// gatherDims checks dst [M, D] = src [N, D] gathered by idx [M] (I32, values
// in [0, N)) and returns M, N and D.
func gatherDims(op string, dst, src, idx *Tensor) (m, n, d int) {
	checkF32(op, dst, src)
	check(src.Rank() >= 1, op, "table %v has no rows", src)
	n = src.Dim(0)
	d = Numel(src.shape[1:])
	m = idx.Numel()
	check(idx.dtype == I32, op, "indices %v must be I32", idx)
	check(dst.Numel() == m*d, op, "%v must hold %d rows of %d for indices %v and table %v", dst, m, d, idx, src)
	for i, v := range idx.I32() {
		if v < 0 || int(v) >= n { // test first: check's arguments would be boxed on every row
			check(false, op, "index %d at %d is outside [0, %d) for table %v", v, i, n, src)
		}
	}
	return m, n, d
}

func (cpuBackend) Embedding(dst, table, ids *Tensor) {
	gather("Embedding", dst, table, ids)
}

func (cpuBackend) GatherRows(dst, src, idx *Tensor) {
	gather("GatherRows", dst, src, idx)
}

func gather(op string, dst, src, idx *Tensor) {
	m, _, d := gatherDims(op, dst, src, idx)
	out, tab, ids := dst.F32(), src.F32(), idx.I32()
	parallelFor(m, rowGrain(d), func(lo, hi int) {
		for i := lo; i < hi; i++ {
			r := int(ids[i])
			copy(out[i*d:(i+1)*d], tab[r*d:(r+1)*d])
		}
	})
}

func (cpuBackend) EmbeddingBackward(dtable, ids, dy *Tensor, padIdx int) {
	scatterAdd("EmbeddingBackward", dtable, dy, ids, padIdx)
}

func (cpuBackend) ScatterAddRows(dst, src, idx *Tensor) {
	scatterAdd("ScatterAddRows", dst, src, idx, -1)
}

// scatterAdd adds src[m] into dst[idx[m]] for every m whose index is not skip.
func scatterAdd(op string, dst, src, idx *Tensor, skip int) {
	m, _, d := gatherDims(op, src, dst, idx)
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
