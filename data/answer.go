package data

import (
	"strings"
	"unicode"
)

// NormalizeAnswer is the one form in which dllm compares a generated answer
// with a reference (dllm eval, the samples sft prints, dllm demo, the
// synthetic tasks): the words of s joined by single spaces, so leading,
// trailing and repeated whitespace (newlines included) does not count.
func NormalizeAnswer(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// SameAnswer reports whether a generated answer matches a reference,
// ignoring how the words are spaced (NormalizeAnswer).
func SameAnswer(got, want string) bool {
	return NormalizeAnswer(got) == NormalizeAnswer(want)
}

// CutEndMarker cuts a generated answer at its template's end-of-turn marker
// (BERT's "[/Answer]") and drops what a sampler leaves of a marker it did
// not write whole, then trims the surrounding whitespace. The token-level
// cut (mdlm.CutAnswer) stops only at the marker's exact tokens, so a
// temperature sample that wrote "[/Answer" before the padding, or an
// ancestral one that wrote "AnswerAnswer]", kept that text. Dropped at the
// end, repeatedly:
//   - a prefix of the marker of two characters or more ("[/", "[/Answer"),
//     glued to the word before it or not;
//   - a last word made only of pieces of the marker (each of two characters
//     or more) that holds one of the marker's punctuation characters and
//     three of its letters in a row ("Answer]", "AnswerAnswer]", "/Answer]").
//
// A word of the answer that merely shares letters or a bracket with the
// marker ("Answer", "[1, 2]", "r]") stays.
func CutEndMarker(text, marker string) string {
	if marker == "" {
		return strings.TrimSpace(text)
	}
	if i := strings.Index(text, marker); i >= 0 {
		text = text[:i]
	}
	for {
		text = strings.TrimRightFunc(text, unicode.IsSpace)
		cut := false
		for k := len(marker) - 1; k >= 2; k-- {
			if strings.HasSuffix(text, marker[:k]) {
				text, cut = text[:len(text)-k], true
				break
			}
		}
		if cut {
			continue
		}
		w := text[strings.LastIndexFunc(text, unicode.IsSpace)+1:]
		if w == "" || !markerDebris(w, marker) {
			return strings.TrimSpace(text)
		}
		text = text[:len(text)-len(w)]
	}
}

// markerDebris reports whether w is made of pieces of marker (each of two
// bytes or more) and holds one of marker's punctuation characters and a run
// of three of its letters.
func markerDebris(w, marker string) bool {
	punct, letters := false, false
	for _, r := range w {
		if !unicode.IsLetter(r) && !unicode.IsDigit(r) && strings.ContainsRune(marker, r) {
			punct = true
		}
	}
	for i := 0; i+3 <= len(w) && !letters; i++ {
		run := w[i : i+3]
		letters = strings.Contains(marker, run) && strings.IndexFunc(run, func(r rune) bool { return !unicode.IsLetter(r) }) < 0
	}
	if !punct || !letters {
		return false
	}
	// ok[i]: w[:i] splits into pieces of marker of two bytes or more.
	ok := make([]bool, len(w)+1)
	ok[0] = true
	for i := 2; i <= len(w); i++ {
		for j := 0; j <= i-2 && !ok[i]; j++ {
			ok[i] = ok[j] && strings.Contains(marker, w[j:i])
		}
	}
	return ok[len(w)]
}
