package tokenizer

import (
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"unicode/utf8"
)

// bpe is the byte-pair-encoding model: a word starts as one symbol per
// character and the adjacent pair with the lowest merge rank is merged until no
// listed pair is left.
type bpe struct {
	vocab   map[string]int
	idToTok []string // by id; "" where no token has the id
	// merges maps a pair of ids (left<<32 | right) to rank<<32 | merged id, so
	// comparing two values orders them by rank.
	merges map[uint64]uint64

	unkToken     string // "" when there is none
	prefix       string // continuing_subword_prefix, put before every symbol but the first
	suffix       string // end_of_word_suffix, put after the last symbol
	fuseUnk      bool
	byteFallback bool
	ignoreMerges bool // a word that is itself in the vocabulary is not split

	// byteID[b] is the id of the byte-level character of byte b, or -1: the
	// fast path for byte-level words that skips spelling them out.
	byteID [256]int32
	// fallbackID[b] is the id of "<0xXX>" for byte_fallback, or -1.
	fallbackID [256]int32
}

const noMerge = math.MaxUint64

func pairKey(a, b int32) uint64 { return uint64(uint32(a))<<32 | uint64(uint32(b)) }

func (m *bpe) typeName() string { return "BPE" }

func (m *bpe) tokenToID(tok string) (int, bool) {
	id, ok := m.vocab[tok]
	return id, ok
}

func (m *bpe) idToToken(id int) (string, bool) {
	if id < 0 || id >= len(m.idToTok) {
		return "", false
	}
	tok := m.idToTok[id]
	if tok == "" {
		_, ok := m.vocab[""]
		return "", ok && m.vocab[""] == id
	}
	return tok, true
}

func (m *bpe) vocabSize() int { return len(m.idToTok) }

// initTables fills the lookup tables derived from vocab.
func (m *bpe) initTables() {
	m.idToTok = buildIDToToken(m.vocab)
	for b := 0; b < 256; b++ {
		m.byteID[b], m.fallbackID[b] = -1, -1
		if id, ok := m.vocab[byteToUTF8[b]]; ok {
			m.byteID[b] = int32(id)
		}
		if id, ok := m.vocab[fmt.Sprintf("<0x%02X>", b)]; ok {
			m.fallbackID[b] = int32(id)
		}
	}
}

// canTokenizeBytes reports whether words may be given as raw bytes that stand
// for their byte-level spelling (tokenizeBytes): every byte has a symbol and no
// prefix or suffix changes the initial symbols.
func (m *bpe) canTokenizeBytes() bool {
	if m.prefix != "" || m.suffix != "" {
		return false
	}
	for _, id := range m.byteID {
		if id < 0 {
			return false
		}
	}
	return true
}

// maxCachedWord is the longest word kept in the cache, in bytes; longer words
// are rare and would crowd out the common ones.
const maxCachedWord = 256

// tokenize appends the ids of word, spelled in the vocabulary's characters.
func (m *bpe) tokenize(st *encodeState, word string, dst []int) []int {
	if word == "" {
		return dst
	}
	if m.ignoreMerges {
		if id, ok := m.vocab[word]; ok {
			return append(dst, id)
		}
	}
	if ids, ok := st.cached(word); ok {
		return append(dst, ids...)
	}
	syms := m.initialSymbols(st, word)
	syms = m.mergeAll(st, syms)
	start := len(dst)
	for _, id := range syms {
		dst = append(dst, int(id))
	}
	if len(word) <= maxCachedWord {
		st.remember(word, dst[start:])
	}
	return dst
}

// tokenizeBytes appends the ids of the word whose byte-level spelling is the
// raw bytes of word. It gives what tokenize gives for that spelling without
// building it. Only valid when canTokenizeBytes.
func (m *bpe) tokenizeBytes(st *encodeState, word string, dst []int) []int {
	if word == "" {
		return dst
	}
	if ids, ok := st.cached(word); ok {
		return append(dst, ids...)
	}
	if m.ignoreMerges {
		st.spell = appendByteLevel(st.spell[:0], word)
		if id, ok := m.vocab[string(st.spell)]; ok {
			return append(dst, id)
		}
	}
	syms := st.syms[:0]
	for i := 0; i < len(word); i++ {
		syms = append(syms, m.byteID[word[i]])
	}
	syms = m.mergeAll(st, syms)
	st.syms = syms
	start := len(dst)
	for _, id := range syms {
		dst = append(dst, int(id))
	}
	if len(word) <= maxCachedWord {
		st.remember(word, dst[start:])
	}
	return dst
}

// initialSymbols splits word into one symbol per character, as HF's
// merge_word does: the prefix goes before every character but the first, the
// suffix after the last; a character missing from the vocabulary becomes its
// "<0xXX>" byte tokens when byte_fallback allows, else the unknown token
// (consecutive unknowns fused into one when fuse_unk), else nothing.
func (m *bpe) initialSymbols(st *encodeState, word string) []int32 {
	syms := st.syms[:0]
	unkID, hasUnk := -1, false
	if m.unkToken != "" {
		unkID, hasUnk = m.vocab[m.unkToken]
	}
	pendingUnk := false
	for i := 0; i < len(word); {
		_, n := utf8.DecodeRuneInString(word[i:])
		sym := word[i : i+n]
		first, last := i == 0, i+n == len(word)
		i += n
		if (!first && m.prefix != "") || (last && m.suffix != "") {
			b := st.spell[:0]
			if !first {
				b = append(b, m.prefix...)
			}
			b = append(b, sym...)
			if last {
				b = append(b, m.suffix...)
			}
			st.spell = b
			sym = string(b)
		}
		if id, ok := m.vocab[sym]; ok {
			if pendingUnk {
				syms = append(syms, int32(unkID))
				pendingUnk = false
			}
			syms = append(syms, int32(id))
			continue
		}
		if m.byteFallback && m.allBytesKnown(sym) {
			// HF emits the bytes without first flushing a pending unknown.
			for k := 0; k < len(sym); k++ {
				syms = append(syms, m.fallbackID[sym[k]])
			}
			continue
		}
		if hasUnk {
			if pendingUnk && !m.fuseUnk {
				syms = append(syms, int32(unkID))
			}
			pendingUnk = true
		}
	}
	if pendingUnk {
		syms = append(syms, int32(unkID))
	}
	st.syms = syms
	return syms
}

func (m *bpe) allBytesKnown(s string) bool {
	for k := 0; k < len(s); k++ {
		if m.fallbackID[s[k]] < 0 {
			return false
		}
	}
	return true
}

// scanMergeLimit is the longest word merged by rescanning its pairs after
// every merge (quadratic, but fastest for the short words of real text);
// longer words go through a priority queue.
const scanMergeLimit = 48

// mergeAll applies merges to syms in rank order, leftmost first among equal
// ranks, and returns the merged symbols (reusing syms' storage).
func (m *bpe) mergeAll(st *encodeState, syms []int32) []int32 {
	if len(syms) < 2 {
		return syms
	}
	if len(syms) > scanMergeLimit {
		return m.mergeWithQueue(st, syms)
	}
	// ranks[i] is the merge of the pair (syms[i], syms[i+1]).
	ranks := st.ranks[:0]
	for i := 0; i+1 < len(syms); i++ {
		ranks = append(ranks, m.mergeOf(syms[i], syms[i+1]))
	}
	for {
		best, bestMerge := -1, uint64(noMerge)
		for i, r := range ranks {
			if r < bestMerge {
				best, bestMerge = i, r
			}
		}
		if best < 0 {
			break
		}
		syms[best] = int32(uint32(bestMerge))
		syms = append(syms[:best+1], syms[best+2:]...)
		ranks = append(ranks[:best], ranks[best+1:]...)
		if best > 0 {
			ranks[best-1] = m.mergeOf(syms[best-1], syms[best])
		}
		if best < len(ranks) {
			ranks[best] = m.mergeOf(syms[best], syms[best+1])
		}
	}
	st.ranks = ranks
	return syms
}

func (m *bpe) mergeOf(a, b int32) uint64 {
	if v, ok := m.merges[pairKey(a, b)]; ok {
		return v
	}
	return noMerge
}

// queuedMerge is a candidate merge of the symbol at pos with its right neighbour.
type queuedMerge struct {
	merge uint64 // rank<<32 | merged id
	pos   int32
}

func (a queuedMerge) less(b queuedMerge) bool {
	if r1, r2 := a.merge>>32, b.merge>>32; r1 != r2 {
		return r1 < r2
	}
	return a.pos < b.pos
}

// mergeWithQueue is mergeAll for long words: symbols form a linked list and
// candidate merges wait in a min-heap ordered by (rank, position). An entry
// whose pair has changed since it was queued is skipped when popped.
func (m *bpe) mergeWithQueue(st *encodeState, syms []int32) []int32 {
	n := len(syms)
	prev, next := make([]int32, n), make([]int32, n)
	alive := make([]bool, n)
	heap := st.queue[:0]
	push := func(q queuedMerge) {
		heap = append(heap, q)
		for i := len(heap) - 1; i > 0; {
			p := (i - 1) / 2
			if !heap[i].less(heap[p]) {
				break
			}
			heap[i], heap[p] = heap[p], heap[i]
			i = p
		}
	}
	pop := func() queuedMerge {
		top := heap[0]
		last := len(heap) - 1
		heap[0] = heap[last]
		heap = heap[:last]
		for i := 0; ; {
			l, r, small := 2*i+1, 2*i+2, i
			if l < len(heap) && heap[l].less(heap[small]) {
				small = l
			}
			if r < len(heap) && heap[r].less(heap[small]) {
				small = r
			}
			if small == i {
				break
			}
			heap[i], heap[small] = heap[small], heap[i]
			i = small
		}
		return top
	}
	for i := range syms {
		prev[i], next[i], alive[i] = int32(i-1), int32(i+1), true
		if i+1 < n {
			if v := m.mergeOf(syms[i], syms[i+1]); v != noMerge {
				push(queuedMerge{v, int32(i)})
			}
		}
	}
	for len(heap) > 0 {
		top := pop()
		pos := top.pos
		right := next[pos]
		if !alive[pos] || int(right) >= n {
			continue
		}
		if m.mergeOf(syms[pos], syms[right]) != top.merge {
			continue // stale: one side has merged since
		}
		syms[pos] = int32(uint32(top.merge))
		alive[right] = false
		next[pos] = next[right]
		if int(next[pos]) < n {
			prev[next[pos]] = pos
		}
		if p := prev[pos]; p >= 0 {
			if v := m.mergeOf(syms[p], syms[pos]); v != noMerge {
				push(queuedMerge{v, p})
			}
		}
		if nx := next[pos]; int(nx) < n {
			if v := m.mergeOf(syms[pos], syms[nx]); v != noMerge {
				push(queuedMerge{v, pos})
			}
		}
	}
	st.queue = heap
	out := syms[:0]
	for i := 0; i < n; i++ {
		if alive[i] {
			out = append(out, syms[i])
		}
	}
	return out
}

// parseMerges reads model.merges in either spelling: legacy "a b" strings or
// ["a", "b"] pairs. Rank is the position in the list.
//
// With a continuing_subword_prefix the merged token drops the right symbol's
// prefix ("un" + "##do" = "undo"). A pair listed twice keeps its last rank, as
// HF's map does.
func parseMerges(raw json.RawMessage, vocab map[string]int, prefix string) (map[uint64]uint64, error) {
	var pairs [][2]string
	if !isNull(raw) {
		var legacy []string
		if err := json.Unmarshal(raw, &legacy); err == nil {
			for i, line := range legacy {
				if strings.HasPrefix(line, "#version") {
					continue
				}
				a, b, ok := strings.Cut(line, " ")
				if !ok {
					return nil, fmt.Errorf("merge %d %q: want two symbols separated by a space", i, line)
				}
				pairs = append(pairs, [2]string{a, b})
			}
		} else if err := json.Unmarshal(raw, &pairs); err != nil {
			return nil, fmt.Errorf("merges: want \"a b\" strings or [\"a\", \"b\"] pairs: %v", err)
		}
	}
	merges := make(map[uint64]uint64, len(pairs))
	for rank, p := range pairs {
		a, b := p[0], p[1]
		ia, ok1 := vocab[a]
		ib, ok2 := vocab[b]
		im, ok3 := vocab[a+strings.TrimPrefix(b, prefix)]
		if !ok1 || !ok2 || !ok3 {
			return nil, fmt.Errorf("merge %d (%q, %q): symbol not in vocabulary", rank, a, b)
		}
		merges[pairKey(int32(ia), int32(ib))] = uint64(rank)<<32 | uint64(uint32(im))
	}
	return merges, nil
}

// buildIDToToken inverts a vocabulary into a slice indexed by id.
func buildIDToToken(vocab map[string]int) []string {
	n := 0
	for _, id := range vocab {
		if id+1 > n {
			n = id + 1
		}
	}
	out := make([]string, n)
	for tok, id := range vocab {
		if id >= 0 {
			out[id] = tok
		}
	}
	return out
}
