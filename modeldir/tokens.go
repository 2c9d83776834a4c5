package modeldir

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
)

// tokenName is a special token as tokenizer_config.json spells it: a plain
// string, or an AddedToken object {"content": "...", ...}; null is absent.
type tokenName string

func (t *tokenName) UnmarshalJSON(js []byte) error {
	var s *string
	if err := json.Unmarshal(js, &s); err == nil {
		if s != nil {
			*t = tokenName(*s)
		}
		return nil
	}
	var obj struct {
		Content *string `json:"content"`
	}
	if err := json.Unmarshal(js, &obj); err != nil || obj.Content == nil {
		return fmt.Errorf("special token %s is neither a string nor {\"content\": ...}", js)
	}
	*t = tokenName(*obj.Content)
	return nil
}

// tokenizerConfig is the part of Hugging Face's tokenizer_config.json this
// package reads and writes.
type tokenizerConfig struct {
	TokenizerClass string           `json:"tokenizer_class,omitempty"`
	ChatTemplate   chatTemplateText `json:"chat_template,omitempty"`
	MaskToken      tokenName        `json:"mask_token,omitempty"`
	PadToken       tokenName        `json:"pad_token,omitempty"`
	ClsToken       tokenName        `json:"cls_token,omitempty"`
	SepToken       tokenName        `json:"sep_token,omitempty"`
	UnkToken       tokenName        `json:"unk_token,omitempty"`
	BosToken       tokenName        `json:"bos_token,omitempty"`
	EosToken       tokenName        `json:"eos_token,omitempty"`
	ModelMaxLength maxLength        `json:"model_max_length,omitempty"`
	// CleanUpTokenizationSpaces is written false, as this project decodes.
	CleanUpTokenizationSpaces bool `json:"clean_up_tokenization_spaces"`
	// AddedTokensDecoder maps ids (as strings) to tokens; read only, to
	// resolve a name the tokenizer itself does not know.
	// AdditionalSpecialTokens are passed to the chat template, as
	// transformers passes them; read only.
	AdditionalSpecialTokens []tokenName `json:"additional_special_tokens,omitempty"`
	AddedTokensDecoder      map[string]struct {
		Content string `json:"content"`
	} `json:"added_tokens_decoder,omitempty"`
}

// maxLength is model_max_length: transformers writes a huge float-like
// integer (1e30) for "no limit", which reads as 0.
type maxLength int

func (m *maxLength) UnmarshalJSON(js []byte) error {
	var f float64
	if err := json.Unmarshal(js, &f); err != nil {
		if string(js) == "null" {
			return nil
		}
		return fmt.Errorf("model_max_length %s is not a number", js)
	}
	if f > 0 && f < 1<<31 {
		*m = maxLength(f)
	}
	return nil
}

// templateVars are the special tokens a chat template reads by name, as
// transformers passes the tokenizer's special_tokens_map.
func (tc *tokenizerConfig) templateVars() map[string]any {
	vars := map[string]any{}
	for name, tok := range map[string]tokenName{
		"bos_token": tc.BosToken, "eos_token": tc.EosToken, "pad_token": tc.PadToken, "unk_token": tc.UnkToken,
		"cls_token": tc.ClsToken, "sep_token": tc.SepToken, "mask_token": tc.MaskToken,
	} {
		if tok != "" {
			vars[name] = string(tok)
		}
	}
	if len(tc.AdditionalSpecialTokens) > 0 {
		list := make([]any, len(tc.AdditionalSpecialTokens))
		for i, t := range tc.AdditionalSpecialTokens {
			list[i] = string(t)
		}
		vars["additional_special_tokens"] = list
	}
	return vars
}

// chatTemplateText is chat_template: a string, or (Hugging Face writes
// several so) a list of {"name", "template"}. It is written as a string.
type chatTemplateText struct {
	Default string
	Named   map[string]string // the list's templates by name
}

func (c *chatTemplateText) UnmarshalJSON(js []byte) error {
	var s *string
	if err := json.Unmarshal(js, &s); err == nil {
		if s != nil {
			c.Default = *s
		}
		return nil
	}
	var list []struct {
		Name     string `json:"name"`
		Template string `json:"template"`
	}
	if err := json.Unmarshal(js, &list); err != nil {
		return fmt.Errorf("chat_template is neither a string nor a list of {name, template}")
	}
	c.Named = map[string]string{}
	for _, t := range list {
		c.Named[t.Name] = t.Template
	}
	c.Default = c.Named["default"]
	return nil
}

func (c chatTemplateText) MarshalJSON() ([]byte, error) { return json.Marshal(c.Default) }

// pick chooses the template as transformers' apply_chat_template does
// without a template name: "tool_use" when tools are given and the list has
// it, else "default"; a list with neither is an error.
func (c chatTemplateText) pick(tools bool) (string, error) {
	if tools && c.Named["tool_use"] != "" {
		return c.Named["tool_use"], nil
	}
	if c.Default == "" && len(c.Named) > 0 {
		names := make([]string, 0, len(c.Named))
		for n := range c.Named {
			names = append(names, n)
		}
		slices.Sort(names)
		return "", fmt.Errorf("chat_template lists templates %s and none is named default", strings.Join(names, ", "))
	}
	return c.Default, nil
}

// idField is a token id as generation_config.json and config.json write it:
// a number, a list of numbers (several eos ids: the first is taken), or
// null.
type idField struct {
	ids []int32
}

func (f *idField) UnmarshalJSON(js []byte) error {
	var one *int64
	if err := json.Unmarshal(js, &one); err == nil {
		if one != nil {
			return f.add(*one)
		}
		return nil
	}
	var many []int64
	if err := json.Unmarshal(js, &many); err != nil {
		return fmt.Errorf("token id %s is neither a number nor a list of numbers", js)
	}
	for _, v := range many {
		if err := f.add(v); err != nil {
			return err
		}
	}
	return nil
}

// add appends an id, refusing one that int32 cannot hold (it would wrap
// around into the vocabulary).
func (f *idField) add(v int64) error {
	if v < math.MinInt32 || v > math.MaxInt32 {
		return fmt.Errorf("token id %d is out of range", v)
	}
	f.ids = append(f.ids, int32(v))
	return nil
}

func (f idField) first() (int32, bool) {
	if len(f.ids) == 0 {
		return 0, false
	}
	return f.ids[0], true
}

// generationConfig is the part of generation_config.json read and written:
// the sampling defaults and the special-token ids.
type generationConfig struct {
	Generation
	MaskTokenID idField `json:"mask_token_id"`
	PadTokenID  idField `json:"pad_token_id"`
	BOSTokenID  idField `json:"bos_token_id"`
	EOSTokenID  idField `json:"eos_token_id"`
}

// addedID looks a token up in added_tokens_decoder.
func (tc *tokenizerConfig) addedID(name string) (int32, bool) {
	for k, v := range tc.AddedTokensDecoder {
		if v.Content == name {
			if id, err := strconv.ParseInt(k, 10, 32); err == nil {
				return int32(id), true
			}
		}
	}
	return 0, false
}
