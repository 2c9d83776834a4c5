package tensor

// Work-splitting helpers shared by the CPU ops.
//
// Ops that compute each output row on its own (elementwise ops, LayerNorm
// rows, softmax rows) use parallelFor directly: whichever goroutine computes
// a row, it computes it the same way, so the result does not depend on
// GOMAXPROCS. Ops that reduce across rows must not let the worker count decide
// the order of a floating-point sum; they either give each goroutine its own
// columns (so every sum runs over all rows in order on one goroutine) or cut
// the work into fixed chunks whose partial results are combined in chunk
// order (forChunks).

// Grain sizes: the least work worth a goroutine of its own, about 10 µs.
const (
	grainElems = 1 << 14 // elements of a cheap elementwise op
	grainRows  = 16      // rows of a row op of a few hundred elements
)

// forChunks cuts [0, n) into the fixed chunks [c·size, (c+1)·size) and runs
// body on every chunk, in parallel. The chunk boundaries do not depend on the
// number of goroutines, which is what makes per-chunk partial sums
// reproducible.
func forChunks(n, size int, body func(c, lo, hi int)) {
	if n <= 0 {
		return
	}
	chunks := (n + size - 1) / size
	parallelFor(chunks, 1, func(c0, c1 int) {
		for c := c0; c < c1; c++ {
			body(c, c*size, min(n, (c+1)*size))
		}
	})
}

// rowGrain returns how many rows of width d make a goroutine's worth of work.
func rowGrain(d int) int {
	return max(1, grainElems/max(1, d))
}

// elementwise runs body over [0, n) in parallel chunks: the split of the
// elementwise ops, each a loop over flat slices.
func elementwise(n int, body func(lo, hi int)) { parallelFor(n, grainElems, body) }
