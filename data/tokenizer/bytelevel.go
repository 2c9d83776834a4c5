package tokenizer

import (
	"unicode"
	"unicode/utf8"
)

// Byte-level BPE works on bytes, but its vocabulary is stored as text. GPT-2
// maps each of the 256 byte values to a printable character: the bytes that are
// already printable (and not a space) stand for themselves, the other 68 are
// shifted to U+0100 and up in increasing order, so a space is 'Ġ' (U+0120) and
// a newline 'Ċ' (U+010A).
var (
	byteToRune [256]rune
	runeToByte = map[rune]byte{}
	// byteToUTF8 holds the UTF-8 encoding of byteToRune, to map text quickly.
	byteToUTF8 [256]string
)

func init() {
	printable := func(b int) bool {
		return (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF)
	}
	shift := 0
	for b := 0; b < 256; b++ {
		r := rune(b)
		if !printable(b) {
			r = rune(256 + shift)
			shift++
		}
		byteToRune[b] = r
		runeToByte[r] = byte(b)
		byteToUTF8[b] = string(r)
	}
}

// appendByteLevel appends the byte-level spelling of s (one character per byte).
func appendByteLevel(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		dst = append(dst, byteToUTF8[s[i]]...)
	}
	return dst
}

// Character classes of GPT-2's split regex
//
//	's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
//
// where \s is Unicode White_Space (Oniguruma's \s, which HF uses).
const (
	classOther uint8 = iota
	classSpace
	classLetter
	classNumber
)

var asciiClass [utf8.RuneSelf]uint8

func init() {
	for c := 0; c < utf8.RuneSelf; c++ {
		r := rune(c)
		switch {
		case unicode.IsSpace(r):
			asciiClass[c] = classSpace
		case unicode.IsLetter(r):
			asciiClass[c] = classLetter
		case unicode.IsNumber(r):
			asciiClass[c] = classNumber
		}
	}
}

// classAt returns the class of the character starting at s[i] and its size.
// Invalid UTF-8 counts as one byte of classOther.
func classAt(s string, i int) (uint8, int) {
	if c := s[i]; c < utf8.RuneSelf {
		return asciiClass[c], 1
	}
	r, n := utf8.DecodeRuneInString(s[i:])
	switch {
	case unicode.IsLetter(r):
		return classLetter, n
	case unicode.IsNumber(r):
		return classNumber, n
	case unicode.IsSpace(r):
		return classSpace, n
	}
	return classOther, n
}

// runEnd returns the end of the run of characters of class cls that starts at i.
func runEnd(s string, i int, cls uint8) int {
	for i < len(s) {
		c, n := classAt(s, i)
		if c != cls {
			break
		}
		i += n
	}
	return i
}

// contractionLen returns the length of the English contraction suffix at the
// start of s ("s", "t", "re", "ve", "m", "ll", "d"), or 0. s follows an apostrophe.
func contractionLen(s string) int {
	if len(s) == 0 {
		return 0
	}
	switch s[0] {
	case 's', 't', 'm', 'd':
		return 1
	case 'r', 'v':
		if len(s) > 1 && s[1] == 'e' {
			return 2
		}
	case 'l':
		if len(s) > 1 && s[1] == 'l' {
			return 2
		}
	}
	return 0
}

// splitGPT2 appends to dst the end offsets of the pieces GPT-2's regex cuts s
// into. The pieces cover s without gaps, so the ends alone describe them.
//
// The regex's one feature RE2 lacks is \s+(?!\S): a run of whitespace that is
// followed by a non-space gives up its last character, which then joins the
// next word as its optional leading space (" world"). A run that ends the input
// is kept whole.
func splitGPT2(dst []int, s string) []int {
	i := 0
	for i < len(s) {
		c := s[i]
		if c == '\'' {
			if n := contractionLen(s[i+1:]); n > 0 {
				i += 1 + n
				dst = append(dst, i)
				continue
			}
		}
		cls, size := classAt(s, i)
		if c == ' ' && i+1 < len(s) {
			// " ?\p{L}+", " ?\p{N}+" and " ?[^\s\p{L}\p{N}]+" take one leading space.
			if next, n := classAt(s, i+1); next != classSpace {
				i = runEnd(s, i+1+n, next)
				dst = append(dst, i)
				continue
			}
		}
		if cls != classSpace {
			i = runEnd(s, i+size, cls)
			dst = append(dst, i)
			continue
		}
		// A whitespace run.
		end := runEnd(s, i+size, classSpace)
		if end < len(s) {
			// Followed by a non-space: leave the run's last character for the next piece.
			_, lastSize := utf8.DecodeLastRuneInString(s[i:end])
			if last := end - lastSize; last > i {
				end = last
			}
		}
		i = end
		dst = append(dst, i)
	}
	return dst
}

// appendLossyUTF8 appends b to dst as valid UTF-8 the way Rust's
// String::from_utf8_lossy does: each maximal prefix of a would-be valid
// sequence that breaks off becomes one U+FFFD.
func appendLossyUTF8(dst []byte, b []byte) []byte {
	for i := 0; i < len(b); {
		if b[i] < utf8.RuneSelf {
			dst = append(dst, b[i])
			i++
			continue
		}
		r, n := utf8.DecodeRune(b[i:])
		if r != utf8.RuneError || n > 1 {
			dst = append(dst, b[i:i+n]...)
			i += n
			continue
		}
		dst = append(dst, "\uFFFD"...)
		i += invalidPrefixLen(b[i:])
	}
	return dst
}

// invalidPrefixLen returns how many bytes of the ill-formed sequence at the
// start of b one replacement character stands for (at least 1): the lead byte
// and the continuation bytes that were still valid for it.
func invalidPrefixLen(b []byte) int {
	lead := b[0]
	var need int
	lo, hi := byte(0x80), byte(0xBF) // allowed range of the first continuation byte
	switch {
	case lead >= 0xC2 && lead <= 0xDF:
		need = 1
	case lead == 0xE0:
		need, lo = 2, 0xA0
	case lead >= 0xE1 && lead <= 0xEC, lead == 0xEE, lead == 0xEF:
		need = 2
	case lead == 0xED:
		need, hi = 2, 0x9F
	case lead == 0xF0:
		need, lo = 3, 0x90
	case lead >= 0xF1 && lead <= 0xF3:
		need = 3
	case lead == 0xF4:
		need, hi = 3, 0x8F
	default:
		return 1
	}
	n := 1
	for k := 0; k < need && n < len(b); k++ {
		c := b[n]
		if k == 0 && (c < lo || c > hi) || k > 0 && (c < 0x80 || c > 0xBF) {
			break
		}
		n++
	}
	return n
}
