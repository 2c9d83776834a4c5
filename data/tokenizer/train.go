package tokenizer

import (
	"bytes"
	"container/heap"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// DefaultSpecials are the special tokens Train puts first, at ids 0..4:
// [PAD] is 0 so that zero-filled id buffers read as padding, then [UNK],
// [CLS], [SEP], [MASK]. ModernBERT's own file has the same five tokens after
// its BPE vocabulary; a model reads the ids from the tokenizer (Specials), so
// only their names matter.
var DefaultSpecials = []string{"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"}

// TrainConfig sets up Train.
type TrainConfig struct {
	// VocabSize is the size of the whole vocabulary: specials, the 256 byte
	// symbols and the merged tokens. Training stops early when no pair occurs
	// MinFrequency times.
	VocabSize int
	// MinFrequency is how often a pair must occur to be merged; 0 means 2.
	MinFrequency int
	// Specials are added as special tokens at ids 0, 1, ...; nil means
	// DefaultSpecials. "[MASK]" gets lstrip (it swallows the space before it,
	// as in ModernBERT), and "[CLS]" and "[SEP]", when present, frame every
	// encoded text.
	Specials []string
	// IsolateSpaces makes every space its own token, so that a word is the
	// same token wherever it stands: "[Answer]\ncloud" and "the cloud" share
	// "cloud". GPT-2's rule glues a space to the next word, which gives a
	// model two unrelated tokens per word to learn; a large model learns the
	// pairs from data, a tiny one trained for minutes does not. The file gets
	// HF's Sequence[Split(" ", Isolated), ByteLevel] pre-tokenizer.
	IsolateSpaces bool
	// SplitDigits makes every digit its own token, as the Llama and Qwen2
	// tokenizers do: "2024" is "2","0","2","4", never one merged token, so
	// a model sees each digit of a number (and numbers it never met are
	// spelled with the ten it knows). The file gets HF's Digits
	// pre-tokenizer with individual_digits true before ByteLevel, after the
	// space split when IsolateSpaces is on. The dllm commands that train a
	// tokenizer turn it on unless told --split-digits=false.
	SplitDigits bool
}

// Train learns a byte-level BPE tokenizer from texts, ModernBERT-style: NFC,
// GPT-2's pre-tokenizer, BERT special tokens, "[CLS] $A [SEP]". It is
// deterministic: the same texts and config give the same tokenizer.
//
// Training follows HF's BpeTrainer: count the words, count adjacent symbol
// pairs weighted by word frequency, then repeatedly merge the most frequent
// pair (ties: the pair of lower ids), updating only the counts of the words
// that contain it.
func Train(texts iter.Seq[string], cfg TrainConfig) (*Tokenizer, error) {
	specials := cfg.Specials
	if specials == nil {
		specials = DefaultSpecials
	}
	if cfg.MinFrequency <= 0 {
		cfg.MinFrequency = 2
	}
	if cfg.VocabSize < len(specials)+256 {
		return nil, fmt.Errorf("vocab size %d is below the %d specials plus 256 byte symbols", cfg.VocabSize, len(specials))
	}
	seen := map[string]bool{}
	for _, s := range specials {
		if s == "" || seen[s] {
			return nil, fmt.Errorf("special token %q is empty or repeated", s)
		}
		seen[s] = true
	}
	counts := countWords(texts, cfg.IsolateSpaces, cfg.SplitDigits)
	if len(counts) == 0 {
		return nil, errors.New("no text to train on")
	}
	tr := newTrainer(specials, counts)
	tr.run(cfg.VocabSize, int64(cfg.MinFrequency))
	data, err := tr.tokenizerJSON(specials, cfg.IsolateSpaces, cfg.SplitDigits)
	if err != nil {
		return nil, err
	}
	return FromJSON(data)
}

// countWords normalizes and pre-tokenizes texts on all cores and counts the
// words (as raw bytes). With isolate, spaces are split off first, as the
// Split pre-tokenizer does before ByteLevel; with digits, every digit is then
// cut out on its own, as the Digits pre-tokenizer does.
func countWords(texts iter.Seq[string], isolate, digits bool) map[string]int64 {
	workers := runtime.GOMAXPROCS(0)
	batches := make(chan []string, workers)
	partial := make([]map[string]int64, workers)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			counts := map[string]int64{}
			var ends []int
			var parts []string
			for batch := range batches {
				for _, text := range batch {
					text = norm.NFC.String(text)
					parts = parts[:0]
					for _, part := range splitSpaces(text, isolate) {
						parts = splitDigits(parts, part, digits)
					}
					for _, part := range parts {
						ends = splitGPT2(ends[:0], part)
						start := 0
						for _, end := range ends {
							word := part[start:end]
							if _, ok := counts[word]; !ok {
								word = strings.Clone(word)
							}
							counts[word]++
							start = end
						}
					}
				}
			}
			partial[w] = counts
		}(w)
	}
	batch := make([]string, 0, 256)
	for text := range texts {
		batch = append(batch, text)
		if len(batch) == cap(batch) {
			batches <- batch
			batch = make([]string, 0, 256)
		}
	}
	batches <- batch
	close(batches)
	wg.Wait()
	total := partial[0]
	for _, m := range partial[1:] {
		for w, c := range m {
			total[w] += c
		}
	}
	return total
}

// splitSpaces cuts text into pieces with each " " a piece of its own (HF's
// Split with behaviour Isolated), or returns the text whole.
func splitSpaces(text string, isolate bool) []string {
	if !isolate || !strings.Contains(text, " ") {
		return []string{text}
	}
	var parts []string
	for {
		i := strings.IndexByte(text, ' ')
		if i < 0 {
			break
		}
		if i > 0 {
			parts = append(parts, text[:i])
		}
		parts = append(parts, " ")
		text = text[i+1:]
	}
	if text != "" {
		parts = append(parts, text)
	}
	return parts
}

// splitDigits appends the pieces of text with every numeric character (HF's
// Digits: Rust's char::is_numeric, Go's unicode.IsNumber) a piece of its own,
// or text whole.
func splitDigits(dst []string, text string, on bool) []string {
	if !on {
		return append(dst, text)
	}
	last := 0
	for i, r := range text {
		if unicode.IsNumber(r) {
			if last < i {
				dst = append(dst, text[last:i])
			}
			last = i + utf8.RuneLen(r)
			dst = append(dst, text[i:last])
		}
	}
	if last < len(text) {
		dst = append(dst, text[last:])
	}
	return dst
}

type trainWord struct {
	syms  []int32
	count int64
}

type trainer struct {
	tokens []string // by id: specials, byte symbols, merged tokens (byte-level spelling)
	ids    map[string]int32
	merges [][2]int32
	words  []trainWord
	pairs  map[uint64]int64   // pair -> weighted count
	where  map[uint64][]int32 // pair -> words that may contain it
	queue  pairQueue
}

func newTrainer(specials []string, counts map[string]int64) *trainer {
	tr := &trainer{pairs: map[uint64]int64{}, where: map[uint64][]int32{}, ids: map[string]int32{}}
	for _, s := range specials {
		tr.ids[s] = int32(len(tr.tokens))
		tr.tokens = append(tr.tokens, s)
	}
	// The byte symbols in code point order, as HF's trainer sorts its alphabet.
	order := make([]int, 256)
	for i := range order {
		order[i] = i
	}
	sort.Slice(order, func(i, j int) bool { return byteToRune[order[i]] < byteToRune[order[j]] })
	var byteID [256]int32
	for _, b := range order {
		byteID[b] = int32(len(tr.tokens))
		tr.ids[byteToUTF8[b]] = byteID[b]
		tr.tokens = append(tr.tokens, byteToUTF8[b])
	}
	words := make([]string, 0, len(counts))
	for w := range counts {
		words = append(words, w)
	}
	slices.Sort(words)
	for i, w := range words {
		syms := make([]int32, len(w))
		for k := 0; k < len(w); k++ {
			syms[k] = byteID[w[k]]
		}
		tr.words = append(tr.words, trainWord{syms, counts[w]})
		for k := 0; k+1 < len(syms); k++ {
			p := pairKey(syms[k], syms[k+1])
			tr.pairs[p] += counts[w]
			tr.noteWhere(p, int32(i))
		}
	}
	for p, c := range tr.pairs {
		tr.queue = append(tr.queue, queuedPair{p, c})
	}
	heap.Init(&tr.queue)
	return tr
}

// noteWhere records that word i contains pair p (once per run of additions).
func (tr *trainer) noteWhere(p uint64, i int32) {
	ws := tr.where[p]
	if n := len(ws); n == 0 || ws[n-1] != i {
		tr.where[p] = append(ws, i)
	}
}

func (tr *trainer) run(vocabSize int, minFreq int64) {
	for len(tr.tokens) < vocabSize && tr.queue.Len() > 0 {
		top := heap.Pop(&tr.queue).(queuedPair)
		if cur := tr.pairs[top.pair]; cur != top.count {
			if cur > 0 {
				heap.Push(&tr.queue, queuedPair{top.pair, cur})
			}
			continue
		}
		if top.count < minFreq {
			break
		}
		a, b := int32(top.pair>>32), int32(uint32(top.pair))
		// Two pairs can spell the same token ("ab"+"c", "a"+"bc"): it keeps one id.
		merged := tr.tokens[a] + tr.tokens[b]
		id, ok := tr.ids[merged]
		if !ok {
			id = int32(len(tr.tokens))
			tr.ids[merged] = id
			tr.tokens = append(tr.tokens, merged)
		}
		tr.merges = append(tr.merges, [2]int32{a, b})
		touched := map[uint64]bool{}
		for _, wi := range tr.where[top.pair] {
			tr.mergeWord(wi, a, b, id, touched)
		}
		delete(tr.where, top.pair)
		delete(tr.pairs, top.pair)
		// Pairs with the new token are the only ones whose counts grew.
		keys := make([]uint64, 0, len(touched))
		for p := range touched {
			keys = append(keys, p)
		}
		slices.Sort(keys)
		for _, p := range keys {
			if c := tr.pairs[p]; c > 0 {
				heap.Push(&tr.queue, queuedPair{p, c})
			}
		}
	}
}

// mergeWord replaces every (a, b) in word wi, left to right, by id and moves
// the word's pair counts from the old symbols to the new ones.
func (tr *trainer) mergeWord(wi int32, a, b, id int32, touched map[uint64]bool) {
	w := &tr.words[wi]
	syms := w.syms
	found := false
	for k := 0; k+1 < len(syms); k++ {
		if syms[k] == a && syms[k+1] == b {
			found = true
			break
		}
	}
	if !found {
		return
	}
	for k := 0; k+1 < len(syms); k++ {
		p := pairKey(syms[k], syms[k+1])
		if tr.pairs[p] -= w.count; tr.pairs[p] <= 0 {
			delete(tr.pairs, p)
		}
	}
	out := syms[:0]
	for k := 0; k < len(syms); k++ {
		if k+1 < len(syms) && syms[k] == a && syms[k+1] == b {
			out = append(out, id)
			k++
			continue
		}
		out = append(out, syms[k])
	}
	w.syms = out
	for k := 0; k+1 < len(out); k++ {
		p := pairKey(out[k], out[k+1])
		tr.pairs[p] += w.count
		if out[k] == id || out[k+1] == id {
			tr.noteWhere(p, wi)
			touched[p] = true
		}
	}
}

// queuedPair is a pair with the count it had when queued.
type queuedPair struct {
	pair  uint64
	count int64
}

// pairQueue is a max-heap by count; ties go to the lower pair of ids.
type pairQueue []queuedPair

func (q pairQueue) Len() int { return len(q) }
func (q pairQueue) Less(i, j int) bool {
	if q[i].count != q[j].count {
		return q[i].count > q[j].count
	}
	return q[i].pair < q[j].pair
}
func (q pairQueue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *pairQueue) Push(x any)   { *q = append(*q, x.(queuedPair)) }
func (q *pairQueue) Pop() any {
	old := *q
	x := old[len(old)-1]
	*q = old[:len(old)-1]
	return x
}

// tokenizerJSON writes the trained tokenizer in HF's format.
func (tr *trainer) tokenizerJSON(specials []string, isolateSpaces, splitDigits bool) ([]byte, error) {
	type added struct {
		ID         int    `json:"id"`
		Content    string `json:"content"`
		SingleWord bool   `json:"single_word"`
		LStrip     bool   `json:"lstrip"`
		RStrip     bool   `json:"rstrip"`
		Normalized bool   `json:"normalized"`
		Special    bool   `json:"special"`
	}
	var addedTokens []added
	for id, s := range specials {
		addedTokens = append(addedTokens, added{ID: id, Content: s, LStrip: s == "[MASK]", Special: true})
	}
	type piece map[string]any
	var single []piece
	specialTokens := map[string]any{}
	frame := func(name string) {
		for id, s := range specials {
			if s == name {
				single = append(single, piece{"SpecialToken": map[string]any{"id": s, "type_id": 0}})
				specialTokens[s] = map[string]any{"id": s, "ids": []int{id}, "tokens": []string{s}}
			}
		}
	}
	frame("[CLS]")
	single = append(single, piece{"Sequence": map[string]any{"id": "A", "type_id": 0}})
	frame("[SEP]")
	pair := append([]piece(nil), single...)
	pair = append(pair, piece{"Sequence": map[string]any{"id": "B", "type_id": 1}})
	if _, ok := specialTokens["[SEP]"]; ok {
		pair = append(pair, piece{"SpecialToken": map[string]any{"id": "[SEP]", "type_id": 1}})
	}
	byteLevel := map[string]any{"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": true}
	var pre []any
	if isolateSpaces {
		pre = append(pre, map[string]any{"type": "Split", "pattern": map[string]string{"String": " "}, "behavior": "Isolated", "invert": false})
	}
	if splitDigits {
		pre = append(pre, map[string]any{"type": "Digits", "individual_digits": true})
	}
	var preTokenizer any = byteLevel
	if len(pre) > 0 {
		preTokenizer = map[string]any{"type": "Sequence", "pretokenizers": append(pre, byteLevel)}
	}

	// The vocabulary in id order, which Go's map encoding would not keep.
	var vocab bytes.Buffer
	vocab.WriteByte('{')
	for id, tok := range tr.tokens {
		if id > 0 {
			vocab.WriteByte(',')
		}
		k, err := json.Marshal(tok)
		if err != nil {
			return nil, err
		}
		fmt.Fprintf(&vocab, "%s:%d", k, id)
	}
	vocab.WriteByte('}')
	merges := make([][2]string, len(tr.merges))
	for i, m := range tr.merges {
		merges[i] = [2]string{tr.tokens[m[0]], tr.tokens[m[1]]}
	}
	model := struct {
		Type         string          `json:"type"`
		Dropout      *float64        `json:"dropout"`
		UnkToken     *string         `json:"unk_token"`
		Prefix       *string         `json:"continuing_subword_prefix"`
		Suffix       *string         `json:"end_of_word_suffix"`
		FuseUnk      bool            `json:"fuse_unk"`
		ByteFallback bool            `json:"byte_fallback"`
		IgnoreMerges bool            `json:"ignore_merges"`
		Vocab        json.RawMessage `json:"vocab"`
		Merges       [][2]string     `json:"merges"`
	}{Type: "BPE", Vocab: vocab.Bytes(), Merges: merges}

	var post any
	if len(specialTokens) > 0 {
		post = map[string]any{"type": "TemplateProcessing", "single": single, "pair": pair, "special_tokens": specialTokens}
	}
	file := struct {
		Version       string  `json:"version"`
		Truncation    any     `json:"truncation"`
		Padding       any     `json:"padding"`
		AddedTokens   []added `json:"added_tokens"`
		Normalizer    any     `json:"normalizer"`
		PreTokenizer  any     `json:"pre_tokenizer"`
		PostProcessor any     `json:"post_processor"`
		Decoder       any     `json:"decoder"`
		Model         any     `json:"model"`
	}{"1.0", nil, nil, addedTokens, map[string]string{"type": "NFC"}, preTokenizer, post, byteLevel, model}
	return json.Marshal(file)
}
