package tensor

// BlockPattern is block diffusion's (BD3LM's) attention pattern as
// structure: a block size and a layout, never a dense matrix. With
// b(i) = i div Size counted within i's half:
//
// Half = 0, block-causal (the sampler's canvas): query i sees key j iff
// b(j) ≤ b(i).
//
// Half = L > 0, the training input [x_t ; x_0] of S = 2L tokens, with h(i)
// = 0 for the noisy half i < L and 1 for the clean half:
//
//	own block, own half:             h(i) = h(j)            and b(i) = b(j)
//	noisy sees earlier clean blocks: h(i) = 0 and h(j) = 1  and b(i) > b(j)
//	clean half is block-causal:      h(i) = h(j) = 1        and b(i) ≥ b(j)
//
// Size = 0 is no pattern: every key is allowed. L need not be a multiple of
// Size (the last block of a half is short). Each query's allowed keys are
// at most two intervals whose ends never decrease with the query (and each
// key's queries likewise), so the keys a tile of queries may see (KeySpans)
// and the queries a tile of keys may be seen by (QuerySpans) have closed
// forms; the kernels skip every tile outside them.
type BlockPattern struct {
	Size int // tokens per block; 0: no pattern
	Half int // L for the two-halves training layout; 0: block-causal
}

// Span is the half-open index interval [Lo, Hi).
type Span struct{ Lo, Hi int }

// Pos is index i's position: i mod L in the two-halves layout (both halves
// repeat the positions 0..L−1), else i.
func (b BlockPattern) Pos(i int) int {
	if b.Half > 0 && i >= b.Half {
		return i - b.Half
	}
	return i
}

// split returns index i's half and block.
func (b BlockPattern) split(i int) (h, blk int) {
	if b.Half > 0 && i >= b.Half {
		return 1, (i - b.Half) / b.Size
	}
	return 0, i / b.Size
}

// Allowed reports whether query i may see key j under the pattern.
func (b BlockPattern) Allowed(i, j int) bool {
	if b.Size <= 0 {
		return true
	}
	hq, bq := b.split(i)
	hk, bk := b.split(j)
	if b.Half == 0 {
		return bk <= bq
	}
	switch {
	case hq == hk && bq == bk:
		return true
	case hq == 0 && hk == 1:
		return bq > bk
	case hq == 1 && hk == 1:
		return bq >= bk
	}
	return false
}

// RowSpans returns the keys query i may see under the pattern (s the
// sequence length), as at most two spans; an unused span is empty. It is
// Allowed(i, ·) in closed form: the kernels test a key against two
// intervals instead of dividing per pair.
func (b BlockPattern) RowSpans(i, s int) (Span, Span) {
	if b.Size <= 0 {
		return Span{0, s}, Span{}
	}
	bs, l := b.Size, b.Half
	if l == 0 {
		return Span{0, min(s, (i/bs+1)*bs)}, Span{}
	}
	if i < l { // noisy: its own block, and the clean blocks before it
		blk := i / bs
		return Span{blk * bs, min(l, (blk+1)*bs)}, Span{l, l + blk*bs}
	}
	// clean: the clean half block-causally, its own block included
	return Span{l, l + min(l, ((i-l)/bs+1)*bs)}, Span{}
}

// KeySpans returns the keys any query of [q0, q1) (q0 < q1 ≤ s, s the
// sequence length) may see under the pattern, as at most two disjoint spans
// in increasing order (empty spans left out); every key outside them is
// masked for every query of the tile.
func (b BlockPattern) KeySpans(q0, q1, s int) []Span {
	if b.Size <= 0 {
		return []Span{{0, s}}
	}
	bs, l := b.Size, b.Half
	if l == 0 {
		return []Span{{0, min(s, ((q1-1)/bs+1)*bs)}}
	}
	var out []Span
	clean := 0 // the clean keys [L, L+clean) seen by some query
	if q0 < l {
		last := (min(q1, l) - 1) / bs
		out = append(out, Span{q0 / bs * bs, min(l, (last+1)*bs)})
		clean = last * bs
	}
	if q1 > l {
		clean = max(clean, min(l, ((q1-1-l)/bs+1)*bs))
	}
	if clean > 0 {
		out = append(out, Span{l, l + clean})
	}
	return out
}

// QuerySpans returns the queries that may see some key of [k0, k1) under
// the pattern, as at most two disjoint spans in increasing order.
func (b BlockPattern) QuerySpans(k0, k1, s int) []Span {
	if b.Size <= 0 {
		return []Span{{0, s}}
	}
	bs, l := b.Size, b.Half
	if l == 0 {
		return []Span{{k0 / bs * bs, s}}
	}
	var out []Span
	lo := l // the first noisy query that sees a key of the tile
	hi := 0
	if k0 < l { // noisy keys: the noisy queries of their own blocks
		lo, hi = k0/bs*bs, min(l, ((min(k1, l)-1)/bs+1)*bs)
	}
	cleanFrom := -1
	if k1 > l { // clean keys: noisy queries of later blocks, clean queries of this and later blocks
		first := (max(k0, l) - l) / bs
		if n := (first + 1) * bs; n < l {
			lo, hi = min(lo, n), l
		}
		cleanFrom = l + first*bs
	}
	if lo < hi {
		out = append(out, Span{lo, hi})
	}
	if cleanFrom >= 0 {
		if len(out) > 0 && out[0].Hi == cleanFrom {
			out[0].Hi = s
		} else {
			out = append(out, Span{cleanFrom, s})
		}
	}
	return out
}
