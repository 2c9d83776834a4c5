package modeldir

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
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
	TokenizerClass string    `json:"tokenizer_class,omitempty"`
	ChatTemplate   string    `json:"chat_template,omitempty"`
	MaskToken      tokenName `json:"mask_token,omitempty"`
	PadToken       tokenName `json:"pad_token,omitempty"`
	ClsToken       tokenName `json:"cls_token,omitempty"`
	SepToken       tokenName `json:"sep_token,omitempty"`
	UnkToken       tokenName `json:"unk_token,omitempty"`
	BosToken       tokenName `json:"bos_token,omitempty"`
	EosToken       tokenName `json:"eos_token,omitempty"`
	ModelMaxLength int       `json:"model_max_length,omitempty"`
	// CleanUpTokenizationSpaces is written false, as this project decodes.
	CleanUpTokenizationSpaces bool `json:"clean_up_tokenization_spaces"`
	// AddedTokensDecoder maps ids (as strings) to tokens; read only, to
	// resolve a name the tokenizer itself does not know.
	AddedTokensDecoder map[string]struct {
		Content string `json:"content"`
	} `json:"added_tokens_decoder,omitempty"`
}

// chatTemplateField reads chat_template, which Hugging Face may also write
// as a list of {"name", "template"}; the "default" one (or the first) is
// taken.
func chatTemplateField(js []byte) (string, error) {
	var raw struct {
		ChatTemplate json.RawMessage `json:"chat_template"`
	}
	if err := json.Unmarshal(js, &raw); err != nil || len(raw.ChatTemplate) == 0 {
		return "", err
	}
	var s *string
	if err := json.Unmarshal(raw.ChatTemplate, &s); err == nil {
		if s == nil {
			return "", nil
		}
		return *s, nil
	}
	var list []struct {
		Name     string `json:"name"`
		Template string `json:"template"`
	}
	if err := json.Unmarshal(raw.ChatTemplate, &list); err != nil {
		return "", fmt.Errorf("chat_template is neither a string nor a list of {name, template}")
	}
	for _, t := range list {
		if t.Name == "default" {
			return t.Template, nil
		}
	}
	if len(list) > 0 {
		return list[0].Template, nil
	}
	return "", nil
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
