package data

import "fmt"

// IgnoreIndex is the label of a position that carries no loss (the prompt
// of an SFT row), as in PyTorch's cross-entropy: the one ignore index of
// dllm, used by the batches, the objectives and `dllm forward`.
const IgnoreIndex = -100

// Batch is one training batch: B padded rows of S token ids, row-major. It
// is the one batch type of dllm: the data pipeline builds it, the trainer
// passes it on, and an objective (lm.Objective) turns it into the model's
// input.
type Batch struct {
	B, S int
	// InputIDs holds B·S clean token ids.
	InputIDs []int32
	// Labels holds the target of each position, IgnoreIndex where the
	// position is not supervised. Nil means every position is supervised
	// with its own id (pretraining). For SFT the prompt carries IgnoreIndex
	// and the padded tail carries the pad id, so the model learns to end its
	// answers with padding.
	Labels []int32
	// PromptLens gives, per row, how many leading positions are prompt; the
	// objectives never corrupt them, whatever their labels say. Nil means no
	// prompt.
	PromptLens []int
}

// Row returns row i's ids and labels (views into the batch; labels is nil
// when the batch has none).
func (b *Batch) Row(i int) (ids, labels []int32) {
	ids = b.InputIDs[i*b.S : (i+1)*b.S]
	if b.Labels != nil {
		labels = b.Labels[i*b.S : (i+1)*b.S]
	}
	return ids, labels
}

// Supervised counts the positions whose label is not IgnoreIndex, padding
// included: the normaliser of the default SFT loss.
func (b *Batch) Supervised() int {
	if b.Labels == nil {
		return len(b.InputIDs)
	}
	n := 0
	for _, l := range b.Labels {
		if l != IgnoreIndex {
			n++
		}
	}
	return n
}

// PromptLen is row r's prompt length (0 without PromptLens).
func (b *Batch) PromptLen(r int) int {
	if b.PromptLens == nil {
		return 0
	}
	return b.PromptLens[r]
}

// Label is the target at row r, position s: the id itself when the batch
// has no labels.
func (b *Batch) Label(r, s int) int32 {
	if b.Labels == nil {
		return b.InputIDs[r*b.S+s]
	}
	return b.Labels[r*b.S+s]
}

// Validate checks the batch's shape and labels.
func (b *Batch) Validate() error {
	switch {
	case b.B <= 0 || b.S <= 0:
		return fmt.Errorf("batch shape %d×%d", b.B, b.S)
	case len(b.InputIDs) != b.B*b.S:
		return fmt.Errorf("%d ids for a %d×%d batch", len(b.InputIDs), b.B, b.S)
	case b.Labels != nil && len(b.Labels) != len(b.InputIDs):
		return fmt.Errorf("%d labels for %d ids", len(b.Labels), len(b.InputIDs))
	case b.PromptLens != nil && len(b.PromptLens) != b.B:
		return fmt.Errorf("%d prompt lengths for %d rows", len(b.PromptLens), b.B)
	}
	for r, p := range b.PromptLens {
		if p < 0 || p > b.S {
			return fmt.Errorf("row %d: prompt length %d outside [0, %d]", r, p, b.S)
		}
	}
	for i, l := range b.Labels {
		if l < 0 && l != IgnoreIndex {
			return fmt.Errorf("label %d at flat position %d", l, i)
		}
	}
	return nil
}
