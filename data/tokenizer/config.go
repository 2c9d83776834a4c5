package tokenizer

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// This file reads the components of tokenizer.json. Each section is kept as
// raw JSON too, so that saving writes back exactly what was loaded.

// fileJSON is the top level of tokenizer.json.
type fileJSON struct {
	Version       json.RawMessage `json:"version"`
	Truncation    json.RawMessage `json:"truncation"`
	Padding       json.RawMessage `json:"padding"`
	AddedTokens   json.RawMessage `json:"added_tokens"`
	Normalizer    json.RawMessage `json:"normalizer"`
	PreTokenizer  json.RawMessage `json:"pre_tokenizer"`
	PostProcessor json.RawMessage `json:"post_processor"`
	Decoder       json.RawMessage `json:"decoder"`
	Model         json.RawMessage `json:"model"`
}

// isNull reports whether a section is absent or null.
func isNull(raw json.RawMessage) bool {
	raw = bytes.TrimSpace(raw)
	return len(raw) == 0 || string(raw) == "null"
}

// typed is the "type" tag every component carries.
type typed struct {
	Type string `json:"type"`
}

func typeOf(raw json.RawMessage) (string, error) {
	var t typed
	if err := json.Unmarshal(raw, &t); err != nil {
		return "", err
	}
	return t.Type, nil
}

// errUnsupported names a component type this package does not implement.
func errUnsupported(kind, typ string) error {
	if typ == "" {
		return fmt.Errorf("%s without a type", kind)
	}
	return fmt.Errorf("%s type %q is not supported", kind, typ)
}

// pattern is the {"String": ...} or {"Regex": ...} of Split, Replace.
type pattern struct {
	String *string `json:"String"`
	Regex  *string `json:"Regex"`
}

func (p pattern) toReplace(content string) (replace, error) {
	switch {
	case p.String != nil:
		return replace{literal: *p.String, content: content}, nil
	case p.Regex != nil:
		re, err := compileOnig(*p.Regex)
		if err != nil {
			return replace{}, err
		}
		if re.wsGroup >= 0 {
			return replace{}, fmt.Errorf("regex %q: lookahead is not supported in Replace", *p.Regex)
		}
		return replace{re: re.re, content: content}, nil
	}
	return replace{}, errors.New("pattern needs String or Regex")
}

func parseNormalizer(raw json.RawMessage) (normalizer, error) {
	typ, err := typeOf(raw)
	if err != nil {
		return nil, err
	}
	switch typ {
	case "NFC":
		return unicodeForm{norm.NFC}, nil
	case "NFD":
		return unicodeForm{norm.NFD}, nil
	case "NFKC":
		return unicodeForm{norm.NFKC}, nil
	case "NFKD":
		return unicodeForm{norm.NFKD}, nil
	case "Lowercase":
		return lowercase{}, nil
	case "StripAccents":
		return stripAccents{}, nil
	case "ByteLevel":
		return byteLevelNormalizer{}, nil
	case "Strip":
		var c struct {
			Left  bool `json:"strip_left"`
			Right bool `json:"strip_right"`
		}
		err := json.Unmarshal(raw, &c)
		return strip{c.Left, c.Right}, err
	case "Prepend":
		var c struct {
			Prepend string `json:"prepend"`
		}
		err := json.Unmarshal(raw, &c)
		return prepend{c.Prepend}, err
	case "Replace":
		var c struct {
			Pattern pattern `json:"pattern"`
			Content string  `json:"content"`
		}
		if err := json.Unmarshal(raw, &c); err != nil {
			return nil, err
		}
		return c.Pattern.toReplace(c.Content)
	case "BertNormalizer":
		var c struct {
			CleanText    *bool `json:"clean_text"`
			ChineseChars *bool `json:"handle_chinese_chars"`
			StripAccents *bool `json:"strip_accents"`
			Lowercase    *bool `json:"lowercase"`
		}
		if err := json.Unmarshal(raw, &c); err != nil {
			return nil, err
		}
		or := func(p *bool, d bool) bool {
			if p == nil {
				return d
			}
			return *p
		}
		lower := or(c.Lowercase, true)
		// strip_accents: null means "as lowercase".
		return bertNormalizer{or(c.CleanText, true), or(c.ChineseChars, true), or(c.StripAccents, lower), lower}, nil
	case "Sequence":
		seq, err := parseSequence(raw, "normalizers", parseNormalizer)
		return sequenceNormalizer(seq), err
	}
	return nil, errUnsupported("normalizer", typ)
}

func parseBehavior(s string) (splitBehavior, error) {
	switch s {
	case "Removed":
		return behaviorRemoved, nil
	case "Isolated", "":
		return behaviorIsolated, nil
	case "MergedWithPrevious":
		return behaviorMergedWithPrevious, nil
	case "MergedWithNext":
		return behaviorMergedWithNext, nil
	case "Contiguous":
		return behaviorContiguous, nil
	}
	return 0, fmt.Errorf("split behavior %q is not supported", s)
}

// metaspaceConfig is shared by the Metaspace pre-tokenizer and decoder,
// including the legacy add_prefix_space spelling.
type metaspaceConfig struct {
	Replacement    string  `json:"replacement"`
	PrependScheme  *string `json:"prepend_scheme"`
	AddPrefixSpace *bool   `json:"add_prefix_space"`
	Split          *bool   `json:"split"`
}

func (c metaspaceConfig) resolve() (rune, int, bool, error) {
	r, n := utf8.DecodeRuneInString(c.Replacement)
	if c.Replacement == "" || n != len(c.Replacement) {
		return 0, 0, false, fmt.Errorf("metaspace replacement %q must be one character", c.Replacement)
	}
	scheme := prependAlways
	switch {
	case c.PrependScheme != nil:
		switch *c.PrependScheme {
		case "always":
		case "first":
			scheme = prependFirst
		case "never":
			scheme = prependNever
		default:
			return 0, 0, false, fmt.Errorf("metaspace prepend_scheme %q is not supported", *c.PrependScheme)
		}
	case c.AddPrefixSpace != nil && !*c.AddPrefixSpace:
		scheme = prependNever
	}
	split := c.Split == nil || *c.Split
	return r, scheme, split, nil
}

// parsePreTokenizer appends the steps of a pre-tokenizer to steps, flattening
// Sequence (applying a sequence is applying its steps in turn).
func parsePreTokenizer(steps []preTokenizer, raw json.RawMessage) ([]preTokenizer, error) {
	typ, err := typeOf(raw)
	if err != nil {
		return nil, err
	}
	switch typ {
	case "ByteLevel":
		var c struct {
			AddPrefixSpace *bool `json:"add_prefix_space"`
			UseRegex       *bool `json:"use_regex"`
		}
		if err := json.Unmarshal(raw, &c); err != nil {
			return nil, err
		}
		return append(steps, &byteLevelPre{
			addPrefixSpace: c.AddPrefixSpace == nil || *c.AddPrefixSpace,
			useRegex:       c.UseRegex == nil || *c.UseRegex,
		}), nil
	case "BertPreTokenizer":
		return append(steps, bertPre{}), nil
	case "Whitespace":
		return append(steps, whitespacePre{}), nil
	case "WhitespaceSplit":
		return append(steps, whitespaceSplitPre{}), nil
	case "Punctuation":
		var c struct {
			Behavior string `json:"behavior"`
		}
		if err := json.Unmarshal(raw, &c); err != nil {
			return nil, err
		}
		b, err := parseBehavior(c.Behavior)
		return append(steps, &charSplitPre{isDelim: isBertPunct, behavior: b}), err
	case "Digits":
		var c struct {
			Individual bool `json:"individual_digits"`
		}
		if err := json.Unmarshal(raw, &c); err != nil {
			return nil, err
		}
		b := behaviorContiguous
		if c.Individual {
			b = behaviorIsolated
		}
		return append(steps, &charSplitPre{isDelim: unicode.IsNumber, behavior: b}), nil
	case "CharDelimiterSplit":
		var c struct {
			Delimiter string `json:"delimiter"`
		}
		if err := json.Unmarshal(raw, &c); err != nil {
			return nil, err
		}
		d, _ := utf8.DecodeRuneInString(c.Delimiter)
		return append(steps, &charSplitPre{isDelim: func(r rune) bool { return r == d }, behavior: behaviorRemoved}), nil
	case "Split":
		var c struct {
			Pattern  pattern `json:"pattern"`
			Behavior string  `json:"behavior"`
			Invert   bool    `json:"invert"`
		}
		if err := json.Unmarshal(raw, &c); err != nil {
			return nil, err
		}
		b, err := parseBehavior(c.Behavior)
		if err != nil {
			return nil, err
		}
		sp := &splitPre{behavior: b, invert: c.Invert}
		switch {
		case c.Pattern.String != nil:
			sp.literal = *c.Pattern.String
		case c.Pattern.Regex != nil:
			if sp.re, err = compileOnig(*c.Pattern.Regex); err != nil {
				return nil, err
			}
		default:
			return nil, errors.New("Split pattern needs String or Regex")
		}
		return append(steps, sp), nil
	case "Metaspace":
		var c metaspaceConfig
		if err := json.Unmarshal(raw, &c); err != nil {
			return nil, err
		}
		r, scheme, split, err := c.resolve()
		if err != nil {
			return nil, err
		}
		return append(steps, &metaspacePre{replacement: string(r), scheme: scheme, splitWords: split}), nil
	case "Sequence":
		var c struct {
			PreTokenizers []json.RawMessage `json:"pretokenizers"`
		}
		if err := json.Unmarshal(raw, &c); err != nil {
			return nil, err
		}
		for _, r := range c.PreTokenizers {
			if steps, err = parsePreTokenizer(steps, r); err != nil {
				return nil, err
			}
		}
		return steps, nil
	}
	return nil, errUnsupported("pre-tokenizer", typ)
}

// specialIDs reads a post-processor's ["[CLS]", 101] pair.
func specialIDs(pair []any) ([]int, error) {
	if len(pair) != 2 {
		return nil, errors.New("special token pair must be [token, id]")
	}
	id, ok := pair[1].(float64)
	if !ok {
		return nil, errors.New("special token id must be a number")
	}
	return []int{int(id)}, nil
}

func parsePostProcessor(raw json.RawMessage) (postProcessor, error) {
	typ, err := typeOf(raw)
	if err != nil {
		return nil, err
	}
	switch typ {
	case "ByteLevel":
		return identityProcessor{}, nil
	case "BertProcessing", "RobertaProcessing":
		var c struct {
			Sep []any `json:"sep"`
			Cls []any `json:"cls"`
		}
		if err := json.Unmarshal(raw, &c); err != nil {
			return nil, err
		}
		cls, err := specialIDs(c.Cls)
		if err != nil {
			return nil, err
		}
		sep, err := specialIDs(c.Sep)
		if err != nil {
			return nil, err
		}
		return &template{pieces: []templatePiece{{ids: cls}, {sequence: true}, {ids: sep}}}, nil
	case "TemplateProcessing":
		var c struct {
			Single []struct {
				Sequence *struct {
					ID string `json:"id"`
				} `json:"Sequence"`
				SpecialToken *struct {
					ID string `json:"id"`
				} `json:"SpecialToken"`
			} `json:"single"`
			SpecialTokens map[string]struct {
				IDs []int `json:"ids"`
			} `json:"special_tokens"`
		}
		if err := json.Unmarshal(raw, &c); err != nil {
			return nil, err
		}
		t := &template{}
		for _, p := range c.Single {
			switch {
			case p.Sequence != nil:
				t.pieces = append(t.pieces, templatePiece{sequence: true})
			case p.SpecialToken != nil:
				sp, ok := c.SpecialTokens[p.SpecialToken.ID]
				if !ok {
					return nil, fmt.Errorf("template names special token %q that special_tokens lacks", p.SpecialToken.ID)
				}
				t.pieces = append(t.pieces, templatePiece{ids: sp.IDs})
			default:
				return nil, errors.New("template piece must be Sequence or SpecialToken")
			}
		}
		return t, nil
	case "Sequence":
		seq, err := parseSequence(raw, "processors", parsePostProcessor)
		return sequenceProcessor(seq), err
	}
	return nil, errUnsupported("post-processor", typ)
}

func parseDecoder(raw json.RawMessage) (decoder, error) {
	typ, err := typeOf(raw)
	if err != nil {
		return nil, err
	}
	switch typ {
	case "ByteLevel":
		return byteLevelDecoder{}, nil
	case "WordPiece":
		c := struct {
			Prefix  string `json:"prefix"`
			Cleanup bool   `json:"cleanup"`
		}{Prefix: "##", Cleanup: true}
		err := json.Unmarshal(raw, &c)
		return wordPieceDecoder{c.Prefix, c.Cleanup}, err
	case "Metaspace":
		var c metaspaceConfig
		if err := json.Unmarshal(raw, &c); err != nil {
			return nil, err
		}
		r, scheme, _, err := c.resolve()
		return metaspaceDecoder{replacement: r, scheme: scheme}, err
	case "BPEDecoder":
		c := struct {
			Suffix string `json:"suffix"`
		}{Suffix: "</w>"}
		err := json.Unmarshal(raw, &c)
		return bpeDecoder{c.Suffix}, err
	case "Replace":
		var c struct {
			Pattern pattern `json:"pattern"`
			Content string  `json:"content"`
		}
		if err := json.Unmarshal(raw, &c); err != nil {
			return nil, err
		}
		r, err := c.Pattern.toReplace(c.Content)
		return replaceDecoder{r}, err
	case "Strip":
		var c struct {
			Content string `json:"content"`
			Start   int    `json:"start"`
			Stop    int    `json:"stop"`
		}
		if err := json.Unmarshal(raw, &c); err != nil {
			return nil, err
		}
		r, _ := utf8.DecodeRuneInString(c.Content)
		return stripDecoder{r, c.Start, c.Stop}, nil
	case "Fuse":
		return fuseDecoder{}, nil
	case "ByteFallback":
		return byteFallbackDecoder{}, nil
	case "Sequence":
		seq, err := parseSequence(raw, "decoders", parseDecoder)
		return sequenceDecoder(seq), err
	}
	return nil, errUnsupported("decoder", typ)
}

// parseSequence reads the list under key of a Sequence component, parsing
// each element with parse: normalizers, post-processors and decoders nest
// the same way.
func parseSequence[T any](raw json.RawMessage, key string, parse func(json.RawMessage) (T, error)) ([]T, error) {
	var c map[string]json.RawMessage
	if err := json.Unmarshal(raw, &c); err != nil {
		return nil, err
	}
	var elems []json.RawMessage
	if list, ok := c[key]; ok {
		if err := json.Unmarshal(list, &elems); err != nil {
			return nil, fmt.Errorf("Sequence %s: %w", key, err)
		}
	}
	out := make([]T, 0, len(elems))
	for _, r := range elems {
		x, err := parse(r)
		if err != nil {
			return nil, err
		}
		out = append(out, x)
	}
	return out, nil
}

// parseModel reads the model section. Old files may omit the type; then the
// fields tell which model it is.
func parseModel(raw json.RawMessage) (model, error) {
	switch typ, err := typeOf(raw); {
	case err != nil:
		return nil, err
	case typ != "" && typ != "BPE" && typ != "WordPiece" && typ != "WordLevel":
		return nil, errUnsupported("model", typ)
	}
	var c struct {
		Type         string          `json:"type"`
		Vocab        map[string]int  `json:"vocab"`
		Merges       json.RawMessage `json:"merges"`
		UnkToken     *string         `json:"unk_token"`
		Prefix       *string         `json:"continuing_subword_prefix"`
		Suffix       *string         `json:"end_of_word_suffix"`
		FuseUnk      bool            `json:"fuse_unk"`
		ByteFallback bool            `json:"byte_fallback"`
		IgnoreMerges bool            `json:"ignore_merges"`
		Dropout      *float64        `json:"dropout"`
		MaxChars     *int            `json:"max_input_chars_per_word"`
	}
	if err := json.Unmarshal(raw, &c); err != nil {
		return nil, err
	}
	if c.Type == "" {
		switch {
		case !isNull(c.Merges):
			c.Type = "BPE"
		case c.MaxChars != nil:
			c.Type = "WordPiece"
		}
	}
	str := func(p *string, d string) string {
		if p == nil {
			return d
		}
		return *p
	}
	switch c.Type {
	case "BPE":
		if c.Dropout != nil && *c.Dropout > 0 {
			return nil, fmt.Errorf("BPE dropout %g is not supported (encoding must be deterministic)", *c.Dropout)
		}
		m := &bpe{
			vocab:        c.Vocab,
			unkToken:     str(c.UnkToken, ""),
			prefix:       str(c.Prefix, ""),
			suffix:       str(c.Suffix, ""),
			fuseUnk:      c.FuseUnk,
			byteFallback: c.ByteFallback,
			ignoreMerges: c.IgnoreMerges,
		}
		if m.vocab == nil {
			m.vocab = map[string]int{}
		}
		var err error
		if m.merges, err = parseMerges(c.Merges, m.vocab, m.prefix); err != nil {
			return nil, fmt.Errorf("BPE model: %w", err)
		}
		m.initTables()
		return m, nil
	case "WordPiece":
		m := &wordPiece{
			vocab:    c.Vocab,
			unkToken: str(c.UnkToken, "[UNK]"),
			prefix:   str(c.Prefix, "##"),
			maxChars: 100,
		}
		if c.MaxChars != nil {
			m.maxChars = *c.MaxChars
		}
		if m.vocab == nil {
			m.vocab = map[string]int{}
		}
		m.idToTok = buildIDToToken(m.vocab)
		return m, nil
	case "WordLevel":
		m := &wordLevel{vocab: c.Vocab, unkToken: str(c.UnkToken, "<unk>")}
		if m.vocab == nil {
			m.vocab = map[string]int{}
		}
		m.idToTok = buildIDToToken(m.vocab)
		return m, nil
	}
	return nil, errUnsupported("model", c.Type)
}
