package lm

import (
	"fmt"

	"github.com/dllmgo/dllm/tensor"
)

// AttentionMask is an attention pattern that replaces a model's own
// attention rule (whole sequences, KeyMask) for one forward pass: block
// diffusion's mask over its noisy and clean halves, or a block-causal
// sampling mask over left-padded prompts. Block diffusion's patterns are
// given as structure (Blocks): the families pass it to the fused attention
// kernels, which skip every fully masked tile, with the batch's Input.KeyMask
// as the key padding. Any other pattern is a dense Allow, which the families
// run through the composed nn.MaskedAttention (the structure's reference in
// the tests). package transformer's PatternAttention makes either the hook.
type AttentionMask struct {
	// Blocks, when Blocks.Size > 0, is the pattern (tensor.BlockPattern);
	// Allow, Rows and Pos are then unused.
	Blocks tensor.BlockPattern
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
	if bp := m.Blocks; bp.Size > 0 {
		if bp.Half < 0 || (bp.Half > 0 && s != 2*bp.Half) {
			return fmt.Errorf("lm: block pattern %+v for rows of %d tokens", bp, s)
		}
		return nil
	}
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
