package tokenizer

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// A piece is a stretch of normalized text on its way to becoming a word.
type piece struct {
	text string
	// first marks the piece that starts at offset 0 of the original input
	// (the Metaspace pre-tokenizer's "first" prepend scheme asks).
	first bool
}

// A preTokenizer splits a piece into smaller ones, appending them to dst.
// Empty pieces are never appended.
type preTokenizer interface {
	split(st *encodeState, dst []piece, p piece) []piece
}

// A span is a part of a piece's text found by a split pattern: match says
// whether it is a delimiter.
type span struct {
	start, end int
	match      bool
}

// splitBehavior says what becomes of the delimiters a pattern finds.
type splitBehavior int

const (
	behaviorRemoved            splitBehavior = iota // dropped
	behaviorIsolated                                // pieces of their own
	behaviorMergedWithPrevious                      // glued to the piece before
	behaviorMergedWithNext                          // glued to the piece after
	behaviorContiguous                              // adjacent delimiters form one piece
)

// cut appends the pieces of p that spans and behavior make, following the
// rules of HF's NormalizedString::split.
func cut(dst []piece, p piece, spans []span, b splitBehavior) []piece {
	emit := func(start, end int) {
		if start < end {
			dst = append(dst, piece{text: p.text[start:end], first: p.first && start == 0})
		}
	}
	switch b {
	case behaviorRemoved:
		for _, s := range spans {
			if !s.match {
				emit(s.start, s.end)
			}
		}
	case behaviorIsolated:
		for _, s := range spans {
			emit(s.start, s.end)
		}
	case behaviorContiguous, behaviorMergedWithPrevious:
		// Grow the current piece while the rule says to merge.
		start, end, open, prevMatch := 0, 0, false, false
		for _, s := range spans {
			merge := open && (b == behaviorContiguous && s.match == prevMatch ||
				b == behaviorMergedWithPrevious && s.match && !prevMatch)
			if merge {
				end = s.end
			} else {
				if open {
					emit(start, end)
				}
				start, end, open = s.start, s.end, true
			}
			prevMatch = s.match
		}
		if open {
			emit(start, end)
		}
	case behaviorMergedWithNext:
		// The mirror image of MergedWithPrevious: walk from the end.
		var bounds [][2]int
		start, end, open, nextMatch := 0, 0, false, false
		for i := len(spans) - 1; i >= 0; i-- {
			s := spans[i]
			if open && s.match && !nextMatch {
				start = s.start
			} else {
				if open {
					bounds = append(bounds, [2]int{start, end})
				}
				start, end, open = s.start, s.end, true
			}
			nextMatch = s.match
		}
		if open {
			bounds = append(bounds, [2]int{start, end})
		}
		for i := len(bounds) - 1; i >= 0; i-- {
			emit(bounds[i][0], bounds[i][1])
		}
	}
	return dst
}

// charSpans marks each character of s for which isDelim holds as a delimiter
// of its own; the characters between delimiters form one span each.
func charSpans(dst []span, s string, isDelim func(rune) bool) []span {
	last := 0
	for i, r := range s {
		if isDelim(r) {
			if last < i {
				dst = append(dst, span{last, i, false})
			}
			n := utf8.RuneLen(r)
			if n < 0 {
				n = 1
			}
			dst = append(dst, span{i, i + n, true})
			last = i + n
		}
	}
	if last < len(s) {
		dst = append(dst, span{last, len(s), false})
	}
	return dst
}

// byteLevelPre is GPT-2's pre-tokenizer: optionally a leading space, the GPT-2
// regex split, then every byte spelled as its byte-level character.
type byteLevelPre struct {
	addPrefixSpace bool
	useRegex       bool
	// rawBytes leaves pieces as raw bytes for a BPE model that reads them
	// directly (set when this is the last pre-tokenizer); the spelling is
	// implied, never built.
	rawBytes bool
}

func (b *byteLevelPre) split(st *encodeState, dst []piece, p piece) []piece {
	s := p.text
	if b.addPrefixSpace && !strings.HasPrefix(s, " ") {
		s = " " + s
	}
	add := func(text string, first bool) {
		if !b.rawBytes {
			text = string(appendByteLevel(st.spell[:0], text))
		}
		dst = append(dst, piece{text: text, first: first})
	}
	if !b.useRegex {
		if s != "" {
			add(s, p.first)
		}
		return dst
	}
	st.ends = splitGPT2(st.ends[:0], s)
	start := 0
	for _, end := range st.ends {
		add(s[start:end], p.first && start == 0)
		start = end
	}
	return dst
}

// bertPre splits on whitespace (dropped) and isolates every punctuation mark.
type bertPre struct{}

func (bertPre) split(_ *encodeState, dst []piece, p piece) []piece {
	s := p.text
	start := -1
	flush := func(end int) {
		if start >= 0 && start < end {
			dst = append(dst, piece{text: s[start:end], first: p.first && start == 0})
		}
		start = -1
	}
	for i, r := range s {
		switch {
		case unicode.IsSpace(r):
			flush(i)
		case isBertPunct(r):
			flush(i)
			n := utf8.RuneLen(r)
			dst = append(dst, piece{text: s[i : i+n], first: p.first && i == 0})
		default:
			if start < 0 {
				start = i
			}
		}
	}
	flush(len(s))
	return dst
}

// isBertPunct is ASCII punctuation ("$", "+", "^" included) or Unicode category P.
func isBertPunct(r rune) bool {
	if r < utf8.RuneSelf {
		return r >= 33 && r <= 47 || r >= 58 && r <= 64 || r >= 91 && r <= 96 || r >= 123 && r <= 126
	}
	return unicode.IsPunct(r)
}

// whitespacePre keeps runs of word characters and runs of other non-space
// characters (the regex \w+|[^\w\s]+), dropping whitespace.
type whitespacePre struct{}

func (whitespacePre) split(_ *encodeState, dst []piece, p piece) []piece {
	s := p.text
	const none, word, other = 0, 1, 2
	kind, start := none, 0
	for i, r := range s {
		k := other
		switch {
		case isRustWord(r):
			k = word
		case unicode.IsSpace(r):
			k = none
		}
		if k != kind {
			if kind != none {
				dst = append(dst, piece{text: s[start:i], first: p.first && start == 0})
			}
			kind, start = k, i
		}
	}
	if kind != none {
		dst = append(dst, piece{text: s[start:], first: p.first && start == 0})
	}
	return dst
}

// isRustWord is the Unicode \w of Rust's regex crate: alphabetic, marks,
// decimal digits, connector punctuation and the joiners.
func isRustWord(r rune) bool {
	if r < utf8.RuneSelf {
		return r == '_' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z'
	}
	return unicode.IsLetter(r) || unicode.In(r, unicode.M, unicode.Nd, unicode.Nl, unicode.Pc, unicode.Other_Alphabetic) ||
		r == 0x200C || r == 0x200D
}

// whitespaceSplitPre splits on whitespace, dropping it.
type whitespaceSplitPre struct{}

func (whitespaceSplitPre) split(_ *encodeState, dst []piece, p piece) []piece {
	s := p.text
	start := -1
	for i, r := range s {
		if unicode.IsSpace(r) {
			if start >= 0 {
				dst = append(dst, piece{text: s[start:i], first: p.first && start == 0})
				start = -1
			}
		} else if start < 0 {
			start = i
		}
	}
	if start >= 0 {
		dst = append(dst, piece{text: s[start:], first: p.first && start == 0})
	}
	return dst
}

// charSplitPre splits at characters chosen by a predicate (Punctuation,
// Digits, CharDelimiterSplit).
type charSplitPre struct {
	isDelim  func(rune) bool
	behavior splitBehavior
}

func (c *charSplitPre) split(_ *encodeState, dst []piece, p piece) []piece {
	spans := charSpans(nil, p.text, c.isDelim)
	return cut(dst, p, spans, c.behavior)
}

// splitPre is HF's Split: delimiters are the matches of a literal string or a
// regex; invert makes the matches the kept parts instead.
type splitPre struct {
	literal  string
	re       *onigRegex // nil for a literal
	behavior splitBehavior
	invert   bool
}

func (sp *splitPre) split(_ *encodeState, dst []piece, p piece) []piece {
	var spans []span
	if sp.re != nil {
		spans = sp.re.spans(nil, p.text)
	} else {
		spans = literalSpans(nil, p.text, sp.literal)
	}
	if sp.invert {
		for i := range spans {
			spans[i].match = !spans[i].match
		}
	}
	return cut(dst, p, spans, sp.behavior)
}

func literalSpans(dst []span, s, lit string) []span {
	if lit == "" {
		return append(dst, span{0, len(s), false})
	}
	last := 0
	for {
		k := strings.Index(s[last:], lit)
		if k < 0 {
			break
		}
		a := last + k
		if last < a {
			dst = append(dst, span{last, a, false})
		}
		dst = append(dst, span{a, a + len(lit), true})
		last = a + len(lit)
	}
	if last < len(s) {
		dst = append(dst, span{last, len(s), false})
	}
	return dst
}

// Metaspace prepend schemes: when to put the replacement before a piece.
const (
	prependAlways = iota
	prependFirst  // only before the piece at the very start of the input
	prependNever
)

// metaspacePre is SentencePiece's convention: spaces become '▁', a '▁' is put
// in front, and every '▁' starts a new word.
type metaspacePre struct {
	replacement string
	scheme      int
	splitWords  bool
}

func (m *metaspacePre) split(_ *encodeState, dst []piece, p piece) []piece {
	s := strings.ReplaceAll(p.text, " ", m.replacement)
	if !strings.HasPrefix(s, m.replacement) &&
		(m.scheme == prependAlways || m.scheme == prependFirst && p.first) {
		s = m.replacement + s
	}
	q := piece{text: s, first: p.first}
	if !m.splitWords {
		if s != "" {
			dst = append(dst, q)
		}
		return dst
	}
	r, _ := utf8.DecodeRuneInString(m.replacement)
	spans := charSpans(nil, s, func(c rune) bool { return c == r })
	return cut(dst, q, spans, behaviorMergedWithNext)
}
