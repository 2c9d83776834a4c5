package lm

import "fmt"

// Limits on the sizes a config.json may give, far above any released model
// (the largest have about 130 layers, a width of 16,384, 128 heads and a
// vocabulary of 256k). A file past them is corrupt or hostile; refusing it
// when it is parsed keeps a few bytes of JSON from taking the memory or
// the time its sizes imply (a layer list of 2^40 entries, say) before the
// weights could show it wrong.
const (
	MaxLayers    = 1 << 10 // transformer blocks
	MaxWidth     = 1 << 18 // hidden, intermediate, expert and head sizes
	MaxHeads     = 1 << 12 // attention and key/value heads, experts
	MaxVocab     = 1 << 24 // vocabulary and embedding rows
	MaxPositions = 1 << 24 // context length
)

// Size is one size of a config.json, by the key that gives it, with its
// limit.
type Size struct {
	Key        string
	Value, Max int
}

// CheckSizes returns an error naming the first size above its limit.
func CheckSizes(sizes ...Size) error {
	for _, s := range sizes {
		if s.Value > s.Max {
			return fmt.Errorf("%s = %d is larger than any model this program runs (at most %d)", s.Key, s.Value, s.Max)
		}
	}
	return nil
}
