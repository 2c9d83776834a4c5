package tokenizer

import (
	"strconv"
	"strings"
	"unicode/utf8"
)

// A decoder turns token strings back into text. Decoders chain: each takes
// the strings the previous one produced, and the final strings are joined.
type decoder interface {
	decodeChain(tokens []string, at chainPos) []string
}

// chainPos says whether the tokens start and end the decoded text. A few
// decoders treat the first or last token specially; DecodeToken renders a
// token as if it stood in the middle of a text.
type chainPos struct {
	start, end bool
	// fused: an earlier decoder joined the tokens into one text, so the
	// first and last tokens now are the text's edges.
	fused bool
}

// byteLevelDecoder maps every character back to its byte and reads the bytes
// as UTF-8, replacing invalid sequences as Rust's from_utf8_lossy does. A
// token with a character outside the byte alphabet ("[CLS]" is fine, "日"
// is not) contributes its UTF-8 bytes unchanged.
type byteLevelDecoder struct{}

func (byteLevelDecoder) decodeChain(tokens []string, _ chainPos) []string {
	var raw []byte
	for _, tok := range tokens {
		start := len(raw)
		mapped := true
		for _, r := range tok {
			b, ok := runeToByte[r]
			if !ok {
				mapped = false
				break
			}
			raw = append(raw, b)
		}
		if !mapped {
			raw = append(raw[:start], tok...)
		}
	}
	return []string{string(appendLossyUTF8(nil, raw))}
}

// wordPieceDecoder glues "##" continuations to the previous token and puts a
// space before every other token; cleanup undoes BERT's spacing around
// punctuation and contractions.
type wordPieceDecoder struct {
	prefix  string
	cleanup bool
}

func (d wordPieceDecoder) decodeChain(tokens []string, at chainPos) []string {
	out := make([]string, len(tokens))
	for i, tok := range tokens {
		if i > 0 || !at.start {
			if strings.HasPrefix(tok, d.prefix) {
				tok = strings.Replace(tok, d.prefix, "", 1)
			} else {
				tok = " " + tok
			}
		}
		if d.cleanup {
			tok = cleanupSpaces(tok)
		}
		out[i] = tok
	}
	return out
}

var cleanupReplacer = []string{" .", ".", " ?", "?", " !", "!", " ,", ",", " ' ", "'",
	" n't", "n't", " 'm", "'m", " do not", " don't", " 's", "'s", " 've", "'ve", " 're", "'re"}

// cleanupSpaces applies the replacements one after another, as HF does.
func cleanupSpaces(s string) string {
	for i := 0; i < len(cleanupReplacer); i += 2 {
		s = strings.ReplaceAll(s, cleanupReplacer[i], cleanupReplacer[i+1])
	}
	return s
}

// metaspaceDecoder turns '▁' back into spaces, dropping them from the first
// token when the pre-tokenizer added one there.
type metaspaceDecoder struct {
	replacement rune
	scheme      int
}

func (d metaspaceDecoder) decodeChain(tokens []string, at chainPos) []string {
	out := make([]string, len(tokens))
	for i, tok := range tokens {
		drop := i == 0 && at.start && d.scheme != prependNever
		var b strings.Builder
		for _, r := range tok {
			if r == d.replacement {
				if drop {
					continue
				}
				r = ' '
			}
			b.WriteRune(r)
		}
		out[i] = b.String()
	}
	return out
}

// bpeDecoder turns the end-of-word suffix into a space (nothing after the last token).
type bpeDecoder struct{ suffix string }

func (d bpeDecoder) decodeChain(tokens []string, at chainPos) []string {
	out := make([]string, len(tokens))
	for i, tok := range tokens {
		rep := " "
		if i == len(tokens)-1 && at.end {
			rep = ""
		}
		out[i] = strings.ReplaceAll(tok, d.suffix, rep)
	}
	return out
}

type replaceDecoder struct{ r replace }

func (d replaceDecoder) decodeChain(tokens []string, _ chainPos) []string {
	out := make([]string, len(tokens))
	for i, tok := range tokens {
		out[i], _ = d.r.normalize(tok)
	}
	return out
}

// stripDecoder removes up to start copies of content from the left of each
// token and up to stop from the right.
type stripDecoder struct {
	content     rune
	start, stop int
}

func (d stripDecoder) decodeChain(tokens []string, at chainPos) []string {
	// After a fuse, stripping the one text's edges only makes sense where
	// they are the decoded text's edges (Llama's "strip the prepended space").
	start, stop := d.start, d.stop
	if at.fused && !at.start {
		start = 0
	}
	if at.fused && !at.end {
		stop = 0
	}
	out := make([]string, len(tokens))
	for i, tok := range tokens {
		chars := []rune(tok)
		lo := 0
		for lo < start && lo < len(chars) && chars[lo] == d.content {
			lo++
		}
		hi := len(chars)
		for k := 0; k < stop && hi > lo && chars[hi-1] == d.content; k++ {
			hi--
		}
		out[i] = string(chars[lo:hi])
	}
	return out
}

type fuseDecoder struct{}

func (fuseDecoder) decodeChain(tokens []string, _ chainPos) []string {
	return []string{strings.Join(tokens, "")}
}

// byteFallbackDecoder turns runs of "<0xXX>" tokens back into text; a run that
// is not valid UTF-8 becomes one U+FFFD per byte.
type byteFallbackDecoder struct{}

func (byteFallbackDecoder) decodeChain(tokens []string, _ chainPos) []string {
	var out []string
	var pending []byte
	flush := func() {
		if len(pending) == 0 {
			return
		}
		if utf8.Valid(pending) {
			out = append(out, string(pending))
		} else {
			for range pending {
				out = append(out, "\uFFFD")
			}
		}
		pending = pending[:0]
	}
	for _, tok := range tokens {
		if len(tok) == 6 && strings.HasPrefix(tok, "<0x") && tok[5] == '>' {
			if b, err := strconv.ParseUint(tok[3:5], 16, 8); err == nil {
				pending = append(pending, byte(b))
				continue
			}
		}
		flush()
		out = append(out, tok)
	}
	flush()
	return out
}

type sequenceDecoder []decoder

func (seq sequenceDecoder) decodeChain(tokens []string, at chainPos) []string {
	for _, d := range seq {
		tokens = d.decodeChain(tokens, at)
		switch d.(type) {
		case fuseDecoder, byteLevelDecoder:
			at.fused = true
		}
	}
	return tokens
}
