package modeldir

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dllmgo/dllm/a2d"
	"github.com/dllmgo/dllm/bert"
	"github.com/dllmgo/dllm/data"
	"github.com/dllmgo/dllm/data/tokenizer"
	"github.com/dllmgo/dllm/lm"
	"github.com/dllmgo/dllm/mdlm"
	"github.com/dllmgo/dllm/tensor"
)

// copyLegacy copies the legacy model folder into a temporary one, without
// its tokenizer_config.json and generation_config.json.
func copyLegacy(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for _, f := range []string{ConfigFile, "model.safetensors", TokenizerFile} {
		js, err := os.ReadFile(filepath.Join(legacyDir, "model", f))
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(dir, f), js, 0o644))
	}
	return dir
}

func writeFile(t *testing.T, dir, name, text string) {
	t.Helper()
	require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644))
}

// The legacy tokenizer: [PAD]=0 [UNK]=1 [CLS]=2 [SEP]=3 [MASK]=4; its
// config.json says pad 0, mask 4.
func TestSpecialTokens(t *testing.T) {
	cases := []struct {
		name             string
		tokenizerConfig  string // "" leaves the file out
		generationConfig string
		mask, pad, eos   int32
		suppress         []int32
		err              string
	}{
		{name: "nothing but config.json and the tokenizer", mask: 4, pad: 0, eos: lm.NoToken, suppress: []int32{2, 3, 1}},
		{name: "names as strings", tokenizerConfig: `{"mask_token": "[MASK]", "pad_token": "[SEP]", "eos_token": "[UNK]"}`,
			mask: 4, pad: 3, eos: 1, suppress: []int32{2}},
		{name: "names as AddedToken objects", tokenizerConfig: `{"mask_token": {"content": "[MASK]", "special": true}, "pad_token": {"__type": "AddedToken", "content": "[CLS]"}}`,
			mask: 4, pad: 2, eos: lm.NoToken, suppress: []int32{3, 1}},
		{name: "null names fall through to config.json", tokenizerConfig: `{"mask_token": null, "pad_token": null}`,
			mask: 4, pad: 0, eos: lm.NoToken, suppress: []int32{2, 3, 1}},
		{name: "a name only added_tokens_decoder knows", tokenizerConfig: `{"pad_token": "<|pad|>", "added_tokens_decoder": {"300": {"content": "<|pad|>", "special": true}}}`,
			mask: 4, pad: 300, eos: lm.NoToken, suppress: []int32{2, 3, 1}},
		{name: "generation_config ids, eos as a list", generationConfig: `{"mask_token_id": 5, "pad_token_id": 6, "eos_token_id": [7, 8]}`,
			mask: 5, pad: 6, eos: 7, suppress: []int32{2, 3, 1}},
		{name: "eos named by the tokenizer config is not suppressed", tokenizerConfig: `{"eos_token": "[SEP]"}`,
			mask: 4, pad: 0, eos: 3, suppress: []int32{2, 1}},
		{name: "no pad anywhere takes eos", tokenizerConfig: `{"pad_token": "[SEP]", "eos_token": "[SEP]"}`,
			mask: 4, pad: 3, eos: 3, suppress: []int32{2, 1}},
		{name: "unknown name", tokenizerConfig: `{"mask_token": "<|mask|>"}`, err: `tokenizer_config.json names "<|mask|>"`},
		{name: "mask token not config.json's", tokenizerConfig: `{"mask_token": "[UNK]"}`, err: `tokenizer_config.json: mask_token "[UNK]" is token 1, but config.json's mask_token_id is 4`},
		{name: "bad name type", tokenizerConfig: `{"mask_token": 4}`, err: "tokenizer_config.json"},
		{name: "id outside the vocabulary", generationConfig: `{"mask_token_id": 5000}`, err: "outside the model's vocabulary"},
		{name: "bad generation sizes", generationConfig: `{"max_new_tokens": -1}`, err: "negative sizes"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := copyLegacy(t)
			if c.tokenizerConfig != "" {
				writeFile(t, dir, TokenizerConfigFile, c.tokenizerConfig)
			}
			if c.generationConfig != "" {
				writeFile(t, dir, GenerationConfigFile, c.generationConfig)
			}
			b, err := Open(dir, tensor.CPU())
			if c.err != "" {
				require.ErrorContains(t, err, c.err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, c.mask, b.MaskID, "mask")
			require.Equal(t, c.pad, b.PadID, "pad")
			require.Equal(t, c.eos, b.EOSID, "eos")
			require.Equal(t, c.suppress, b.Suppress, "suppress")
			cfg := b.SamplerConfig()
			require.Equal(t, c.mask, cfg.MaskID)
			if c.eos != lm.NoToken && c.eos != c.pad {
				require.Contains(t, b.Stops, []int32{c.eos})
			}
		})
	}
}

// What Save writes, Open reads back to the same bundle, and a second Save
// writes the same bytes.
func TestSaveOpenRoundTrip(t *testing.T) {
	src := copyLegacy(t)
	writeFile(t, src, TokenizerConfigFile, `{"mask_token": "[MASK]", "pad_token": "[PAD]", "eos_token": "[SEP]"}`)
	b, err := Open(src, tensor.CPU())
	require.NoError(t, err)
	b.Generation = GenerationFor(20)

	dir := filepath.Join(t.TempDir(), "out")
	require.NoError(t, b.Save(dir))
	b2, err := Open(dir, tensor.CPU())
	require.NoError(t, err)
	require.Equal(t, b.MaskID, b2.MaskID)
	require.Equal(t, b.PadID, b2.PadID)
	require.Equal(t, b.EOSID, b2.EOSID)
	require.Equal(t, b.Suppress, b2.Suppress)
	require.Equal(t, b.Stops, b2.Stops)
	require.Equal(t, b.Generation, b2.Generation)
	require.Equal(t, b.Template.Jinja(), b2.Template.Jinja())

	dir2 := filepath.Join(t.TempDir(), "again")
	require.NoError(t, b2.Save(dir2))
	for _, f := range []string{ConfigFile, TokenizerConfigFile, GenerationConfigFile, "model.safetensors"} {
		x, err := os.ReadFile(filepath.Join(dir, f))
		require.NoError(t, err)
		y, err := os.ReadFile(filepath.Join(dir2, f))
		require.NoError(t, err)
		require.Equal(t, string(x), string(y), f)
	}
}

func TestDispatch(t *testing.T) {
	cases := []struct {
		name, config, err string
	}{
		{"unknown model_type", `{"model_type": "llama4"}`, `config.json: model_type "llama4" is not supported (supported: modernbert, llada`},
		{"unknown architecture", `{"architectures": ["GPT2LMHeadModel"]}`, `architectures [GPT2LMHeadModel] are not supported`},
		{"not JSON", `{`, "config.json"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := copyLegacy(t)
			writeFile(t, dir, ConfigFile, c.config)
			_, err := Open(dir, tensor.CPU())
			require.ErrorContains(t, err, c.err)
			require.ErrorContains(t, err, filepath.Join(dir, ConfigFile))
			_, err = LoadModel(dir, tensor.CPU())
			require.ErrorContains(t, err, c.err)
		})
	}
	// A config without model_type is matched by its architectures, one
	// naming neither goes to the default family.
	dir := copyLegacy(t)
	js, err := os.ReadFile(filepath.Join(dir, ConfigFile))
	require.NoError(t, err)
	fam, err := familyFor(configHead{Architectures: []string{"ModernBertForMaskedLM"}})
	require.NoError(t, err)
	require.Equal(t, "modernbert", fam.Name)
	fam, err = familyFor(configHead{})
	require.NoError(t, err)
	require.Equal(t, DefaultFamily(), fam.Name)
	f2, js2, err := Detect(dir)
	require.NoError(t, err)
	require.Equal(t, "modernbert", f2.Name)
	require.Equal(t, js, js2)
}

func TestNewFresh(t *testing.T) {
	tok, err := tokenizer.Load(filepath.Join(legacyDir, "model", TokenizerFile))
	require.NoError(t, err)
	sp := tok.Specials()
	m, err := New(DefaultFamily(), "tiny", lm.Fresh{VocabSize: tok.VocabSize(), MaxPositions: 600,
		Specials: &lm.Specials{Pad: int32(sp.Pad), Mask: int32(sp.Mask), CLS: int32(sp.Cls), SEP: int32(sp.Sep), Unk: int32(sp.Unk), BOS: lm.NoToken, EOS: lm.NoToken}}, tensor.CPU())
	require.NoError(t, err)
	require.Equal(t, 320, m.VocabSize())
	require.Equal(t, 600, m.Spec().MaxPositions)
	require.Equal(t, int32(4), m.Spec().MaskID)
	b, err := NewBundle(m, tok)
	require.NoError(t, err)
	require.Equal(t, int32(4), b.MaskID)
	require.Equal(t, int32(0), b.PadID)

	_, err = New("modernbert", "huge", lm.Fresh{}, tensor.CPU())
	require.ErrorContains(t, err, `no preset "huge"`)
	_, err = New("gpt", "tiny", lm.Fresh{}, tensor.CPU())
	require.ErrorContains(t, err, `unknown model family "gpt" (known: modernbert, llada`)
}

// A folder's own chat template renders through the Jinja engine with the
// special tokens its tokenizer_config.json names; its end of turn stops
// the samplers. One that does not compile or recurses is one error naming
// the file.
func TestFolderTemplates(t *testing.T) {
	dir := copyLegacy(t)
	chatml := `{%- for m in messages %}{{ '<|im_start|>' + m.role + '\n' + m.content + eos_token + '\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}`
	js, err := json.Marshal(map[string]any{"chat_template": chatml, "eos_token": "[SEP]", "model_max_length": 1e30})
	require.NoError(t, err)
	writeFile(t, dir, TokenizerConfigFile, string(js))
	b, err := Open(dir, tensor.CPU())
	require.NoError(t, err)
	got, err := b.Template.Render([]data.Message{{Role: "user", Content: "Hi"}}, true)
	require.NoError(t, err)
	require.Equal(t, "<|im_start|>user\nHi[SEP]\n<|im_start|>assistant\n", got)
	require.Equal(t, "[SEP]", b.Template.EndOfTurn())
	require.Equal(t, [][]int32{{3}}, b.Stops, "[SEP] is id 3, and the eos token")
	require.Equal(t, chatml, b.Template.Jinja())
	tpl, err := ReadTemplate(dir, false)
	require.NoError(t, err)
	require.Equal(t, chatml, tpl.Jinja())

	// A list of named templates: "default", or "tool_use" when tools are given.
	writeFile(t, dir, TokenizerConfigFile, `{"chat_template": [{"name": "tool_use", "template": "T{{ tools | length }}"}, {"name": "default", "template": "D"}]}`)
	for _, tools := range []bool{false, true} {
		tpl, err = ReadTemplate(dir, tools)
		require.NoError(t, err)
		require.Equal(t, map[bool]string{false: "D", true: "T{{ tools | length }}"}[tools], tpl.Jinja())
	}
	b, err = Open(dir, tensor.CPU())
	require.NoError(t, err)
	require.Equal(t, "D", b.Template.Jinja())

	// No chat_template, or no tokenizer_config.json: the BERT template.
	writeFile(t, dir, TokenizerConfigFile, `{"mask_token": "[MASK]"}`)
	tpl, err = ReadTemplate(dir, false)
	require.NoError(t, err)
	require.Equal(t, data.BertChat, tpl)
	require.NoError(t, os.Remove(filepath.Join(dir, TokenizerConfigFile)))
	tpl, err = ReadTemplate(dir, false)
	require.NoError(t, err)
	require.Equal(t, data.BertChat, tpl)

	for _, bad := range []struct{ text, want string }{
		{"{% for m in messages %}{{ m.content }}", "chat_template: jinja parse"},
		{"{% macro f(n) %}{{ f(n) }}{% endmacro %}{{ f(1) }}", "macro f calls itself"},
	} {
		js, err := json.Marshal(map[string]any{"chat_template": bad.text})
		require.NoError(t, err)
		writeFile(t, dir, TokenizerConfigFile, string(js))
		_, err = Open(dir, tensor.CPU())
		require.ErrorContains(t, err, filepath.Join(dir, TokenizerConfigFile)+": chat_template: ")
		require.ErrorContains(t, err, bad.want)
		require.NotContains(t, err.Error(), "\n")
	}
}

// A family's TemplateVars reach every rendering of an opened folder's
// template (A2D renders Qwen's with enable_thinking=false), but not
// ReadTemplate's, which renders as plain apply_chat_template does.
func TestFamilyTemplateVars(t *testing.T) {
	dir := copyLegacy(t)
	tpl := `{{ messages[0].content }}{% if enable_thinking is defined and enable_thinking is false %}<think></think>{% endif %}`
	js, err := json.Marshal(map[string]any{"chat_template": tpl})
	require.NoError(t, err)
	writeFile(t, dir, TokenizerConfigFile, string(js))
	msgs := []data.Message{{Role: "user", Content: "Hi"}}

	saved := families
	t.Cleanup(func() { families = saved })
	fam := bert.Family
	fam.TemplateVars = map[string]any{"enable_thinking": false}
	families = []lm.Family{fam}
	b, err := Open(dir, tensor.CPU())
	require.NoError(t, err)
	got, err := b.Template.Render(msgs, true)
	require.NoError(t, err)
	require.Equal(t, "Hi<think></think>", got)

	plain, err := ReadTemplate(dir, false)
	require.NoError(t, err)
	got, err = plain.Render(msgs, true)
	require.NoError(t, err)
	require.Equal(t, "Hi", got)
	require.Equal(t, map[string]any{"enable_thinking": false}, a2d.Family.TemplateVars)
}

// chat_template may be a string or a list of named templates.
func TestChatTemplateField(t *testing.T) {
	bertJinja, err := json.Marshal(data.ChatTemplateJinja)
	require.NoError(t, err)
	cases := []struct {
		name, js, want, err string
	}{
		{"absent", `{}`, "", ""},
		{"null", `{"chat_template": null}`, "", ""},
		{"string", `{"chat_template": ` + string(bertJinja) + `}`, data.ChatTemplateJinja, ""},
		{"list with default", `{"chat_template": [{"name": "tool_use", "template": "x"}, {"name": "default", "template": "y"}]}`, "y", ""},
		{"list without default", `{"chat_template": [{"name": "rag", "template": "z"}, {"name": "tool_use", "template": "t"}]}`, "", "chat_template lists templates rag, tool_use and none is named default"},
		{"number", `{"chat_template": 3}`, "", "neither a string nor a list"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := chatTemplateField([]byte(c.js))
			if c.err != "" {
				require.ErrorContains(t, err, c.err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, c.want, got)
		})
	}
}

// shiftedBert is the legacy model claiming shifted logits.
type shiftedBert struct{ lm.Model }

func (s shiftedBert) Spec() lm.Spec {
	sp := s.Model.Spec()
	sp.ShiftLogits = true
	return sp
}

func TestDenoiserShifts(t *testing.T) {
	b, err := Open(filepath.Join(legacyDir, "model"), tensor.CPU())
	require.NoError(t, err)
	require.Same(t, b.Model, b.Denoiser(), "an unshifted model samples as it is")

	ids := []int32{5, 6, 7, 8, 9, 10}
	plain, err := b.Model.Logits(ids, 1, 6, nil, []int32{0, 2, 4})
	require.NoError(t, err)
	b.Model = shiftedBert{b.Model}
	got, err := b.Denoiser().Logits(ids, 1, 6, nil, []int32{0, 3, 5})
	require.NoError(t, err)
	require.Equal(t, plain, got, "rows 0, 3, 5 read the logits of 0, 2, 4")
}

// TestAnswerCutsPartialEndMarker: what the samplers left of the end marker
// when the padding cut it short ("[/Answer" at temperature > 0) or they
// wrote it garbled ("AnswerAnswer]", the ancestral sampler) is not part of
// the answer generate prints and eval scores.
func TestAnswerCutsPartialEndMarker(t *testing.T) {
	b, err := Open(filepath.Join(legacyDir, "model"), tensor.CPU())
	require.NoError(t, err)
	for text, want := range map[string]string{
		"fox tree [/Answer":       "fox tree",
		"fox tree\n[/Answer]\n":   "fox tree",
		"fox tree AnswerAnswer]":  "fox tree",
		"fox tree":                "fox tree",
		"fox [1, 2] tree Answer ": "fox [1, 2] tree Answer",
	} {
		ids := toInt32(b.Tokenizer.Encode(text, false))
		require.Equal(t, want, b.Answer(ids), "%q", text)
	}
}

// chatTemplateField reads chat_template from a tokenizer_config.json as
// the folder's template is picked (no tools).
func chatTemplateField(js []byte) (string, error) {
	var raw struct {
		ChatTemplate chatTemplateText `json:"chat_template"`
	}
	if err := json.Unmarshal(js, &raw); err != nil {
		return "", jsonError(err)
	}
	return raw.ChatTemplate.pick(false)
}

// GenerationFor sizes the canvas to the longest training answer (a
// multiple of 8 with room, at most 128 tokens), one step per token, in
// blocks of SFTBlockSize, never longer than the canvas.
func TestGenerationFor(t *testing.T) {
	for _, tc := range []struct{ longest, canvas int }{
		{1, 8}, {4, 8}, {5, 16}, {20, 24}, {124, 128}, {500, 128},
	} {
		g := GenerationFor(tc.longest)
		require.Equal(t, [3]int{tc.canvas, tc.canvas, SFTBlockSize}, [3]int{g.MaxNewTokens, g.Steps, g.BlockSize}, "longest %d", tc.longest)
		require.Zero(t, g.MaxNewTokens%g.BlockSize, "longest %d: the canvas is whole blocks", tc.longest)
	}
	require.Less(t, SFTBlockSize, mdlm.DefaultBlockSize)
}
