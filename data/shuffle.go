package data

import (
	"math"
	"math/bits"
	"math/rand/v2"
	"sort"
)

// The shuffles here depend only on the seed, on every platform and Go release:
// the PCG generator of math/rand/v2 has a fixed output for a seed, and the bounded
// draw and Fisher-Yates loop are written out here rather than borrowed from
// rand.Shuffle, whose algorithm the standard library does not promise to keep.

// pcgStream is the second PCG word; any fixed odd constant would do.
const pcgStream = 0x9e3779b97f4a7c15

// Rand is a seeded random source whose every draw is fixed by the seed.
type Rand struct{ src *rand.PCG }

// NewRand returns a Rand for seed.
func NewRand(seed uint64) *Rand { return &Rand{rand.NewPCG(seed, pcgStream)} }

// Uint64 returns 64 random bits.
func (r *Rand) Uint64() uint64 { return r.src.Uint64() }

// IntN returns a uniform value in [0, n), n > 0, by Lemire's multiply-and-reject
// method.
func (r *Rand) IntN(n int) int {
	un := uint64(n)
	hi, lo := bits.Mul64(r.src.Uint64(), un)
	if lo < un {
		thresh := -un % un
		for lo < thresh {
			hi, lo = bits.Mul64(r.src.Uint64(), un)
		}
	}
	return int(hi)
}

// Shuffle permutes n items through swap (Fisher-Yates).
func (r *Rand) Shuffle(n int, swap func(i, j int)) {
	for i := n - 1; i > 0; i-- {
		swap(i, r.IntN(i+1))
	}
}

// Shuffle permutes n items in place through swap, determined by seed alone.
func Shuffle(n int, seed uint64, swap func(i, j int)) { NewRand(seed).Shuffle(n, swap) }

// Permutation returns a permutation of 0..n-1 determined by seed alone.
func Permutation(n int, seed uint64) []int {
	p := make([]int, n)
	for i := range p {
		p[i] = i
	}
	Shuffle(n, seed, func(i, j int) { p[i], p[j] = p[j], p[i] })
	return p
}

// EpochSeed derives the seed of one epoch from a run's seed (splitmix64 of both),
// so every epoch is shuffled differently and reproducibly.
func EpochSeed(seed uint64, epoch int) uint64 {
	z := seed + uint64(epoch+1)*0x9e3779b97f4a7c15
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// SplitIndices splits 0..n-1 at random into a train and a test set, each in
// ascending order. The test set holds round(n*testFraction) items, but at least
// one when testFraction > 0 and n >= 2; the train set is never empty.
func SplitIndices(n int, testFraction float64, seed uint64) (train, test []int) {
	k := int(math.Round(float64(n) * testFraction))
	if testFraction > 0 && n >= 2 {
		k = max(1, k)
	}
	k = max(0, min(k, n-1))
	p := Permutation(n, seed)
	test, train = p[:k], p[k:]
	sort.Ints(test)
	sort.Ints(train)
	return train, test
}
