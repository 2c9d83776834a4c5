package tokenizer

import (
	"fmt"
	"regexp"
	"strings"
	"unicode/utf8"
)

// HF compiles the regexes of tokenizer.json with Oniguruma. Go's RE2 reads the
// same syntax for what tokenizers use, with three differences this file
// bridges:
//   - Oniguruma's \s, \d and \w are Unicode-aware, RE2's are ASCII: they are
//     rewritten to the Unicode classes Oniguruma means.
//   - RE2 has no lookaround. The one lookahead tokenizers use, the final
//     alternatives "\s+(?!\S)|\s+" of GPT-2-style patterns, is emulated: the
//     pattern ends in a marked \s+ group and a whitespace match that stops
//     before a non-space gives back its last character (see onigRegex.spans).
//     Any other lookaround is an error.
//   - Searching restarts at each match's end, as Oniguruma's iteration does.

// Unicode White_Space, which is what Oniguruma's \s matches.
const onigSpaceClass = `\t\n\v\f\r\x{85}\p{Z}`

// onigShorthand is what \s, \d and \w mean to Oniguruma, as class contents.
var onigShorthand = map[byte]string{'s': onigSpaceClass, 'd': `\p{Nd}`, 'w': `\p{L}\p{M}\p{Nd}\p{Pc}`}

const lookaheadTail = `\s+(?!\S)|\s+`

type onigRegex struct {
	re *regexp.Regexp
	// wsGroup is the index of the marked \s+ group, or -1.
	wsGroup int
}

func compileOnig(pattern string) (*onigRegex, error) {
	body, marked := pattern, false
	if strings.HasSuffix(pattern, lookaheadTail) {
		prefix := strings.TrimSuffix(pattern, lookaheadTail)
		if prefix == "" || strings.HasSuffix(prefix, "|") && topLevel(prefix) {
			body, marked = prefix, true
		}
	}
	translated, err := translateOnig(body)
	if err != nil {
		return nil, err
	}
	if marked {
		translated += `(?P<trailingspace>[` + onigSpaceClass + `]+)`
	}
	re, err := regexp.Compile(translated)
	if err != nil {
		return nil, fmt.Errorf("regex %q: %v", pattern, err)
	}
	r := &onigRegex{re: re, wsGroup: -1}
	if marked {
		r.wsGroup = re.SubexpIndex("trailingspace")
	}
	return r, nil
}

// topLevel reports whether s leaves no group open, so that a "|" after it
// separates top-level alternatives.
func topLevel(s string) bool {
	depth, inClass := 0, false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\\':
			i++
		case inClass:
			if c == ']' {
				inClass = false
			}
		case c == '[':
			inClass = true
		case c == '(':
			depth++
		case c == ')':
			depth--
		}
	}
	return depth == 0 && !inClass
}

// translateOnig rewrites Oniguruma's Unicode shorthands for RE2.
func translateOnig(p string) (string, error) {
	var b strings.Builder
	inClass := false
	for i := 0; i < len(p); i++ {
		c := p[i]
		switch {
		case c == '\\' && i+1 < len(p):
			e := p[i+1]
			i++
			switch e {
			case 's', 'd', 'w':
				if inClass {
					b.WriteString(onigShorthand[e])
				} else {
					b.WriteString("[" + onigShorthand[e] + "]")
				}
			case 'S', 'D', 'W':
				if inClass {
					return "", fmt.Errorf("regex %q: \\%c inside a character class is not supported", p, e)
				}
				b.WriteString("[^" + onigShorthand[e+('a'-'A')] + "]")
			default:
				b.WriteByte('\\')
				b.WriteByte(e)
			}
		case inClass:
			if c == ']' {
				inClass = false
			}
			b.WriteByte(c)
		case c == '[':
			inClass = true
			b.WriteByte(c)
			// A ']' right after '[' or '[^' is a literal.
			if i+1 < len(p) && p[i+1] == '^' {
				b.WriteByte('^')
				i++
			}
			if i+1 < len(p) && p[i+1] == ']' {
				b.WriteString(`\]`)
				i++
			}
		case strings.HasPrefix(p[i:], "(?=") || strings.HasPrefix(p[i:], "(?!") ||
			strings.HasPrefix(p[i:], "(?<=") || strings.HasPrefix(p[i:], "(?<!"):
			return "", fmt.Errorf("regex %q: lookaround is not supported (only a final %s)", p, lookaheadTail)
		default:
			b.WriteByte(c)
		}
	}
	return b.String(), nil
}

// spans appends the matches of r in s, and the stretches between them.
func (r *onigRegex) spans(dst []span, s string) []span {
	last, pos := 0, 0
	for pos <= len(s) {
		loc := r.re.FindStringSubmatchIndex(s[pos:])
		if loc == nil {
			break
		}
		a, b := pos+loc[0], pos+loc[1]
		if g := r.wsGroup; g >= 0 && loc[2*g] >= 0 && b < len(s) {
			// \s+(?!\S): a whitespace run followed by a non-space keeps all
			// but its last character (a run of one is left to plain \s+).
			if _, n := utf8.DecodeLastRuneInString(s[a:b]); b-n > a {
				b -= n
			}
		}
		if last < a {
			dst = append(dst, span{last, a, false})
		}
		dst = append(dst, span{a, b, true})
		last = b
		if b > a {
			pos = b
			continue
		}
		if b >= len(s) {
			break
		}
		_, n := utf8.DecodeRuneInString(s[b:])
		pos = b + n
	}
	if last < len(s) {
		dst = append(dst, span{last, len(s), false})
	}
	return dst
}
