package tokenizer

// A postProcessor frames an encoded text with special tokens ("[CLS] $A
// [SEP]"). dllm encodes single texts, so only the single-sequence template is
// used; pair templates are kept in the JSON but not applied.
type postProcessor interface {
	// process returns ids framed; it may reuse ids' storage only when it adds nothing.
	process(ids []int) []int
	// added is how many ids process adds, which truncation leaves room for.
	added() int
}

// template is TemplateProcessing's single-sequence template; BertProcessing
// and RobertaProcessing are the template "cls $A sep".
type template struct {
	pieces []templatePiece
}

type templatePiece struct {
	sequence bool  // the text's ids go here
	ids      []int // else these special ids
}

func (t *template) process(ids []int) []int {
	out := make([]int, 0, len(ids)+t.added())
	for _, p := range t.pieces {
		if p.sequence {
			out = append(out, ids...)
		} else {
			out = append(out, p.ids...)
		}
	}
	return out
}

func (t *template) added() int {
	n := 0
	for _, p := range t.pieces {
		n += len(p.ids)
	}
	return n
}

type sequenceProcessor []postProcessor

func (seq sequenceProcessor) process(ids []int) []int {
	for _, p := range seq {
		ids = p.process(ids)
	}
	return ids
}

func (seq sequenceProcessor) added() int {
	n := 0
	for _, p := range seq {
		n += p.added()
	}
	return n
}

// identityProcessor is the ByteLevel post-processor: it only adjusts offsets,
// which this package does not keep.
type identityProcessor struct{}

func (identityProcessor) process(ids []int) []int { return ids }
func (identityProcessor) added() int              { return 0 }
