package lm

import "fmt"

// AttentionMask is an attention pattern that replaces a model's own
// attention rule (whole sequences, KeyMask) for one forward pass: block
// diffusion's mask over its noisy and clean halves, or a block-causal
// sampling mask over left-padded prompts. It is structure on the host; the
// family turns it into what its attention needs (package transformer's
// MaskedAttention).
type AttentionMask struct {
	// Allow [R·S·S] says whether query q of row r may see key k, at
	// (r·S+q)·S+k. Rows = 1 shares one pattern among every row of the batch;
	// Rows = B gives each row its own.
	Allow []bool
	Rows  int
	// Pos [R·S], when set, is each index's logical position, in which a
	// sliding-window layer measures distance (key k is in query q's window
	// iff |Pos[q]−Pos[k]| ≤ Window/2); nil measures it in indices. Block
	// diffusion sets it because its two halves repeat the positions 0..L−1.
	Pos []int32
}

// Check verifies the mask's sizes for a batch of B rows of S tokens.
func (m *AttentionMask) Check(b, s int) error {
	switch {
	case m.Rows != 1 && m.Rows != b:
		return fmt.Errorf("lm: attention mask of %d rows for a batch of %d", m.Rows, b)
	case len(m.Allow) != m.Rows*s*s:
		return fmt.Errorf("lm: attention mask of %d entries for %d rows of %d tokens", len(m.Allow), m.Rows, s)
	case m.Pos != nil && len(m.Pos) != m.Rows*s:
		return fmt.Errorf("lm: %d mask positions for %d rows of %d tokens", len(m.Pos), m.Rows, s)
	}
	return nil
}

// MaskAttender is implemented by the models whose Forward honours
// Input.Mask: every family built on package transformer. An objective that
// needs a mask (BD3LM) checks for it and refuses other models.
type MaskAttender interface {
	Model
	// AttendsWithMask is a marker: it does nothing.
	AttendsWithMask()
}
