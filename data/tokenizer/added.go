package tokenizer

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// AddedToken is a token matched in the text before anything else runs, as in
// the added_tokens list of tokenizer.json.
type AddedToken struct {
	ID      int    `json:"id"`
	Content string `json:"content"`
	// SingleWord: only match when not inside a word.
	SingleWord bool `json:"single_word"`
	// LStrip, RStrip: the match swallows the whitespace on its left/right.
	LStrip bool `json:"lstrip"`
	RStrip bool `json:"rstrip"`
	// Normalized: match against the normalized text instead of the raw text.
	Normalized bool `json:"normalized"`
	// Special: a control token ([CLS], [MASK]); decoding can skip it.
	Special bool `json:"special"`
}

// A segment is a part of the input: plain text (id < 0) or an added token.
type segment struct {
	start, end int
	id         int
}

// matcher finds added tokens leftmost-longest, like the Aho-Corasick automaton
// HF builds: at the first position where any token matches, the longest one
// wins, and the search goes on after it.
type matcher struct {
	first  [256]bool // bytes that start some token: everything else is skipped fast
	nodes  []trieNode
	tokens []*AddedToken // by pattern index
}

type trieNode struct {
	edges   []trieEdge
	pattern int32 // index into tokens of the token ending here, or -1
}

type trieEdge struct {
	b    byte
	next int32
}

func newMatcher() *matcher {
	return &matcher{nodes: []trieNode{{pattern: -1}}}
}

func (m *matcher) add(pattern string, tok *AddedToken) {
	if pattern == "" {
		return
	}
	m.first[pattern[0]] = true
	n := int32(0)
	for i := 0; i < len(pattern); i++ {
		n = m.child(n, pattern[i], true)
	}
	if m.nodes[n].pattern < 0 { // the first token with this text wins
		m.nodes[n].pattern = int32(len(m.tokens))
		m.tokens = append(m.tokens, tok)
	}
}

func (m *matcher) child(n int32, b byte, create bool) int32 {
	for _, e := range m.nodes[n].edges {
		if e.b == b {
			return e.next
		}
	}
	if !create {
		return -1
	}
	m.nodes = append(m.nodes, trieNode{pattern: -1})
	next := int32(len(m.nodes) - 1)
	m.nodes[n].edges = append(m.nodes[n].edges, trieEdge{b, next})
	return next
}

func (m *matcher) empty() bool { return len(m.tokens) == 0 }

// longestAt returns the end of the longest token that starts at s[i] and its
// token, or -1 and nil.
func (m *matcher) longestAt(s string, i int) (int, *AddedToken) {
	end, tok := -1, (*AddedToken)(nil)
	n := int32(0)
	for j := i; j < len(s); j++ {
		if n = m.child(n, s[j], false); n < 0 {
			break
		}
		if p := m.nodes[n].pattern; p >= 0 {
			end, tok = j+1, m.tokens[p]
		}
	}
	return end, tok
}

// split appends the segments of s: the added tokens found, with their
// single_word, lstrip and rstrip rules applied as HF's find_matches does, and
// the text between them. Empty text segments are left out.
func (m *matcher) split(dst []segment, s string) []segment {
	textStart := 0
	for i := 0; i < len(s); {
		if !m.first[s[i]] {
			i++
			continue
		}
		end, tok := m.longestAt(s, i)
		if tok == nil {
			i++
			continue
		}
		start, stop := i, end
		i = end // the search resumes after the match even if it is discarded
		if tok.SingleWord {
			if start > 0 && endsWithWord(s[:start]) || stop < len(s) && startsWithWord(s[stop:]) {
				continue
			}
		}
		if tok.LStrip {
			start = max(len(strings.TrimRightFunc(s[:start], unicode.IsSpace)), textStart)
		}
		if tok.RStrip {
			stop = len(s) - len(strings.TrimLeftFunc(s[stop:], unicode.IsSpace))
		}
		if textStart < start {
			dst = append(dst, segment{textStart, start, -1})
		}
		dst = append(dst, segment{start, stop, tok.ID})
		textStart = stop
	}
	if textStart < len(s) {
		dst = append(dst, segment{textStart, len(s), -1})
	}
	return dst
}

func endsWithWord(s string) bool {
	r, _ := utf8.DecodeLastRuneInString(s)
	return s != "" && isRustWord(r)
}

func startsWithWord(s string) bool {
	r, _ := utf8.DecodeRuneInString(s)
	return s != "" && isRustWord(r)
}

// addedVocab holds the added tokens and the two matchers HF keeps: one for
// tokens matched in the raw text, one for tokens matched after normalization.
type addedVocab struct {
	tokens    []AddedToken
	byContent map[string]int
	byID      map[int]*AddedToken
	// text is what an id decodes to: the content, normalized for tokens
	// matched after normalization (HF's id_to_token gives "hello" for a
	// normalized "Hello" under a lowercasing normalizer).
	text map[int]string
	raw  *matcher
	norm *matcher
}

func newAddedVocab(tokens []AddedToken, n normalizer) *addedVocab {
	v := &addedVocab{
		tokens:    tokens,
		byContent: make(map[string]int, len(tokens)),
		byID:      make(map[int]*AddedToken, len(tokens)),
		text:      make(map[int]string, len(tokens)),
		raw:       newMatcher(),
		norm:      newMatcher(),
	}
	// HF builds its matchers from the special tokens first, then the others.
	order := make([]*AddedToken, 0, len(tokens))
	for i := range tokens {
		if tokens[i].Special {
			order = append(order, &tokens[i])
		}
	}
	for i := range tokens {
		if !tokens[i].Special {
			order = append(order, &tokens[i])
		}
	}
	for _, t := range order {
		v.byContent[t.Content] = t.ID
		v.byID[t.ID] = t
		v.text[t.ID] = t.Content
		if !t.Normalized {
			v.raw.add(t.Content, t)
			continue
		}
		pattern := t.Content
		if n != nil {
			pattern, _ = n.normalize(pattern)
		}
		v.text[t.ID] = pattern
		v.norm.add(pattern, t)
	}
	return v
}

func (v *addedVocab) isSpecial(tok string) bool {
	id, ok := v.byContent[tok]
	return ok && v.byID[id].Special
}
