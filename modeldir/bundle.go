package modeldir

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"

	"github.com/dllmgo/dllm/chattemplate"
	"github.com/dllmgo/dllm/data"
	"github.com/dllmgo/dllm/data/tokenizer"
	"github.com/dllmgo/dllm/internal/atomicfile"
	"github.com/dllmgo/dllm/lm"
	"github.com/dllmgo/dllm/mdlm"
	"github.com/dllmgo/dllm/tensor"
)

// Files of a model folder besides config.json and the weights.
const (
	TokenizerFile        = "tokenizer.json"
	TokenizerConfigFile  = "tokenizer_config.json"
	GenerationConfigFile = "generation_config.json"
)

// Bundle is everything needed to use a chat model: the network, its
// tokenizer, its chat template and the special tokens the diffusion process
// relies on. It is what a model folder holds.
type Bundle struct {
	Model     lm.Model
	Tokenizer *tokenizer.Tokenizer
	Template  data.Template
	// MaskID is the absorbing state of the diffusion; PadID fills the canvas
	// and ends an answer.
	MaskID, PadID int32
	// BOSID and EOSID are lm.NoToken when the folder names none.
	BOSID, EOSID int32
	// Suppress lists special tokens an answer never contains (ModernBERT's
	// [CLS], [SEP], [UNK]); the pad, mask and eos tokens are not among them.
	Suppress []int32
	// Stops are the token sequences that end an answer: the chat template's
	// end-of-turn marker, and the eos token when there is one.
	Stops [][]int32
	// Generation holds the model's default canvas sizes
	// (generation_config.json); zero fields take the chat defaults.
	Generation Generation
}

// Generation is the sampling default a model carries. A model trained on
// short answers has never seen a long run of padding after an answer, so a
// canvas far longer than its answers degrades what it writes; sft records
// a size that fits the training answers.
type Generation struct {
	MaxNewTokens int `json:"max_new_tokens,omitempty"`
	Steps        int `json:"steps,omitempty"`
	BlockSize    int `json:"block_size,omitempty"`
	// Sampler names the sampler the model was trained for when it is not
	// the masked-diffusion one: "bd3lm" for block diffusion, whose
	// BlockSize is then the training block size.
	Sampler string `json:"sampler,omitempty"`

	// The sampling knobs, as Dream's and Hugging Face's generation_config.json
	// spell them; absent ones keep the sampler's defaults. A command-line
	// flag or a request field given explicitly overrides each.
	Temperature *float64 `json:"temperature,omitempty"`
	TopP        *float64 `json:"top_p,omitempty"`
	TopK        *int     `json:"top_k,omitempty"`
	// DoSample false (Hugging Face) means greedy decoding: temperature,
	// top_p and top_k are then ignored.
	DoSample *bool `json:"do_sample,omitempty"`
	// Alg is Dream's name for the remasking rule: maskgit_plus (=
	// low_confidence), entropy, topk_margin, or origin (each mask revealed
	// independently: random remasking with binomial counts).
	Alg string `json:"alg,omitempty"`
	// AlgTemp > 0 samples the revealed positions from softmax(conf/AlgTemp).
	AlgTemp *float64 `json:"alg_temp,omitempty"`
	// Remasking is dllm's own spelling of Alg (low_confidence, random,
	// entropy, topk_margin); Alg wins when both are present.
	Remasking string   `json:"remasking,omitempty"`
	Threshold *float64 `json:"threshold,omitempty"`
	CFGScale  *float64 `json:"cfg_scale,omitempty"`
}

// check refuses knobs no sampler can run: the error names the key.
func (g Generation) check() error {
	bad := func(key string, v any, want string) error {
		return fmt.Errorf("%s is %v, want %s", key, v, want)
	}
	finite := func(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }
	switch {
	case g.MaxNewTokens < 0 || g.Steps < 0 || g.BlockSize < 0:
		return fmt.Errorf("negative sizes (max_new_tokens %d, steps %d, block_size %d)", g.MaxNewTokens, g.Steps, g.BlockSize)
	case g.Temperature != nil && !(*g.Temperature >= 0 && finite(*g.Temperature)):
		return bad("temperature", *g.Temperature, "a number >= 0")
	case g.TopP != nil && !(*g.TopP > 0 && *g.TopP <= 1):
		return bad("top_p", *g.TopP, "a number in (0, 1]")
	case g.TopK != nil && *g.TopK < 0:
		return bad("top_k", *g.TopK, "an integer >= 0")
	case g.AlgTemp != nil && !(*g.AlgTemp >= 0 && finite(*g.AlgTemp)):
		return bad("alg_temp", *g.AlgTemp, "a number >= 0")
	case g.Threshold != nil && !(*g.Threshold >= 0 && *g.Threshold <= 1):
		return bad("threshold", *g.Threshold, "a number in [0, 1]")
	case g.CFGScale != nil && !(*g.CFGScale >= 0 && finite(*g.CFGScale)):
		return bad("cfg_scale", *g.CFGScale, "a number >= 0")
	}
	if _, _, err := g.remasking(); err != nil {
		return err
	}
	return nil
}

// remasking resolves Alg or Remasking: the rule, whether transfer counts
// are drawn (Dream's origin), and whether either key was present.
func (g Generation) remasking() (r mdlm.Remasking, stochastic bool, err error) {
	switch name := cmp.Or(g.Alg, g.Remasking); name {
	case "":
		return mdlm.LowConfidence, false, nil
	case "origin":
		return mdlm.RandomRemasking, true, nil
	default:
		r, err := mdlm.ParseRemasking(name)
		if err != nil {
			return r, false, fmt.Errorf("alg %q: want maskgit_plus, entropy, topk_margin, origin, low_confidence or random", name)
		}
		return r, false, nil
	}
}

// Knobs lists the sampling knobs the folder sets, by the name of the
// command-line flag each sets (a flag given explicitly wins).
func (g Generation) Knobs() []string {
	var k []string
	greedy := g.DoSample != nil && !*g.DoSample
	if g.Temperature != nil || greedy {
		k = append(k, "temperature")
	}
	if g.TopP != nil && !greedy {
		k = append(k, "top-p")
	}
	if g.TopK != nil && !greedy {
		k = append(k, "top-k")
	}
	if g.Alg != "" || g.Remasking != "" {
		k = append(k, "remasking")
		if g.Alg == "origin" {
			k = append(k, "stochastic-transfer")
		}
	}
	if g.AlgTemp != nil {
		k = append(k, "alg-temp")
	}
	if g.Threshold != nil {
		k = append(k, "threshold")
	}
	if g.CFGScale != nil {
		k = append(k, "cfg")
	}
	return k
}

// apply sets the knobs the folder gives on c (check has passed).
func (g Generation) apply(c *mdlm.SamplerConfig) {
	if g.DoSample != nil && !*g.DoSample {
		c.Temperature = 0
	} else {
		if g.Temperature != nil {
			c.Temperature = *g.Temperature
		}
		if g.TopP != nil {
			c.Truncation.TopP = *g.TopP
		}
		if g.TopK != nil {
			c.Truncation.TopK = *g.TopK
		}
	}
	if g.Alg != "" || g.Remasking != "" {
		c.Remasking, c.StochasticTransfer, _ = g.remasking()
	}
	if g.AlgTemp != nil {
		c.AlgTemp = *g.AlgTemp
	}
	if g.Threshold != nil {
		c.Threshold = *g.Threshold
	}
	if g.CFGScale != nil {
		c.CFGScale = *g.CFGScale
	}
}

// GenerationFor returns sampling defaults for answers of at most longest
// tokens: the canvas rounded up to a multiple of 8 with a little room,
// capped at the chat default of 128, one step per token, filled in blocks
// of SFTBlockSize tokens left to right.
func GenerationFor(longest int) Generation {
	n := min((longest+4+7)/8*8, mdlm.DefaultMaxNewTokens)
	return Generation{MaxNewTokens: n, Steps: n, BlockSize: min(n, SFTBlockSize)}
}

// SFTBlockSize is the block GenerationFor writes into the folders sft
// trains: 8 tokens, where the reference samples in blocks of 32
// (mdlm.DefaultBlockSize). A small model trained for minutes is unsure how
// long its answer is; filling the whole canvas at once it often commits the
// answer's closing tag or padding first and cuts the answer short, which
// semi-autoregressive blocks prevent. Measured on held-out questions of the
// nine mixed synthetic tasks (300 each, three tiny-width models trained
// 11 to 15 minutes): exact match 55.7%, 62.0%, 60.0% with one 24-token
// block; 63.3%, 65.0%, 66.0% with blocks of 8 (copy and reverse went from
// 61% and 74% to 100% for the first model; word problems from 58% and 68%
// to 82% and 88% for the others). Blocks of 4 and 12 scored within a point
// of 8. --block-size overrides it.
const SFTBlockSize = 8

// sources are what the special tokens are resolved from, most trusted
// first; any may be empty.
type sources struct {
	tc  tokenizerConfig
	gen generationConfig
}

// NewBundle ties a fresh or loaded model to a tokenizer with no
// tokenizer_config.json: the special tokens come from the model's config
// ids, then from the tokenizer's usual names; the template is the BERT chat
// template.
func NewBundle(m lm.Model, tok *tokenizer.Tokenizer) (*Bundle, error) {
	return newBundle(m, tok, data.BertChatTemplate{}, sources{})
}

func newBundle(m lm.Model, tok *tokenizer.Tokenizer, tpl data.Template, src sources) (*Bundle, error) {
	b := &Bundle{Model: m, Tokenizer: tok, Template: tpl}
	spec := m.Spec()
	usual := tok.Specials()
	byName := func(n tokenName) (int32, error) {
		if n == "" {
			return lm.NoToken, nil
		}
		if id, ok := tok.TokenToID(string(n)); ok {
			return int32(id), nil
		}
		if id, ok := src.tc.addedID(string(n)); ok {
			return id, nil
		}
		return 0, fmt.Errorf("%s names %q, which the tokenizer does not have", TokenizerConfigFile, n)
	}
	// resolve picks the first source that names the token.
	resolve := func(name tokenName, gen idField, specID int32, usualID int) (int32, error) {
		id, err := byName(name)
		if err != nil || id != lm.NoToken {
			return id, err
		}
		if g, ok := gen.first(); ok {
			return g, nil
		}
		if specID != lm.NoToken {
			return specID, nil
		}
		if usualID >= 0 {
			return int32(usualID), nil
		}
		return lm.NoToken, nil
	}
	var err error
	if b.MaskID, err = resolve(src.tc.MaskToken, src.gen.MaskTokenID, spec.MaskID, usual.Mask); err != nil {
		return nil, err
	}
	if src.tc.MaskToken != "" && spec.MaskID != lm.NoToken && b.MaskID != spec.MaskID {
		return nil, fmt.Errorf("%s: mask_token %q is token %d, but config.json's mask_token_id is %d: the model would denoise a token it was not trained on",
			TokenizerConfigFile, src.tc.MaskToken, b.MaskID, spec.MaskID)
	}
	if b.PadID, err = resolve(src.tc.PadToken, src.gen.PadTokenID, spec.PadID, usual.Pad); err != nil {
		return nil, err
	}
	if b.BOSID, err = resolve(src.tc.BosToken, src.gen.BOSTokenID, spec.BOSID, -1); err != nil {
		return nil, err
	}
	if b.EOSID, err = resolve(src.tc.EosToken, src.gen.EOSTokenID, spec.EOSID, -1); err != nil {
		return nil, err
	}
	if b.PadID == lm.NoToken {
		b.PadID = b.EOSID // Dream and LLaDA pad with their end of text
	}
	switch {
	case b.MaskID == lm.NoToken:
		return nil, fmt.Errorf("no mask token: %s names no mask_token, %s and config.json no mask_token_id, and the tokenizer has no [MASK]", TokenizerConfigFile, GenerationConfigFile)
	case b.PadID == lm.NoToken:
		return nil, fmt.Errorf("no pad or eos token: %s names neither, nor do %s and config.json, and the tokenizer has no [PAD]", TokenizerConfigFile, GenerationConfigFile)
	}
	v := m.VocabSize()
	for _, id := range []int32{b.MaskID, b.PadID, b.BOSID, b.EOSID} {
		if id >= int32(v) || id < lm.NoToken {
			return nil, fmt.Errorf("special token id %d is outside the model's vocabulary of %d", id, v)
		}
	}
	if tok.VocabSize() > v {
		return nil, fmt.Errorf("tokenizer has %d tokens, model only %d", tok.VocabSize(), v)
	}
	// Special tokens an answer never holds: named in tokenizer_config.json,
	// or found under their usual names.
	keep := map[int32]bool{b.MaskID: true, b.PadID: true, b.EOSID: true, lm.NoToken: true}
	for _, s := range []struct {
		name  tokenName
		usual int
	}{{src.tc.ClsToken, usual.Cls}, {src.tc.SepToken, usual.Sep}, {src.tc.UnkToken, usual.Unk}} {
		id, err := byName(s.name)
		if err != nil {
			return nil, err
		}
		if id == lm.NoToken && s.usual >= 0 {
			id = int32(s.usual)
		}
		if !keep[id] {
			b.Suppress = append(b.Suppress, id)
			keep[id] = true
		}
	}
	if !keep[b.BOSID] {
		b.Suppress = append(b.Suppress, b.BOSID)
	}
	if eot := b.Template.EndOfTurn(); eot != "" {
		b.Stops = [][]int32{toInt32(tok.Encode(eot, false))}
	}
	if eos := []int32{b.EOSID}; b.EOSID != lm.NoToken && b.EOSID != b.PadID &&
		!slices.ContainsFunc(b.Stops, func(s []int32) bool { return slices.Equal(s, eos) }) {
		b.Stops = append(b.Stops, eos)
	}
	return b, nil
}

// Open reads a model folder: config.json and the weights through the
// family its model_type names, tokenizer.json, and (when present)
// tokenizer_config.json with its special tokens and chat template and
// generation_config.json with the sampling defaults. Errors name the folder
// or the file.
func Open(dir string, be tensor.Backend) (*Bundle, error) {
	return OpenWith(dir, be, Options{})
}

// OpenWith is Open with options.
func OpenWith(dir string, be tensor.Backend, opt Options) (*Bundle, error) {
	fam, _, err := Detect(dir)
	if err != nil {
		return nil, err
	}
	tokPath := filepath.Join(dir, TokenizerFile)
	if _, err := os.Stat(tokPath); err != nil {
		return nil, fmt.Errorf("%s: no %s: a chat model folder needs its tokenizer", dir, TokenizerFile)
	}
	m, err := load(fam, dir, be, opt)
	if err != nil {
		return nil, err
	}
	tok, err := tokenizer.Load(tokPath)
	if err != nil {
		return nil, err
	}
	return Attach(dir, m, tok)
}

// Attach ties a model already in memory (loaded from dir, or resumed) and
// a tokenizer to the special tokens, chat template and generation defaults
// of dir's tokenizer_config.json and generation_config.json, without
// reading the weights again.
func Attach(dir string, m lm.Model, tok *tokenizer.Tokenizer) (*Bundle, error) {
	cfgPath := filepath.Join(dir, TokenizerConfigFile)
	tcJS, err := readOptional(cfgPath)
	if err != nil {
		return nil, err
	}
	genPath := filepath.Join(dir, GenerationConfigFile)
	genJS, err := readOptional(genPath)
	if err != nil {
		return nil, err
	}
	return attach(dir, m, tok, tcJS, genJS)
}

// attach is Attach on the bytes of tokenizer_config.json and
// generation_config.json (nil when absent): the parsers the fuzzers reach.
func attach(dir string, m lm.Model, tok *tokenizer.Tokenizer, tcJS, genJS []byte) (*Bundle, error) {
	var src sources
	var extra map[string]any
	if fam, err := Family(m.Spec().Family); err == nil {
		extra = fam.TemplateVars
	}
	tpl, err := parseTemplate(filepath.Join(dir, TokenizerConfigFile), tcJS, extra, false)
	if err != nil {
		return nil, err
	}
	if tcJS != nil {
		_ = json.Unmarshal(tcJS, &src.tc) // parseTemplate read it
	}
	if genJS != nil {
		genPath := filepath.Join(dir, GenerationConfigFile)
		if err := json.Unmarshal(genJS, &src.gen); err != nil {
			return nil, fmt.Errorf("%s: %v", genPath, err)
		}
		if err := src.gen.Generation.check(); err != nil {
			return nil, fmt.Errorf("%s: %v", genPath, err)
		}
	}
	b, err := newBundle(m, tok, tpl, src)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", dir, err)
	}
	b.Generation = src.gen.Generation
	return b, nil
}

// ReadTemplate reads the chat template of dir's tokenizer_config.json,
// compiled with the special tokens that file names, as transformers'
// apply_chat_template renders it (package chattemplate); the BERT chat
// template when the folder has no tokenizer_config.json, it carries no
// chat_template, or its chat_template is exactly the BERT template's text. It needs no other file. A template that does not compile,
// recurses or does not finish is an error naming the file.
//
// With tools, a list of named templates gives its "tool_use" one when it
// has one, as transformers chooses.
func ReadTemplate(dir string, tools bool) (data.Template, error) {
	return readTemplate(dir, nil, tools)
}

// readTemplate is ReadTemplate with extra variables for every rendering
// (lm.Family.TemplateVars).
func readTemplate(dir string, extra map[string]any, tools bool) (data.Template, error) {
	path := filepath.Join(dir, TokenizerConfigFile)
	js, err := readOptional(path)
	if err != nil {
		return nil, err
	}
	return parseTemplate(path, js, extra, tools)
}

// parseTemplate is readTemplate on the bytes js of the tokenizer_config.json
// at path (nil when the folder has none).
func parseTemplate(path string, js []byte, extra map[string]any, tools bool) (data.Template, error) {
	if js == nil {
		return data.BertChat, nil
	}
	var tc tokenizerConfig
	if err := json.Unmarshal(js, &tc); err != nil {
		return nil, fmt.Errorf("%s: %v", path, jsonError(err))
	}
	text, err := tc.ChatTemplate.pick(tools)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	if strings.TrimSpace(text) == "" || text == data.ChatTemplateJinja {
		// The BERT chat template, as this project writes it: rendered
		// natively, which strips whitespace exactly as Python does (the
		// engine's trim keeps U+001C..U+001F).
		return data.BertChat, nil
	}
	vars := tc.templateVars()
	for k, v := range extra {
		vars[k] = v
	}
	tpl, err := chattemplate.Parse(text, vars)
	if err != nil {
		return nil, fmt.Errorf("%s: chat_template: %v", path, oneLine(err))
	}
	return tpl, nil
}

// jsonError is the message of a decoding error, without the Go type names
// json.Unmarshal adds when a field's own decoder fails.
func jsonError(err error) error {
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	if errors.As(err, &syntax) || errors.As(err, &typ) {
		return err
	}
	if inner := errors.Unwrap(err); inner != nil {
		return inner
	}
	return err
}

// oneLine keeps an error to one line.
func oneLine(err error) string {
	return strings.Join(strings.Fields(err.Error()), " ")
}

// readOptional reads a file that may be absent (nil, nil).
func readOptional(path string) ([]byte, error) {
	js, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	return js, err
}

// Save writes the whole model folder, each file atomically: the model's
// config.json and weights, tokenizer.json, tokenizer_config.json (special
// tokens by name, the chat template) and generation_config.json.
func (b *Bundle) Save(dir string) error {
	if err := b.Model.Save(dir); err != nil {
		return err
	}
	if err := b.Tokenizer.Save(filepath.Join(dir, TokenizerFile)); err != nil {
		return err
	}
	name := func(id int32) tokenName {
		if id == lm.NoToken {
			return ""
		}
		s, _ := b.Tokenizer.IDToToken(int(id))
		return tokenName(s)
	}
	tc := tokenizerConfig{
		TokenizerClass: "PreTrainedTokenizerFast",
		ChatTemplate:   chatTemplateText{Default: b.Template.Jinja()},
		MaskToken:      name(b.MaskID), PadToken: name(b.PadID),
		ModelMaxLength: maxLength(b.Model.Spec().MaxPositions),
	}
	usual := b.Tokenizer.Specials()
	for _, s := range []struct {
		id  int
		dst *tokenName
	}{{usual.Cls, &tc.ClsToken}, {usual.Sep, &tc.SepToken}, {usual.Unk, &tc.UnkToken}} {
		if s.id >= 0 {
			*s.dst = name(int32(s.id))
		}
	}
	tc.BosToken, tc.EosToken = name(b.BOSID), name(b.EOSID)
	if err := writeJSON(filepath.Join(dir, TokenizerConfigFile), tc); err != nil {
		return err
	}
	if !reflect.DeepEqual(b.Generation, Generation{}) {
		return writeJSON(filepath.Join(dir, GenerationConfigFile), b.Generation)
	}
	return nil
}

func writeJSON(path string, v any) error {
	js, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.WriteBytes(path, append(js, '\n'), 0o644)
}

// Prompt renders a conversation that ends with a user turn, plus the
// generation prompt, as token ids.
func (b *Bundle) Prompt(messages []data.Message) ([]int32, error) {
	text, err := b.Template.Render(messages, true)
	if err != nil {
		return nil, err
	}
	return toInt32(b.Tokenizer.Encode(text, false)), nil
}

// SamplerConfig returns the chat defaults with this model's special tokens.
func (b *Bundle) SamplerConfig() mdlm.SamplerConfig {
	c := mdlm.DefaultSamplerConfig(b.MaskID, b.PadID)
	if g := b.Generation; g.MaxNewTokens > 0 {
		c.MaxNewTokens = g.MaxNewTokens
		c.Steps = cmp.Or(g.Steps, g.MaxNewTokens)
		c.BlockSize = min(cmp.Or(g.BlockSize, mdlm.DefaultBlockSize), g.MaxNewTokens)
	}
	b.Generation.apply(&c)
	c.StopSequences = b.Stops
	c.SuppressTokens = b.Suppress
	return c
}

// Denoiser is the model as the samplers use it: shifted (mdlm.Shifted) when
// its logits predict the next position, else the model itself (which keeps
// its optional abilities, such as mdlm.BlockCacher).
func (b *Bundle) Denoiser() mdlm.Denoiser {
	if b.Model.Spec().ShiftLogits {
		return mdlm.Shifted(b.Model)
	}
	return b.Model
}

// MaxPositions is the longest sequence the model takes (0: no limit).
func (b *Bundle) MaxPositions() int { return b.Model.Spec().MaxPositions }

// Answer is the text of a generated answer: decoded, special tokens
// skipped, cut at the template's end-of-turn marker or what is left of one
// (data.CutEndMarker), surrounding whitespace trimmed (what generate prints
// and eval compares, with data.SameAnswer, to the reference).
func (b *Bundle) Answer(ids []int32) string {
	return data.CutEndMarker(b.Decode(ids), b.Template.EndOfTurn())
}

// Decode turns answer ids into text.
func (b *Bundle) Decode(ids []int32) string {
	out := make([]int, len(ids))
	for i, id := range ids {
		out[i] = int(id)
	}
	return b.Tokenizer.Decode(out, true)
}

func toInt32(ids []int) []int32 {
	out := make([]int32, len(ids))
	for i, id := range ids {
		out[i] = int32(id)
	}
	return out
}
