package tokenizer

import (
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// A normalizer rewrites text before it is split into words. It also reports
// whether it removed the text's first character, because the Metaspace
// pre-tokenizer's "first" scheme asks whether a piece starts at offset 0 of
// the original text.
type normalizer interface {
	normalize(s string) (out string, cutFront bool)
}

type unicodeForm struct{ form norm.Form }

func (n unicodeForm) normalize(s string) (string, bool) { return n.form.String(s), false }

type lowercase struct{}

func (lowercase) normalize(s string) (string, bool) { return toLowerRust(s), false }

// toLowerRust lowercases each character the way Rust's char::to_lowercase
// does. Go's unicode.ToLower agrees except for 'İ' (U+0130), whose full
// lowercase is two characters.
func toLowerRust(s string) string {
	ascii := true
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= utf8.RuneSelf {
			ascii = false
			break
		}
	}
	if ascii {
		return strings.ToLower(s)
	}
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		if r == 'İ' {
			b.WriteString("i\u0307")
			continue
		}
		b.WriteRune(unicode.ToLower(r))
	}
	return b.String()
}

type strip struct{ left, right bool }

func (n strip) normalize(s string) (string, bool) {
	out := s
	if n.left {
		out = strings.TrimLeftFunc(out, unicode.IsSpace)
	}
	cut := len(out) < len(s)
	if n.right {
		out = strings.TrimRightFunc(out, unicode.IsSpace)
	}
	return out, cut
}

type stripAccents struct{}

// The StripAccents normalizer drops every combining mark (category M), while
// BertNormalizer drops only nonspacing ones (Mn), keeping spacing marks such
// as Devanagari vowel signs: two different predicates in HF, kept apart here.
func (stripAccents) normalize(s string) (string, bool) { return removeMarks(s, unicode.M) }

// removeMarks drops the characters of the given mark category.
func removeMarks(s string, marks *unicode.RangeTable) (string, bool) {
	var b strings.Builder
	cut := false
	for i, r := range s {
		if r >= 0x300 && unicode.Is(marks, r) {
			if b.Len() == 0 && i == 0 {
				cut = true
			}
			continue
		}
		b.WriteRune(r)
	}
	return b.String(), cut
}

type prepend struct{ text string }

func (n prepend) normalize(s string) (string, bool) {
	if s == "" {
		return s, false
	}
	return n.text + s, false
}

// replace substitutes content for every match of a literal string or regex.
type replace struct {
	literal string
	re      *regexp.Regexp // nil for a literal
	content string
}

func (n replace) normalize(s string) (string, bool) {
	if n.re == nil {
		if n.literal == "" {
			return s, false
		}
		cut := n.content == "" && strings.HasPrefix(s, n.literal)
		return strings.ReplaceAll(s, n.literal, n.content), cut
	}
	cut := false
	if n.content == "" {
		if loc := n.re.FindStringIndex(s); loc != nil && loc[0] == 0 && loc[1] > 0 {
			cut = true
		}
	}
	return n.re.ReplaceAllLiteralString(s, n.content), cut
}

type sequenceNormalizer []normalizer

func (seq sequenceNormalizer) normalize(s string) (string, bool) {
	cut := false
	for _, n := range seq {
		var c bool
		s, c = n.normalize(s)
		cut = cut || c
	}
	return s, cut
}

// byteLevelNormalizer spells every byte as its byte-level character.
type byteLevelNormalizer struct{}

func (byteLevelNormalizer) normalize(s string) (string, bool) {
	return string(appendByteLevel(nil, s)), false
}

// bertNormalizer is BERT's cleanup: drop control characters and turn
// whitespace into spaces, put spaces around CJK ideographs, strip accents,
// lowercase.
type bertNormalizer struct {
	cleanText, chineseChars, stripAccents, lowercase bool
}

func (n bertNormalizer) normalize(s string) (string, bool) {
	cut := false
	if n.cleanText || n.chineseChars {
		var b strings.Builder
		b.Grow(len(s) + 8)
		for i, r := range s {
			if n.cleanText {
				if r == 0 || r == utf8.RuneError || isBertControl(r) {
					if i == 0 {
						cut = true
					}
					continue
				}
				if r == '\t' || r == '\n' || r == '\r' || unicode.IsSpace(r) {
					r = ' '
				}
			}
			if n.chineseChars && isCJK(r) {
				b.WriteByte(' ')
				b.WriteRune(r)
				b.WriteByte(' ')
				continue
			}
			b.WriteRune(r)
		}
		s = b.String()
	}
	if n.stripAccents {
		var c bool
		s, c = removeMarks(norm.NFD.String(s), unicode.Mn)
		cut = cut || c
	}
	if n.lowercase {
		s = toLowerRust(s)
	}
	return s, cut
}

// isBertControl is Rust's char::is_other (categories Cc, Cf, Co, Cs and
// unassigned) minus tab, newline and carriage return, which BERT counts as
// whitespace.
func isBertControl(r rune) bool {
	if r == '\t' || r == '\n' || r == '\r' {
		return false
	}
	if r < utf8.RuneSelf {
		return r < 0x20 || r == 0x7F
	}
	if unicode.In(r, unicode.Cc, unicode.Cf, unicode.Co, unicode.Cs) {
		return true
	}
	return !unicode.In(r, unicode.L, unicode.M, unicode.N, unicode.P, unicode.S, unicode.Z)
}

// isCJK reports whether r is in a CJK Unified Ideographs block, as BERT defines it.
func isCJK(r rune) bool {
	return (r >= 0x4E00 && r <= 0x9FFF) || (r >= 0x3400 && r <= 0x4DBF) ||
		(r >= 0x20000 && r <= 0x2A6DF) || (r >= 0x2A700 && r <= 0x2B73F) ||
		(r >= 0x2B740 && r <= 0x2B81F) || (r >= 0x2B820 && r <= 0x2CEAF) ||
		(r >= 0xF900 && r <= 0xFAFF) || (r >= 0x2F800 && r <= 0x2FA1F)
}
