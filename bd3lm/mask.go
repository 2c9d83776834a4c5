package bd3lm

// Allowed is block diffusion's training mask over the 2L tokens of the input
// [x_t ; x_0] with blocks of size bs: whether query index q may attend key
// index k, both in [0, 2L). With h(i) the half of index i (0 noisy, 1
// clean) and b(i) its block within its half,
//
//	own block, own half:             h(q) = h(k)           and b(q) = b(k)
//	noisy sees earlier clean blocks: h(q) = 0 and h(k) = 1 and b(q) > b(k)
//	clean half is block-causal:      h(q) = h(k) = 1       and b(q) ≥ b(k)
//
// Clean queries never see noisy keys. L need not be a multiple of bs (the
// last block is short).
func Allowed(q, k, l, bs int) bool {
	hq, hk := q/l, k/l
	bq, bk := (q-hq*l)/bs, (k-hk*l)/bs
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

// TrainingMask is Allowed as a row-major [2L, 2L] pattern.
func TrainingMask(l, bs int) []bool {
	n := 2 * l
	m := make([]bool, n*n)
	for q := range n {
		for k := range n {
			m[q*n+k] = Allowed(q, k, l, bs)
		}
	}
	return m
}

// TrainingPositions are the rotary positions of the 2L input: 0..L−1 for
// the noisy half and again 0..L−1 for the clean half, so that a clean token
// and its noisy twin share a phase.
func TrainingPositions(l int) []int32 {
	p := make([]int32, 2*l)
	for i := range p {
		p[i] = int32(i % l)
	}
	return p
}

// Blocks is the number of blocks of size bs in n tokens, the last one
// possibly short: ⌈n/bs⌉.
func Blocks(n, bs int) int { return (n + bs - 1) / bs }
