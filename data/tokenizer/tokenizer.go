package tokenizer

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/dllmgo/dllm/internal/atomicfile"
)

// A model turns one word into ids.
type model interface {
	tokenize(st *encodeState, word string, dst []int) []int
	tokenToID(tok string) (int, bool)
	idToToken(id int) (string, bool)
	vocabSize() int // the model's largest id + 1
	typeName() string
}

// Tokenizer encodes text to token ids and decodes ids to text exactly as the
// Hugging Face tokenizer described by the same tokenizer.json. It is safe for
// concurrent use, except SetTruncation and SetPadding.
type Tokenizer struct {
	model      model
	normalizer normalizer     // nil: none
	pre        []preTokenizer // empty: each text segment is one word
	post       postProcessor  // nil: none
	decoder    decoder        // nil: tokens joined by spaces
	added      *addedVocab
	truncation *Truncation
	padding    *Padding

	// rawBytes: the last pre-tokenizer is ByteLevel and the BPE model reads its
	// words as raw bytes (bpe.tokenizeBytes).
	rawBytes bool
	// gpt2Only: the whole pre-tokenizer is one ByteLevel with the GPT-2 regex,
	// the common case, run without intermediate piece lists.
	gpt2Only bool

	raw    fileJSON          // the sections as loaded, for MarshalJSON
	states chan *encodeState // free list of worker states
}

// Load reads a tokenizer.json file (gzip-compressed files are recognised).
func Load(path string) (*Tokenizer, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if len(data) > 2 && data[0] == 0x1f && data[1] == 0x8b {
		zr, err := gzip.NewReader(bytes.NewReader(data))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		if data, err = io.ReadAll(zr); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
	}
	t, err := FromJSON(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return t, nil
}

// FromJSON builds a tokenizer from the contents of a tokenizer.json. A
// component type this package does not implement is an error naming it.
func FromJSON(data []byte) (*Tokenizer, error) {
	var f fileJSON
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("tokenizer.json: %w", err)
	}
	t := &Tokenizer{raw: f, states: make(chan *encodeState, runtime.GOMAXPROCS(0))}
	var err error
	if isNull(f.Model) {
		return nil, errors.New("tokenizer.json: no model")
	}
	if t.model, err = parseModel(f.Model); err != nil {
		return nil, fmt.Errorf("model: %w", err)
	}
	if !isNull(f.Normalizer) {
		if t.normalizer, err = parseNormalizer(f.Normalizer); err != nil {
			return nil, fmt.Errorf("normalizer: %w", err)
		}
	}
	if !isNull(f.PreTokenizer) {
		if t.pre, err = parsePreTokenizer(nil, f.PreTokenizer); err != nil {
			return nil, fmt.Errorf("pre_tokenizer: %w", err)
		}
	}
	if !isNull(f.PostProcessor) {
		if t.post, err = parsePostProcessor(f.PostProcessor); err != nil {
			return nil, fmt.Errorf("post_processor: %w", err)
		}
	}
	if !isNull(f.Decoder) {
		if t.decoder, err = parseDecoder(f.Decoder); err != nil {
			return nil, fmt.Errorf("decoder: %w", err)
		}
	}
	var added []AddedToken
	if !isNull(f.AddedTokens) {
		if err := json.Unmarshal(f.AddedTokens, &added); err != nil {
			return nil, fmt.Errorf("added_tokens: %w", err)
		}
	}
	t.added = newAddedVocab(added, t.normalizer)
	if !isNull(f.Truncation) {
		t.truncation = new(Truncation)
		if err := json.Unmarshal(f.Truncation, t.truncation); err != nil {
			return nil, fmt.Errorf("truncation: %w", err)
		}
	}
	if !isNull(f.Padding) {
		t.padding = new(Padding)
		if err := json.Unmarshal(f.Padding, t.padding); err != nil {
			return nil, fmt.Errorf("padding: %w", err)
		}
	}
	// Byte-level BPE: let the model read raw bytes when ByteLevel comes last.
	if m, ok := t.model.(*bpe); ok && len(t.pre) > 0 && m.canTokenizeBytes() {
		if bl, ok := t.pre[len(t.pre)-1].(*byteLevelPre); ok {
			bl.rawBytes = true
			t.rawBytes = true
			t.gpt2Only = len(t.pre) == 1 && bl.useRegex && !bl.addPrefixSpace
		}
	}
	return t, nil
}

// Encode returns the ids of text. With addSpecial the post-processor's
// framing ("[CLS] ... [SEP]") is added. Truncation and padding from the
// tokenizer.json apply, as in HF.
func (t *Tokenizer) Encode(text string, addSpecial bool) []int {
	st := t.state()
	ids := t.encodeText(st, text, nil)
	t.release(st)
	ids = t.finish(ids, addSpecial)
	if t.padding != nil {
		ids = t.padding.pad(ids, len(ids))
	}
	return ids
}

// EncodeBatch encodes texts in parallel over GOMAXPROCS goroutines. With
// padding set to the batch's longest, every row is padded to the longest row.
func (t *Tokenizer) EncodeBatch(texts []string, addSpecial bool) [][]int {
	out := make([][]int, len(texts))
	var next atomic.Int64
	workers := min(runtime.GOMAXPROCS(0), len(texts))
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			st := t.state()
			defer t.release(st)
			for {
				i := int(next.Add(1) - 1)
				if i >= len(texts) {
					return
				}
				out[i] = t.finish(t.encodeText(st, texts[i], nil), addSpecial)
			}
		}()
	}
	wg.Wait()
	if t.padding != nil {
		longest := 0
		for _, ids := range out {
			longest = max(longest, len(ids))
		}
		for i := range out {
			out[i] = t.padding.pad(out[i], longest)
		}
	}
	return out
}

// finish truncates ids (leaving room for the specials) and adds the specials.
func (t *Tokenizer) finish(ids []int, addSpecial bool) []int {
	added := 0
	if addSpecial && t.post != nil {
		added = t.post.added()
	}
	if t.truncation != nil {
		ids = t.truncation.truncate(ids, max(t.truncation.MaxLength-added, 0))
	}
	if addSpecial && t.post != nil {
		ids = t.post.process(ids)
	}
	return ids
}

// encodeText appends the ids of text, without specials: added tokens, then
// per remaining segment normalizer, added tokens matched after normalization,
// pre-tokenizer and model.
func (t *Tokenizer) encodeText(st *encodeState, text string, dst []int) []int {
	segs := st.segments[:0]
	if t.added.raw.empty() {
		if text != "" {
			segs = append(segs, segment{0, len(text), -1})
		}
	} else {
		segs = t.added.raw.split(segs, text)
	}
	st.segments = segs
	for _, seg := range segs {
		if seg.id >= 0 {
			dst = append(dst, seg.id)
			continue
		}
		s := text[seg.start:seg.end]
		first := seg.start == 0
		if t.normalizer != nil {
			var cut bool
			s, cut = t.normalizer.normalize(s)
			first = first && !cut
		}
		if t.added.norm.empty() {
			dst = t.encodeWords(st, piece{s, first}, dst)
			continue
		}
		inner := t.added.norm.split(st.inner[:0], s)
		st.inner = inner
		for _, in := range inner {
			if in.id >= 0 {
				dst = append(dst, in.id)
				continue
			}
			dst = t.encodeWords(st, piece{s[in.start:in.end], first && in.start == 0}, dst)
		}
	}
	return dst
}

// encodeWords pre-tokenizes p and appends the model's ids for each word.
func (t *Tokenizer) encodeWords(st *encodeState, p piece, dst []int) []int {
	if p.text == "" {
		return dst
	}
	if t.gpt2Only {
		m := t.model.(*bpe)
		st.ends = splitGPT2(st.ends[:0], p.text)
		start := 0
		for _, end := range st.ends {
			dst = m.tokenizeBytes(st, p.text[start:end], dst)
			start = end
		}
		return dst
	}
	if len(t.pre) == 0 {
		return t.model.tokenize(st, p.text, dst)
	}
	pieces := append(st.pieces[:0], p)
	spare := st.pieces2[:0]
	for _, step := range t.pre {
		spare = spare[:0]
		for _, q := range pieces {
			spare = step.split(st, spare, q)
		}
		pieces, spare = spare, pieces
	}
	st.pieces, st.pieces2 = pieces, spare
	if t.rawBytes {
		m := t.model.(*bpe)
		for _, q := range pieces {
			dst = m.tokenizeBytes(st, q.text, dst)
		}
		return dst
	}
	for _, q := range pieces {
		dst = t.model.tokenize(st, q.text, dst)
	}
	return dst
}

// Decode returns the text of ids. Unknown ids are skipped; with skipSpecial
// so are special added tokens.
func (t *Tokenizer) Decode(ids []int, skipSpecial bool) string {
	toks := make([]string, 0, len(ids))
	for _, id := range ids {
		tok, ok := t.IDToToken(id)
		if !ok || skipSpecial && t.added.isSpecial(tok) {
			continue
		}
		toks = append(toks, tok)
	}
	if t.decoder == nil {
		return strings.Join(toks, " ")
	}
	return strings.Join(t.decoder.decodeChain(toks, chainPos{start: true, end: true}), "")
}

// DecodeToken renders one token as display text, the way it reads in the
// middle of a decoded text: "Ġworld" is " world", "##ing" is "ing", a
// special token is itself. A byte-level token holding part of a multi-byte
// character shows U+FFFD. Unknown ids give "".
func (t *Tokenizer) DecodeToken(id int) string {
	tok, ok := t.IDToToken(id)
	if !ok {
		return ""
	}
	if _, added := t.added.byID[id]; added || t.decoder == nil {
		return tok
	}
	return strings.Join(t.decoder.decodeChain([]string{tok}, chainPos{}), "")
}

// TokenToID returns the id of a token string (added tokens first).
func (t *Tokenizer) TokenToID(tok string) (int, bool) {
	if id, ok := t.added.byContent[tok]; ok {
		return id, true
	}
	return t.model.tokenToID(tok)
}

// IDToToken returns the token string of an id (added tokens first, a
// normalized added token in its normalized form, as HF gives it).
func (t *Tokenizer) IDToToken(id int) (string, bool) {
	if text, ok := t.added.text[id]; ok {
		return text, true
	}
	return t.model.idToToken(id)
}

// VocabSize is the largest id, added tokens included, plus one: the number
// of rows an embedding table needs.
func (t *Tokenizer) VocabSize() int {
	n := t.model.vocabSize()
	for id := range t.added.byID {
		n = max(n, id+1)
	}
	return n
}

// AddedTokens returns a copy of the added tokens, in file order.
func (t *Tokenizer) AddedTokens() []AddedToken {
	return append([]AddedToken(nil), t.added.tokens...)
}

// SpecialID returns the id of a special added token ("[MASK]").
func (t *Tokenizer) SpecialID(name string) (int, bool) {
	id, ok := t.added.byContent[name]
	if !ok || !t.added.byID[id].Special {
		return -1, false
	}
	return id, true
}

// Specials holds the ids of the special tokens a model needs; -1 where the
// tokenizer has none.
type Specials struct {
	Pad, Unk, Cls, Sep, Mask int
}

// Specials finds the special tokens by their usual names: BERT's ([PAD],
// [UNK], [CLS], [SEP], [MASK]) first, then RoBERTa's and others' (<pad>,
// <unk>, <s>, </s>, <mask>).
func (t *Tokenizer) Specials() Specials {
	find := func(names ...string) int {
		for _, n := range names {
			if id, ok := t.SpecialID(n); ok {
				return id
			}
		}
		return -1
	}
	return Specials{
		Pad:  find("[PAD]", "<pad>", "<|pad|>", "<|padding|>"),
		Unk:  find("[UNK]", "<unk>", "<|unk|>"),
		Cls:  find("[CLS]", "<s>", "<cls>", "<|begin_of_text|>"),
		Sep:  find("[SEP]", "</s>", "<sep>", "<|end_of_text|>"),
		Mask: find("[MASK]", "<mask>", "<|mask|>"),
	}
}

// ModelType names the model: "BPE", "WordPiece" or "WordLevel".
func (t *Tokenizer) ModelType() string { return t.model.typeName() }

// Truncation returns a copy of the truncation settings, or nil.
func (t *Tokenizer) Truncation() *Truncation {
	if t.truncation == nil {
		return nil
	}
	c := *t.truncation
	return &c
}

// SetTruncation replaces the truncation settings (nil: none). Not safe while
// other goroutines encode.
func (t *Tokenizer) SetTruncation(tr *Truncation) {
	if tr == nil {
		t.truncation, t.raw.Truncation = nil, nil
		return
	}
	c := *tr
	t.truncation = &c
	t.raw.Truncation, _ = json.Marshal(&c)
}

// Padding returns a copy of the padding settings, or nil.
func (t *Tokenizer) Padding() *Padding {
	if t.padding == nil {
		return nil
	}
	c := *t.padding
	return &c
}

// SetPadding replaces the padding settings (nil: none). Not safe while other
// goroutines encode.
func (t *Tokenizer) SetPadding(p *Padding) {
	if p == nil {
		t.padding, t.raw.Padding = nil, nil
		return
	}
	c := *p
	t.padding = &c
	t.raw.Padding, _ = json.Marshal(&c)
}

// MarshalJSON writes the tokenizer as tokenizer.json, sections in HF's order.
func (t *Tokenizer) MarshalJSON() ([]byte, error) {
	orNull := func(r json.RawMessage) json.RawMessage {
		if isNull(r) {
			return json.RawMessage("null")
		}
		return r
	}
	f := t.raw
	if isNull(f.Version) {
		f.Version = json.RawMessage(`"1.0"`)
	}
	if isNull(f.AddedTokens) {
		f.AddedTokens = json.RawMessage("[]")
	}
	var buf bytes.Buffer
	buf.WriteString("{")
	for i, kv := range []struct {
		key string
		val json.RawMessage
	}{
		{"version", f.Version}, {"truncation", f.Truncation}, {"padding", f.Padding},
		{"added_tokens", f.AddedTokens}, {"normalizer", f.Normalizer}, {"pre_tokenizer", f.PreTokenizer},
		{"post_processor", f.PostProcessor}, {"decoder", f.Decoder}, {"model", f.Model},
	} {
		if i > 0 {
			buf.WriteString(",")
		}
		fmt.Fprintf(&buf, "%q:", kv.key)
		buf.Write(orNull(kv.val))
	}
	buf.WriteString("}")
	return buf.Bytes(), nil
}

// Save writes the tokenizer.json atomically (a temporary file, fsync, rename),
// indented for reading.
func (t *Tokenizer) Save(path string) error {
	data, err := t.MarshalJSON()
	if err != nil {
		return err
	}
	var out bytes.Buffer
	if err := json.Indent(&out, data, "", "  "); err != nil {
		return err
	}
	out.WriteByte('\n')
	return atomicfile.WriteBytes(path, out.Bytes(), 0o644)
}
