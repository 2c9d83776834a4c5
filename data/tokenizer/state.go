package tokenizer

import "strings"

// encodeState is one worker's scratch space: reusable buffers and a cache of
// word encodings. A Tokenizer keeps a few in a free list so that concurrent
// encodes never share one and the hot path takes no lock.
type encodeState struct {
	segments []segment
	inner    []segment
	pieces   []piece
	pieces2  []piece
	ends     []int
	syms     []int32
	ranks    []uint64
	queue    []queuedMerge
	spell    []byte // a word spelled out (byte-level characters, prefix + symbol)
	text     []byte // scratch for pre-tokenizers that rewrite text

	// The word cache maps a word to a span of arena: offset<<32 | length. One
	// arena instead of a slice per word keeps the garbage collector idle.
	cache map[string]uint64
	arena []int
}

// cacheWords bounds the word cache (HF's holds 10k words and then stops
// adding). When it is full it is emptied and refills with the words in use
// now. 64k words cover the working vocabulary of most corpora in a few MB per
// worker.
const cacheWords = 1 << 16

func newEncodeState() *encodeState {
	return &encodeState{cache: make(map[string]uint64, 1024)}
}

func (st *encodeState) cached(word string) ([]int, bool) {
	span, ok := st.cache[word]
	if !ok {
		return nil, false
	}
	off, n := span>>32, span&0xFFFFFFFF
	return st.arena[off : off+n], true
}

func (st *encodeState) remember(word string, ids []int) {
	if len(st.cache) >= cacheWords {
		clear(st.cache)
		st.arena = st.arena[:0]
	}
	off := len(st.arena)
	st.arena = append(st.arena, ids...)
	st.cache[strings.Clone(word)] = uint64(off)<<32 | uint64(len(ids))
}

// state takes a worker state from the free list, or makes one.
func (t *Tokenizer) state() *encodeState {
	select {
	case st := <-t.states:
		return st
	default:
		return newEncodeState()
	}
}

// release returns st to the free list, or drops it when the list is full.
func (t *Tokenizer) release(st *encodeState) {
	select {
	case t.states <- st:
	default:
	}
}
