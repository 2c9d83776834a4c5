package recipe

import (
	"fmt"

	"github.com/dllmgo/dllm/data"
	"github.com/dllmgo/dllm/data/tokenizer"
	"github.com/dllmgo/dllm/lm"
	"github.com/dllmgo/dllm/modeldir"
	"github.com/dllmgo/dllm/train"
)

// Default lengths of a run, in passes over the training data, when neither
// steps nor a time budget is given: the reference's SFT recipe makes ten,
// pretraining on a corpus one.
const (
	SFTEpochs      = 10
	PretrainEpochs = 1
)

// Split says how a dataset is cut into rows and into training and held-out
// parts.
type Split struct {
	// MaxLen is the longest row in tokens.
	MaxLen int
	// HeldOut is the fraction of conversations (or rows) held out; at least
	// one is when it is positive, none when it is 0.
	HeldOut float64
	// Seed decides the split and each epoch's batch order.
	Seed uint64
	// Workers encode this many conversations at once (0: one).
	Workers int
}

// split returns training and held-out indices of n items, holding out at
// least one unless HeldOut is 0.
func (s Split) split(n int) (trainIdx, heldIdx []int) {
	trainIdx, heldIdx = data.SplitIndices(n, s.HeldOut, s.Seed)
	if len(heldIdx) == 0 && s.HeldOut > 0 {
		heldIdx, trainIdx = trainIdx[:1], trainIdx[1:]
	}
	return trainIdx, heldIdx
}

// minItems is the fewest conversations or rows a split can be made of: one
// to train on, and one to hold out when a fraction is.
func minItems(s Split) int {
	if s.HeldOut > 0 {
		return 2
	}
	return 1
}

// SFTData is a chat dataset cut for diffusion SFT.
type SFTData struct {
	Train, Held []data.Example
	// HeldConvs are the held-out conversations (sample answers, eval).
	HeldConvs []data.Conversation
	// Stats counts what building the training rows dropped or truncated.
	Stats data.SFTStats
	// Generation sizes the model's sampling defaults to the longest
	// training answer (modeldir.GenerationFor).
	Generation modeldir.Generation
	padID      int
}

// SFT splits conversations, renders them with the bundle's chat template
// and tokenizer into SFT rows, and sizes the generation defaults. It needs
// at least two conversations (one without a held-out part); an error says
// why no row could be made.
func SFT(b *modeldir.Bundle, convs []data.Conversation, s Split) (*SFTData, error) {
	if need := minItems(s); len(convs) < need {
		return nil, fmt.Errorf("%d conversations; need at least %d", len(convs), need)
	}
	trainIdx, heldIdx := s.split(len(convs))
	pick := func(idx []int) []data.Conversation {
		out := make([]data.Conversation, len(idx))
		for i, j := range idx {
			out[i] = convs[j]
		}
		return out
	}
	cfg := data.SFTConfig{MaxLen: s.MaxLen, PadID: int(b.PadID), Template: b.Template, Workers: s.Workers}
	d := &SFTData{HeldConvs: pick(heldIdx), padID: int(b.PadID)}
	var err error
	if d.Train, d.Stats, err = data.BuildSFT(b.Tokenizer, pick(trainIdx), cfg); err != nil {
		return nil, err
	}
	if d.Held, _, err = data.BuildSFT(b.Tokenizer, d.HeldConvs, cfg); err != nil {
		return nil, err
	}
	if len(d.Train) == 0 {
		return nil, fmt.Errorf("every conversation's prompt is longer than %d tokens", s.MaxLen)
	}
	longest := 0
	for _, ex := range d.Train {
		longest = max(longest, len(ex.InputIDs)-ex.PromptLen)
	}
	d.Generation = modeldir.GenerationFor(longest)
	return d, nil
}

// Epochs returns the training batches of each epoch: rows of similar
// length together, padded with the pad token, in an order drawn from
// (seed, epoch).
func (d *SFTData) Epochs(batchSize int, seed uint64) train.Data {
	return func(e int) []data.Batch {
		bs, _ := data.SFTBatches(d.Train, batchSize, d.padID, data.EpochSeed(seed, e))
		return bs
	}
}

// HeldBatches returns the held-out rows as batches (the first limit of
// them when limit > 0).
func (d *SFTData) HeldBatches(batchSize int, seed uint64, limit int) []data.Batch {
	bs, _ := data.SFTBatches(d.Held, batchSize, d.padID, seed)
	return first(bs, limit)
}

// PretrainData is a corpus packed into rows of equal length.
type PretrainData struct {
	// Rows are MaxLen tokens each; documents are joined by the pad token,
	// the reference's end of sequence for BERT, so the model also learns
	// where texts end.
	Rows        [][]int32
	Train, Held []int // indices into Rows
}

// Pretrain encodes documents, packs them into rows of s.MaxLen tokens and
// splits the rows. It needs at least two rows.
func Pretrain(b *modeldir.Bundle, docs []string, s Split) (*PretrainData, error) {
	ids := b.Tokenizer.EncodeBatch(docs, false)
	rows := data.Pack(ids, s.MaxLen, int(b.PadID))
	if len(rows) < minItems(s) {
		return nil, fmt.Errorf("only %d rows of %d tokens; need more text or a smaller maximum length", len(rows), s.MaxLen)
	}
	d := &PretrainData{Rows: rows}
	d.Train, d.Held = s.split(len(rows))
	return d, nil
}

func (d *PretrainData) batches(idx []int, batchSize int, seed uint64) []data.Batch {
	perm := data.Permutation(len(idx), seed)
	var out []data.Batch
	for lo := 0; lo < len(perm); lo += batchSize {
		var rs [][]int32
		for _, k := range perm[lo:min(lo+batchSize, len(perm))] {
			rs = append(rs, d.Rows[idx[k]])
		}
		out = append(out, data.PretrainBatch(rs))
	}
	return out
}

// Epochs returns the training batches of each epoch, rows shuffled by
// (seed, epoch).
func (d *PretrainData) Epochs(batchSize int, seed uint64) train.Data {
	return func(e int) []data.Batch { return d.batches(d.Train, batchSize, data.EpochSeed(seed, e)) }
}

// HeldBatches returns the held-out rows as batches (the first limit of
// them when limit > 0).
func (d *PretrainData) HeldBatches(batchSize int, seed uint64, limit int) []data.Batch {
	return first(d.batches(d.Held, batchSize, seed), limit)
}

func first(bs []data.Batch, limit int) []data.Batch {
	if limit > 0 && len(bs) > limit {
		return bs[:limit]
	}
	return bs
}

// Fresh sizes a new model to its tokenizer: its vocabulary, its special
// tokens (found by their usual names), and rows of maxLen tokens.
func Fresh(tok *tokenizer.Tokenizer, maxLen int) lm.Fresh {
	sp := tok.Specials()
	return lm.Fresh{VocabSize: tok.VocabSize(), MaxPositions: maxLen, Specials: &lm.Specials{
		Pad: int32(sp.Pad), Unk: int32(sp.Unk), CLS: int32(sp.Cls), SEP: int32(sp.Sep), Mask: int32(sp.Mask),
		BOS: int32(sp.Cls), EOS: int32(sp.Sep),
	}}
}
