package tokenizer

import "unicode/utf8"

// wordPiece is BERT's model: a word becomes the longest vocabulary entry that
// starts it, then the longest "##"-prefixed entry that continues it, and so on.
// A word that cannot be covered this way, or that is too long, becomes the
// unknown token as a whole.
type wordPiece struct {
	vocab    map[string]int
	idToTok  []string
	unkToken string
	prefix   string // continuing_subword_prefix, "##"
	maxChars int    // max_input_chars_per_word
}

func (m *wordPiece) typeName() string { return "WordPiece" }

func (m *wordPiece) tokenToID(tok string) (int, bool) {
	id, ok := m.vocab[tok]
	return id, ok
}

func (m *wordPiece) idToToken(id int) (string, bool) {
	if id < 0 || id >= len(m.idToTok) {
		return "", false
	}
	if tok := m.idToTok[id]; tok != "" {
		return tok, true
	}
	return "", false
}

func (m *wordPiece) vocabSize() int { return len(m.idToTok) }

func (m *wordPiece) unk(dst []int) []int {
	if id, ok := m.vocab[m.unkToken]; ok {
		return append(dst, id)
	}
	return dst // HF fails here; a vocabulary without its unknown token is broken
}

func (m *wordPiece) tokenize(st *encodeState, word string, dst []int) []int {
	if word == "" {
		return dst
	}
	if utf8.RuneCountInString(word) > m.maxChars {
		return m.unk(dst)
	}
	start0 := len(dst)
	for start := 0; start < len(word); {
		end := len(word)
		found := -1
		for start < end {
			sub := word[start:end]
			if start > 0 {
				st.spell = append(append(st.spell[:0], m.prefix...), sub...)
				if id, ok := m.vocab[string(st.spell)]; ok {
					found = id
					break
				}
			} else if id, ok := m.vocab[sub]; ok {
				found = id
				break
			}
			_, n := utf8.DecodeLastRuneInString(sub)
			end -= n
		}
		if found < 0 {
			return m.unk(dst[:start0])
		}
		dst = append(dst, found)
		start = end
	}
	return dst
}

// wordLevel maps each word to its id, or to the unknown token.
type wordLevel struct {
	vocab    map[string]int
	idToTok  []string
	unkToken string
}

func (m *wordLevel) typeName() string { return "WordLevel" }

func (m *wordLevel) tokenToID(tok string) (int, bool) {
	id, ok := m.vocab[tok]
	return id, ok
}

func (m *wordLevel) idToToken(id int) (string, bool) {
	if id < 0 || id >= len(m.idToTok) || m.idToTok[id] == "" {
		return "", false
	}
	return m.idToTok[id], true
}

func (m *wordLevel) vocabSize() int { return len(m.idToTok) }

func (m *wordLevel) tokenize(_ *encodeState, word string, dst []int) []int {
	if word == "" {
		return dst
	}
	if id, ok := m.vocab[word]; ok {
		return append(dst, id)
	}
	if id, ok := m.vocab[m.unkToken]; ok {
		return append(dst, id)
	}
	return dst // HF fails here: the vocabulary lacks its unknown token
}
