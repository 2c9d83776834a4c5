package data

import (
	"bufio"
	"fmt"
	"io"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// WordNet's database (Princeton WordNet 3.0, as Debian's wordnet-base installs it)
// is a set of plain-text files per part of speech: index.POS lists each lemma with
// its synsets, most frequent sense first; data.POS holds each synset's words and
// gloss. This file turns them into definition questions.

// Gloss is the definition of a word's most common sense.
type Gloss struct {
	Word       string // as WordNet spells it, underscores turned into spaces ("Albert Einstein")
	POS        string // "noun", "verb", "adj" or "adv"
	Definition string // the gloss without its quoted examples
}

// Conversation is the gloss as a question and its answer.
func (g Gloss) Conversation() []Message {
	return []Message{
		{RoleUser, fmt.Sprintf("What does %s mean?", g.Word)},
		{RoleAssistant, g.Definition},
	}
}

var wordNetPOS = []struct{ file, name string }{
	{"noun", "noun"}, {"verb", "verb"}, {"adj", "adj"}, {"adv", "adv"},
}

// ReadWordNetGlosses reads a WordNet database folder and returns one gloss per
// lemma, sorted by lemma. A lemma in several parts of speech gets the one whose
// senses are most often tagged in WordNet's corpus ("run": verb, not noun), then
// the first of noun, verb, adj, adv; within it, its most frequent sense.
func ReadWordNetGlosses(dir string) ([]Gloss, error) {
	type choice struct {
		gloss  Gloss
		tagged int
	}
	best := map[string]choice{}
	for _, pos := range wordNetPOS {
		synsets, err := readWordNetData(filepath.Join(dir, "data."+pos.file))
		if err != nil {
			return nil, err
		}
		err = readWordNetIndex(filepath.Join(dir, "index."+pos.file), func(lemma string, tagged int, offset string) error {
			s, ok := synsets[offset]
			if !ok {
				return fmt.Errorf("synset %s is not in data.%s", offset, pos.file)
			}
			if prev, seen := best[lemma]; seen && prev.tagged >= tagged {
				return nil
			}
			best[lemma] = choice{Gloss{displayWord(lemma, s.words), pos.name, s.definition}, tagged}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	lemmas := make([]string, 0, len(best))
	for l := range best {
		lemmas = append(lemmas, l)
	}
	sort.Strings(lemmas)
	out := make([]Gloss, 0, len(lemmas))
	for _, l := range lemmas {
		if g := best[l].gloss; g.Definition != "" {
			out = append(out, g)
		}
	}
	return out, nil
}

type wordNetSynset struct {
	words      []string
	definition string
}

// readWordNetData reads a data.POS file into synsets by offset. A line is
// "offset lex_filenum ss_type w_cnt(hex) word lex_id ... p_cnt ... | gloss";
// license lines begin with two spaces.
func readWordNetData(path string) (map[string]wordNetSynset, error) {
	out := map[string]wordNetSynset{}
	err := eachWordNetLine(path, func(line string) error {
		head, gloss, ok := strings.Cut(line, " | ")
		if !ok {
			return fmt.Errorf("no gloss")
		}
		f := strings.Fields(head)
		if len(f) < 4 {
			return fmt.Errorf("too few fields")
		}
		n, err := strconv.ParseUint(f[3], 16, 16)
		if err != nil || len(f) < 4+2*int(n) {
			return fmt.Errorf("bad word count %q", f[3])
		}
		words := make([]string, n)
		for i := range words {
			words[i] = stripAdjMarker(f[4+2*i])
		}
		out[f[0]] = wordNetSynset{words, glossDefinition(gloss)}
		return nil
	})
	return out, err
}

// readWordNetIndex calls fn with each lemma, its count of tagged senses and its
// first (most frequent) synset offset. A line is "lemma pos synset_cnt p_cnt
// [ptr_symbol...] sense_cnt tagsense_cnt synset_offset...".
func readWordNetIndex(path string, fn func(lemma string, tagged int, offset string) error) error {
	return eachWordNetLine(path, func(line string) error {
		f := strings.Fields(line)
		if len(f) < 4 {
			return fmt.Errorf("too few fields")
		}
		ptrs, err := strconv.Atoi(f[3])
		if err != nil || len(f) < 4+ptrs+3 {
			return fmt.Errorf("bad pointer count %q", f[3])
		}
		tagged, err := strconv.Atoi(f[4+ptrs+1])
		if err != nil {
			return fmt.Errorf("bad tagged sense count %q", f[4+ptrs+1])
		}
		return fn(f[0], tagged, f[4+ptrs+2])
	})
}

func eachWordNetLine(path string, fn func(string) error) error {
	rc, err := Open(path)
	if err != nil {
		return err
	}
	defer rc.Close()
	sc := bufio.NewScanner(rc)
	sc.Buffer(nil, 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if strings.HasPrefix(line, "  ") || strings.TrimSpace(line) == "" {
			continue // the license header
		}
		if err := fn(line); err != nil {
			return &LineError{path, n, err}
		}
	}
	if err := sc.Err(); err != nil && err != io.EOF {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

// stripAdjMarker drops an adjective's syntactic marker: "galore(ip)" → "galore".
func stripAdjMarker(w string) string {
	if i := strings.IndexByte(w, '('); i > 0 && strings.HasSuffix(w, ")") {
		return w[:i]
	}
	return w
}

// displayWord spells the lemma as the synset does (keeping capitals), with spaces.
func displayWord(lemma string, words []string) string {
	for _, w := range words {
		if strings.EqualFold(w, lemma) {
			return strings.ReplaceAll(w, "_", " ")
		}
	}
	return strings.ReplaceAll(lemma, "_", " ")
}

// glossDefinition keeps the definition part of a gloss, before its quoted
// examples: `a sweet fruit; "she ate a pear"` → "a sweet fruit".
func glossDefinition(gloss string) string {
	def, _, _ := strings.Cut(gloss, `; "`)
	return strings.TrimRight(strings.TrimSpace(def), "; ")
}
