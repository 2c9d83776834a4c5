package data

// Pretraining reads a corpus as one long stream of tokens: each document followed
// by a separator (the reference appends the end-of-sequence token, which for BERT
// is [PAD]), cut into rows of a fixed length in which every token is supervised.
// The tail shorter than a row is dropped, as the reference does by default.

// AppendDocument appends doc and then sep to stream, unless doc already ends with
// sep; a negative sep appends none.
func AppendDocument(stream []int32, doc []int, sep int) []int32 {
	for _, id := range doc {
		stream = append(stream, int32(id))
	}
	if sep >= 0 && (len(doc) == 0 || doc[len(doc)-1] != sep) {
		stream = append(stream, int32(sep))
	}
	return stream
}

// Packer cuts a stream of documents into rows of SeqLen tokens as they arrive.
type Packer struct {
	seqLen, sep int
	buf         []int32
}

// NewPacker returns a Packer for rows of seqLen tokens joined by sep (negative:
// no separator).
func NewPacker(seqLen, sep int) *Packer {
	if seqLen < 1 {
		panic("data: NewPacker needs seqLen >= 1")
	}
	return &Packer{seqLen: seqLen, sep: sep}
}

// Add appends a document and returns the rows it completed (fresh slices).
func (p *Packer) Add(doc []int) [][]int32 {
	p.buf = AppendDocument(p.buf, doc, p.sep)
	var rows [][]int32
	for len(p.buf) >= p.seqLen {
		rows = append(rows, append([]int32(nil), p.buf[:p.seqLen]...))
		p.buf = p.buf[p.seqLen:]
	}
	// Move the short remainder to the front so buf does not grow without bound.
	p.buf = append(p.buf[:0:0], p.buf...)
	return rows
}

// Tail returns the tokens not yet in a row (dropped by default).
func (p *Packer) Tail() []int32 { return p.buf }

// Pack cuts documents into rows of seqLen tokens joined by sep, dropping the tail.
func Pack(docs [][]int, seqLen, sep int) [][]int32 {
	p := NewPacker(seqLen, sep)
	var rows [][]int32
	for _, d := range docs {
		rows = append(rows, p.Add(d)...)
	}
	return rows
}

// PretrainBatch stacks rows of equal length into a batch in which every token is
// supervised (labels equal inputs, no prompt).
func PretrainBatch(rows [][]int32) Batch {
	b := Batch{B: len(rows), PromptLens: make([]int, len(rows))}
	if len(rows) > 0 {
		b.S = len(rows[0])
	}
	b.InputIDs = make([]int32, 0, b.B*b.S)
	for _, r := range rows {
		if len(r) != b.S {
			panic("data: PretrainBatch rows differ in length")
		}
		b.InputIDs = append(b.InputIDs, r...)
	}
	b.Labels = append([]int32(nil), b.InputIDs...)
	return b
}
