package mdlm

import (
	"encoding/binary"
	"errors"
	"math/rand/v2"
)

// Random streams.
//
// A sampler call takes one number from the caller's generator, the call's
// base seed, and gives every row a generator of its own, keyed by the base
// seed and the row's stream number (SamplerConfig.StreamOffset plus the
// row's index). A row draws everything random from its own stream, in an
// order fixed by its own progress: its transfer counts, the noise and
// random-remasking scores of its positions, its ancestral coin flips. So
// what a row samples depends on the base seed, its stream number and its
// own input, and never on the other rows of the batch.

// rowStreams takes the base seed from rng and returns the generators of n
// rows numbered from offset.
func rowStreams(rng *rand.Rand, n, offset int) ([]*rand.Rand, error) {
	if rng == nil {
		return nil, errors.New("mdlm: nil random generator (use NewRand)")
	}
	base := rng.Uint64()
	streams := make([]*rand.Rand, n)
	for r := range streams {
		streams[r] = rowStream(base, uint64(offset+r))
	}
	return streams, nil
}

// rowStream is stream number row of base. ChaCha8 keys with any two distinct
// values give unrelated streams; a PCG seeded with neighbouring states would
// give streams whose differences follow a fixed pattern.
func rowStream(base, row uint64) *rand.Rand {
	var key [32]byte
	binary.LittleEndian.PutUint64(key[0:], base)
	binary.LittleEndian.PutUint64(key[8:], row)
	return rand.New(rand.NewChaCha8(key))
}

// noiseSeeds returns, when a step's picks need randomness, one seed per
// requested position in request order, each drawn from its row's stream in
// the row's position order; pickAll seeds one generator per position with
// them so that the positions can be scored in parallel. It returns nil when
// the picks are deterministic.
func noiseSeeds(q *request, streams []*rand.Rand, need bool) [][2]uint64 {
	if !need {
		return nil
	}
	seeds := make([][2]uint64, 0, q.size())
	for i, r := range q.rows {
		for range q.pos[i] {
			seeds = append(seeds, [2]uint64{streams[r].Uint64(), streams[r].Uint64()})
		}
	}
	return seeds
}
