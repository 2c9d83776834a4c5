package data

import (
	"errors"
	"fmt"
	"slices"
	"sync"
)

// Encoder turns text into token ids. data/tokenizer's *Tokenizer satisfies it.
// SFT text is encoded with addSpecial false: the chat template is the whole input,
// with no [CLS]/[SEP] around it.
type Encoder interface {
	Encode(text string, addSpecial bool) []int
}

// SFTConfig says how conversations become training rows.
type SFTConfig struct {
	// MaxLen is the longest row. Longer rows are right-truncated; a row whose
	// prompt leaves no room for a single answer token is dropped.
	MaxLen int
	// PadID is the [PAD] id: it pads batches and is the label of padding.
	PadID int
	// Template renders conversations; nil means BertChat.
	Template Template
	// Workers encodes this many conversations at once (0 or 1: one at a time).
	// More than one requires an Encoder that is safe for concurrent use.
	Workers int
}

// Example is one SFT row.
type Example struct {
	InputIDs []int32
	// Labels equal InputIDs on the supervised answer and IgnoreIndex on the prompt.
	Labels []int32
	// PromptLen is the number of leading prompt tokens (all labelled IgnoreIndex).
	PromptLen int
	// Task is the conversation's task name, if its line had one.
	Task string
}

// SFTStats counts what BuildSFT did.
type SFTStats struct {
	Examples  int // rows kept
	Dropped   int // rows whose prompt did not fit in MaxLen
	Truncated int // rows cut to MaxLen
	// PromptMismatch counts rows whose separately encoded prompt is not a prefix
	// of the encoded conversation (a tokenizer merging across the boundary), as
	// the reference also tolerates: PromptLen still comes from the prompt alone.
	PromptMismatch int
}

// NewSFTExample builds one row the way the reference does: the whole
// conversation is rendered and encoded; the prompt is everything up to and
// including the generation prompt of the last turn ("[Answer]\n"), and its labels
// are IgnoreIndex. The rest, the final answer with its closing "\n[/Answer]\n\n",
// is supervised, so the model learns to end its answer. Only the final assistant
// turn is supervised; earlier answers are part of the prompt. No truncation.
func NewSFTExample(enc Encoder, conv Conversation, tpl Template) (Example, bool, error) {
	if tpl == nil {
		tpl = BertChat
	}
	msgs := conv.Messages
	if err := ValidateConversation(msgs); err != nil {
		return Example{}, false, err
	}
	full, err := tpl.Render(msgs, false)
	if err != nil {
		return Example{}, false, err
	}
	prompt, err := tpl.Render(msgs[:len(msgs)-1], true)
	if err != nil {
		return Example{}, false, err
	}
	ids := enc.Encode(full, false)
	promptIDs := enc.Encode(prompt, false)
	ex := Example{
		InputIDs:  make([]int32, len(ids)),
		Labels:    make([]int32, len(ids)),
		PromptLen: len(promptIDs),
		Task:      conv.Task,
	}
	matches := len(promptIDs) <= len(ids)
	for i, id := range ids {
		ex.InputIDs[i] = int32(id)
		ex.Labels[i] = int32(id)
		if i < len(promptIDs) {
			ex.Labels[i] = IgnoreIndex
			matches = matches && promptIDs[i] == id
		}
	}
	return ex, matches, nil
}

// BuildSFT turns conversations into SFT rows. Rows whose prompt is MaxLen tokens
// or longer are dropped and counted (the reference keeps a prompt of exactly
// MaxLen, which leaves no supervised token; such a row only costs compute);
// longer rows are right-truncated to MaxLen. An error names the conversation.
func BuildSFT(enc Encoder, convs []Conversation, cfg SFTConfig) ([]Example, SFTStats, error) {
	if cfg.MaxLen < 2 {
		return nil, SFTStats{}, fmt.Errorf("sft: MaxLen %d is too small", cfg.MaxLen)
	}
	built := make([]Example, len(convs))
	matched := make([]bool, len(convs))
	errs := make([]error, len(convs))
	encodeRange := func(lo, hi int) {
		for i := lo; i < hi; i++ {
			built[i], matched[i], errs[i] = NewSFTExample(enc, convs[i], cfg.Template)
		}
	}
	if w := max(1, cfg.Workers); w == 1 || len(convs) < 2*w {
		encodeRange(0, len(convs))
	} else {
		var wg sync.WaitGroup
		for k := range w {
			wg.Go(func() { encodeRange(k*len(convs)/w, (k+1)*len(convs)/w) })
		}
		wg.Wait()
	}

	var st SFTStats
	out := built[:0]
	for i, ex := range built {
		if errs[i] != nil {
			if convs[i].Source != "" {
				return nil, st, fmt.Errorf("%s: %w", convs[i].Source, errs[i])
			}
			return nil, st, fmt.Errorf("conversation %d: %w", i, errs[i])
		}
		if !matched[i] {
			st.PromptMismatch++
		}
		if ex.PromptLen >= cfg.MaxLen {
			st.Dropped++
			continue
		}
		if len(ex.InputIDs) > cfg.MaxLen {
			ex.InputIDs = ex.InputIDs[:cfg.MaxLen:cfg.MaxLen]
			ex.Labels = ex.Labels[:cfg.MaxLen:cfg.MaxLen]
			st.Truncated++
		}
		out = append(out, ex)
	}
	st.Examples = len(out)
	return out, st, nil
}

// PadBatch pads rows to the longest of them. Padding is [PAD] in the input and
// [PAD] in the labels, not IgnoreIndex: padding is how the model learns to end an
// answer, and no attention mask hides it.
func PadBatch(rows []Example, padID int) Batch {
	s := 0
	for _, r := range rows {
		s = max(s, len(r.InputIDs))
	}
	b, _ := PadBatchTo(rows, padID, s)
	return b
}

// PadBatchTo is PadBatch to a given length (for example rounded up to a multiple
// that kernels prefer); seqLen must hold the longest row.
func PadBatchTo(rows []Example, padID, seqLen int) (Batch, error) {
	b := Batch{
		B:          len(rows),
		S:          seqLen,
		InputIDs:   make([]int32, len(rows)*seqLen),
		Labels:     make([]int32, len(rows)*seqLen),
		PromptLens: make([]int, len(rows)),
	}
	for i, r := range rows {
		if len(r.InputIDs) > seqLen {
			return Batch{}, fmt.Errorf("pad: row %d has %d tokens, more than %d", i, len(r.InputIDs), seqLen)
		}
		ids, labels := b.Row(i)
		copy(ids, r.InputIDs)
		copy(labels, r.Labels)
		for j := len(r.InputIDs); j < seqLen; j++ {
			ids[j] = int32(padID)
			labels[j] = int32(padID)
		}
		b.PromptLens[i] = r.PromptLen
	}
	return b, nil
}

// megaBatches is how many batches' worth of rows are sorted together by length
// (the Hugging Face trainer's group_by_length uses 50): large enough that a batch
// holds rows of similar length, small enough that batches differ each epoch.
const megaBatches = 50

// LengthGroupedBatches splits row indices into batches of batchSize whose rows
// have similar lengths, so little of a padded batch is padding. The rows are
// shuffled by seed, cut into groups of 50 batches, each group sorted by length
// (longest first) and cut into batches; then the batches are shuffled, and the one
// holding the longest row goes first so that peak memory shows on the first step.
// The last batch may be short. Use EpochSeed for a new grouping each epoch.
func LengthGroupedBatches(lengths []int, batchSize int, seed uint64) ([][]int, error) {
	if batchSize < 1 {
		return nil, errors.New("batch size must be at least 1")
	}
	n := len(lengths)
	if n == 0 {
		return nil, nil
	}
	r := NewRand(seed)
	order := make([]int, n)
	for i := range order {
		order[i] = i
	}
	r.Shuffle(n, func(i, j int) { order[i], order[j] = order[j], order[i] })

	group := batchSize * megaBatches
	var batches [][]int
	for lo := 0; lo < n; lo += group {
		g := order[lo:min(lo+group, n)]
		slices.SortStableFunc(g, func(a, b int) int { return lengths[b] - lengths[a] })
		for s := 0; s < len(g); s += batchSize {
			batches = append(batches, g[s:min(s+batchSize, len(g))])
		}
	}
	r.Shuffle(len(batches), func(i, j int) { batches[i], batches[j] = batches[j], batches[i] })

	longest := 0
	for k, bt := range batches {
		if lengths[bt[0]] > lengths[batches[longest][0]] {
			longest = k
		}
	}
	batches[0], batches[longest] = batches[longest], batches[0]
	return batches, nil
}

// SFTBatches groups examples by length and pads each batch: one epoch's batches.
func SFTBatches(examples []Example, batchSize, padID int, seed uint64) ([]Batch, error) {
	lengths := make([]int, len(examples))
	for i, ex := range examples {
		lengths[i] = len(ex.InputIDs)
	}
	groups, err := LengthGroupedBatches(lengths, batchSize, seed)
	if err != nil {
		return nil, err
	}
	out := make([]Batch, len(groups))
	rows := make([]Example, 0, batchSize)
	for k, g := range groups {
		rows = rows[:0]
		for _, i := range g {
			rows = append(rows, examples[i])
		}
		out[k] = PadBatch(rows, padID)
	}
	return out, nil
}
