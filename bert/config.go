package bert

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/dllmgo/dllm/internal/atomicfile"
	"github.com/dllmgo/dllm/lm"
)

// Attention kinds of a layer, spelled as in Hugging Face's layer_types.
const (
	FullAttention    = "full_attention"    // global: every token sees every token
	SlidingAttention = "sliding_attention" // local: a window of LocalAttention/2 each side
)

// NoToken marks a special-token id that the config leaves unset (JSON null, or
// absent where transformers has no default).
const NoToken = -1

// Config is a ModernBERT configuration: the model's shape and the few numbers its
// arithmetic depends on. The JSON names in comments are Hugging Face's.
type Config struct {
	VocabSize        int // vocab_size: rows of the token embedding and of the logits
	HiddenSize       int // hidden_size
	IntermediateSize int // intermediate_size: GeGLU width; mlp.Wi has 2x as many rows
	NumLayers        int // num_hidden_layers
	NumHeads         int // num_attention_heads; head dim = HiddenSize / NumHeads
	MaxPositions     int // max_position_embeddings: longest sequence (RoPE has no table)

	// LocalAttention is local_attention, the total sliding window: on a sliding
	// layer, query i sees key j iff |i-j| <= LocalAttention/2.
	LocalAttention int
	// LayerTypes holds FullAttention or SlidingAttention per layer (layer_types).
	// Older configs give global_attn_every_n_layers = n instead, meaning layer i
	// is global iff i%n == 0; LayersEvery builds that list.
	LayerTypes []string

	GlobalRopeTheta float64 // RoPE base of full-attention layers
	LocalRopeTheta  float64 // RoPE base of sliding layers

	NormEps           float64 // norm_eps of every LayerNorm
	InitializerRange  float64 // initializer_range: std of the truncated-normal init
	InitializerCutoff float64 // initializer_cutoff_factor: truncation at ±cutoff·std

	// Special tokens. PadTokenID is the embedding's padding_idx (its row gets no
	// gradient). The rest are informational: the tokenizer is the authority, and
	// transformers writes its defaults (50281...) even for other vocabularies.
	PadTokenID, BOSTokenID, EOSTokenID, CLSTokenID, SEPTokenID, MaskTokenID int

	// TieWordEmbeddings must be true: the decoder reuses the token embeddings.
	TieWordEmbeddings bool

	// Dropout probabilities; the released models use 0 everywhere.
	EmbeddingDropout, AttentionDropout, MLPDropout, ClassifierDropout float64

	// ClassifierPooling ("cls" or "mean") matters only to sequence classifiers;
	// it is kept so that a config survives a round trip.
	ClassifierPooling string
	// DType is the weights' dtype as config.json records it ("float32",
	// "bfloat16"); "" leaves it out.
	DType string
}

// LayersEvery returns layer types for numLayers layers with a global layer every
// n layers, starting with layer 0 (transformers' rule for global_attn_every_n_layers);
// none for a count below one (which Validate refuses).
func LayersEvery(numLayers, n int) []string {
	types := make([]string, max(numLayers, 0))
	for i := range types {
		types[i] = SlidingAttention
		if n > 0 && i%n == 0 {
			types[i] = FullAttention
		}
	}
	return types
}

// IsGlobal reports whether layer attends globally.
func (c Config) IsGlobal(layer int) bool {
	return layer >= 0 && layer < len(c.LayerTypes) && c.LayerTypes[layer] == FullAttention
}

// GlobalEvery returns the smallest n such that LayerTypes is "global every n
// layers from layer 0" (the only pattern older configs can express), or 0 when
// LayerTypes follows no such pattern.
func (c Config) GlobalEvery() int {
	for n := 1; n <= len(c.LayerTypes); n++ {
		if slices.Equal(c.LayerTypes, LayersEvery(len(c.LayerTypes), n)) {
			return n
		}
	}
	return 0
}

// HeadDim is the width of one attention head.
func (c Config) HeadDim() int { return c.HiddenSize / c.NumHeads }

// SlidingWindow is the half window of a sliding layer: keys within this distance
// of the query are visible.
func (c Config) SlidingWindow() int { return c.LocalAttention / 2 }

// checkSizes refuses sizes past lm's limits.
func (c Config) checkSizes() error {
	return lm.CheckSizes(
		lm.Size{Key: "num_hidden_layers", Value: c.NumLayers, Max: lm.MaxLayers},
		lm.Size{Key: "hidden_size", Value: c.HiddenSize, Max: lm.MaxWidth},
		lm.Size{Key: "intermediate_size", Value: c.IntermediateSize, Max: lm.MaxWidth},
		lm.Size{Key: "num_attention_heads", Value: c.NumHeads, Max: lm.MaxHeads},
		lm.Size{Key: "vocab_size", Value: c.VocabSize, Max: lm.MaxVocab},
		lm.Size{Key: "max_position_embeddings", Value: c.MaxPositions, Max: lm.MaxPositions},
		lm.Size{Key: "local_attention", Value: c.LocalAttention, Max: lm.MaxPositions},
	)
}

// Validate checks that c describes a model this package implements. Errors name
// the Hugging Face field.
func (c Config) Validate() error {
	if err := c.checkSizes(); err != nil {
		return err
	}
	positive := []struct {
		name string
		v    int
	}{
		{"vocab_size", c.VocabSize}, {"hidden_size", c.HiddenSize},
		{"intermediate_size", c.IntermediateSize}, {"num_hidden_layers", c.NumLayers},
		{"num_attention_heads", c.NumHeads}, {"max_position_embeddings", c.MaxPositions},
		{"local_attention", c.LocalAttention},
	}
	for _, p := range positive {
		if p.v <= 0 {
			return fmt.Errorf("%s must be positive, got %d", p.name, p.v)
		}
	}
	if c.HiddenSize%c.NumHeads != 0 {
		return fmt.Errorf("hidden_size %d is not divisible by num_attention_heads %d", c.HiddenSize, c.NumHeads)
	}
	if c.HeadDim()%2 != 0 {
		// RoPE rotates dimension k with k+d/2, so a head needs an even width.
		return fmt.Errorf("head dimension hidden_size/num_attention_heads = %d must be even for rotary embeddings", c.HeadDim())
	}
	if len(c.LayerTypes) != c.NumLayers {
		return fmt.Errorf("layer_types has %d entries for num_hidden_layers %d", len(c.LayerTypes), c.NumLayers)
	}
	for i, t := range c.LayerTypes {
		if t != FullAttention && t != SlidingAttention {
			return fmt.Errorf("layer_types[%d] = %q: want %q or %q", i, t, FullAttention, SlidingAttention)
		}
	}
	floats := []struct {
		name string
		v    float64
	}{
		{"rope_parameters.full_attention.rope_theta", c.GlobalRopeTheta},
		{"rope_parameters.sliding_attention.rope_theta", c.LocalRopeTheta},
		{"norm_eps", c.NormEps}, {"initializer_range", c.InitializerRange},
		{"initializer_cutoff_factor", c.InitializerCutoff},
	}
	for _, f := range floats {
		if !(f.v > 0) || math.IsInf(f.v, 0) {
			return fmt.Errorf("%s must be positive and finite, got %v", f.name, f.v)
		}
	}
	drops := []struct {
		name string
		v    float64
	}{
		{"embedding_dropout", c.EmbeddingDropout}, {"attention_dropout", c.AttentionDropout},
		{"mlp_dropout", c.MLPDropout}, {"classifier_dropout", c.ClassifierDropout},
	}
	for _, d := range drops {
		if !(d.v >= 0 && d.v < 1) {
			return fmt.Errorf("%s must be in [0, 1), got %v", d.name, d.v)
		}
	}
	if c.PadTokenID != NoToken && (c.PadTokenID < 0 || c.PadTokenID >= c.VocabSize) {
		return fmt.Errorf("pad_token_id %d is outside the vocabulary of %d", c.PadTokenID, c.VocabSize)
	}
	ids := []struct {
		name string
		v    int
	}{
		{"bos_token_id", c.BOSTokenID}, {"eos_token_id", c.EOSTokenID}, {"cls_token_id", c.CLSTokenID},
		{"sep_token_id", c.SEPTokenID}, {"mask_token_id", c.MaskTokenID},
	}
	for _, id := range ids {
		if id.v < NoToken {
			return fmt.Errorf("%s must be a token id or null, got %d", id.name, id.v)
		}
	}
	if !c.TieWordEmbeddings {
		return fmt.Errorf("tie_word_embeddings false is not supported: the decoder is the token embedding matrix")
	}
	if c.ClassifierPooling != "cls" && c.ClassifierPooling != "mean" {
		return fmt.Errorf("classifier_pooling %q: want \"cls\" or \"mean\"", c.ClassifierPooling)
	}
	return nil
}

// ParamSpec names one parameter tensor as Hugging Face stores it.
type ParamSpec struct {
	Name  string
	Shape []int
}

// Elements is the number of values in the parameter.
func (p ParamSpec) Elements() int {
	n := 1
	for _, d := range p.Shape {
		n *= d
	}
	return n
}

// ParamShapes lists every parameter of ModernBertForMaskedLM in canonical order:
// embeddings, then each layer (attn_norm absent on layer 0, whose input is the
// already normalised embeddings), the final norm, and the masked-LM head. The
// decoder weight is tied to the token embeddings and is not listed.
func (c Config) ParamShapes() []ParamSpec {
	h, v := c.HiddenSize, c.VocabSize
	specs := []ParamSpec{
		{"model.embeddings.tok_embeddings.weight", []int{v, h}},
		{"model.embeddings.norm.weight", []int{h}},
	}
	for i := range c.NumLayers {
		pre := "model.layers." + strconv.Itoa(i) + "."
		if i > 0 {
			specs = append(specs, ParamSpec{pre + "attn_norm.weight", []int{h}})
		}
		specs = append(specs,
			ParamSpec{pre + "attn.Wqkv.weight", []int{3 * h, h}},
			ParamSpec{pre + "attn.Wo.weight", []int{h, h}},
			ParamSpec{pre + "mlp_norm.weight", []int{h}},
			ParamSpec{pre + "mlp.Wi.weight", []int{2 * c.IntermediateSize, h}},
			ParamSpec{pre + "mlp.Wo.weight", []int{h, c.IntermediateSize}},
		)
	}
	return append(specs,
		ParamSpec{"model.final_norm.weight", []int{h}},
		ParamSpec{"head.dense.weight", []int{h, h}},
		ParamSpec{"head.norm.weight", []int{h}},
		ParamSpec{"decoder.bias", []int{v}},
	)
}

// ParamCount is the number of parameters of ModernBertForMaskedLM, tied decoder
// counted once (149,655,232 for modernbert-base).
func (c Config) ParamCount() int {
	n := 0
	for _, p := range c.ParamShapes() {
		n += p.Elements()
	}
	return n
}

// BackboneParamCount is the number of parameters of the encoder alone, without
// the masked-LM head (149,014,272 for modernbert-base).
func (c Config) BackboneParamCount() int {
	n := 0
	for _, p := range c.ParamShapes() {
		if strings.HasPrefix(p.Name, "model.") {
			n += p.Elements()
		}
	}
	return n
}

// Presets. The released models use the ModernBERT tokenizer (vocabulary 50368,
// [CLS]=50281, [SEP]=50282, [PAD]=50283, [MASK]=50284); every preset starts
// with those, and a model trained with another tokenizer sets VocabSize and the
// token ids from it.
var presets = map[string]Config{
	// ModernBERT-base: 149M parameters, 22 layers, width 768.
	"modernbert-base": released(768, 1152, 22, 12),
	// ModernBERT-large: 395M parameters, 28 layers, width 1024.
	"modernbert-large": released(1024, 2624, 28, 16),
	// tiny: width 128, 4 layers (0 and 3 global), 4 heads of 32, GeGLU 256,
	// window 64, 512 positions: 673,024 parameters plus 129 per vocabulary entry
	// (an embedding row and a decoder bias). Initialised at σ 0.1 (see small).
	"tiny": small(128, 256, 4, 4, 64, 512, 0.1),
	// small: width 256, 6 layers (0 and 3 global), 4 heads of 64, GeGLU 384,
	// window 128, 1024 positions: 3,411,456 parameters plus 257 per vocabulary
	// entry. The CPU reference model of PERF.md (which uses vocabulary 4096).
	// Initialised at σ 0.07.
	"small": small(256, 384, 6, 4, 128, 1024, 0.07),
}

func released(hidden, inter, layers, heads int) Config {
	return Config{
		VocabSize: 50368, HiddenSize: hidden, IntermediateSize: inter, NumLayers: layers, NumHeads: heads,
		MaxPositions: 8192, LocalAttention: 128, LayerTypes: LayersEvery(layers, 3),
		GlobalRopeTheta: 160000, LocalRopeTheta: 10000,
		NormEps: 1e-5, InitializerRange: 0.02, InitializerCutoff: 2,
		PadTokenID: 50283, BOSTokenID: 50281, EOSTokenID: 50282, CLSTokenID: 50281, SEPTokenID: 50282,
		MaskTokenID: 50284, TieWordEmbeddings: true, ClassifierPooling: "cls",
	}
}

// small is a CPU-sized configuration. Its initializer_range σ is larger
// than the released models' 0.02, about 1.1/√width instead: 0.02 was chosen
// for width 768 and up, and at width 128 it starts every attention score and
// every residual write so close to zero that SFT from scratch sits on a
// plateau (the model answers without reading the prompt) for hundreds of
// steps before it learns to copy from the prompt. Measured on the copy task
// (4,000 conversations, 700 steps, one seed each): σ 0.02 left the held-out
// loss at 1.2 and 0-24% exact match, σ 0.06 and 0.1 reached 100% (loss 0.007
// and 0.002, the plateau ending at about step 250 and 150). The README's
// "Defaults that learn" has the mixed-task figures.
func small(hidden, inter, layers, heads, window, positions int, initStd float64) Config {
	c := released(hidden, inter, layers, heads)
	c.LocalAttention, c.MaxPositions, c.InitializerRange = window, positions, initStd
	return c
}

// PresetNames lists the names Preset knows, sorted.
func PresetNames() []string {
	names := make([]string, 0, len(presets))
	for n := range presets {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// Preset returns a named configuration: modernbert-base, modernbert-large, or the
// CPU-sized tiny and small.
func Preset(name string) (Config, error) {
	c, ok := presets[name]
	if !ok {
		return Config{}, fmt.Errorf("unknown model preset %q (known: %s)", name, strings.Join(PresetNames(), ", "))
	}
	c.LayerTypes = slices.Clone(c.LayerTypes)
	return c, nil
}

// LoadConfig reads a Hugging Face config.json; errors name the file.
func LoadConfig(path string) (Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Config{}, err
	}
	c, err := ParseConfig(data)
	if err != nil {
		return Config{}, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

// SaveConfig writes c to path as a config.json that transformers loads as
// ModernBertForMaskedLM, atomically.
func SaveConfig(path string, c Config) error {
	data, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return atomicfile.WriteBytes(path, append(data, '\n'), 0o644)
}

// UnmarshalJSON parses a config.json; see ParseConfig.
func (c *Config) UnmarshalJSON(data []byte) error {
	parsed, err := ParseConfig(data)
	if err != nil {
		return err
	}
	*c = parsed
	return nil
}

// ParseConfig parses a Hugging Face config.json for ModernBERT in either spelling:
//
//   - transformers 5: layer_types and rope_parameters.{full_attention,
//     sliding_attention}.rope_theta;
//   - the older hub one: global_attn_every_n_layers, global_rope_theta and
//     local_rope_theta.
//
// When both are present the transformers 5 fields win, as they do in
// transformers. Absent fields take transformers' defaults. Keys that do not
// change the computation (torch_dtype, position_embedding_type,
// sparse_prediction, ...) are ignored; settings this package does not implement
// (other activations, biases, untied embeddings, RoPE scaling) are errors that
// name the field.
func ParseConfig(data []byte) (Config, error) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		return Config{}, fmt.Errorf("not a JSON config: %v", err)
	}
	if raw == nil {
		return Config{}, fmt.Errorf("not a JSON config: want an object")
	}
	r := fieldReader{raw: raw}
	c := Config{
		VocabSize:         r.int("vocab_size", 50368),
		HiddenSize:        r.int("hidden_size", 768),
		IntermediateSize:  r.int("intermediate_size", 1152),
		NumLayers:         r.int("num_hidden_layers", 22),
		NumHeads:          r.int("num_attention_heads", 12),
		MaxPositions:      r.int("max_position_embeddings", 8192),
		LocalAttention:    r.int("local_attention", 128),
		InitializerRange:  r.float("initializer_range", 0.02),
		InitializerCutoff: r.float("initializer_cutoff_factor", 2),
		PadTokenID:        r.tokenID("pad_token_id", 50283),
		BOSTokenID:        r.tokenID("bos_token_id", 50281),
		EOSTokenID:        r.tokenID("eos_token_id", 50282),
		CLSTokenID:        r.tokenID("cls_token_id", 50281),
		SEPTokenID:        r.tokenID("sep_token_id", 50282),
		MaskTokenID:       r.tokenID("mask_token_id", NoToken),
		TieWordEmbeddings: r.bool("tie_word_embeddings", true),
		EmbeddingDropout:  r.float("embedding_dropout", 0),
		AttentionDropout:  r.float("attention_dropout", 0),
		MLPDropout:        r.float("mlp_dropout", 0),
		ClassifierDropout: r.float("classifier_dropout", 0),
		ClassifierPooling: r.string("classifier_pooling", "cls"),
		DType:             r.string("dtype", r.string("torch_dtype", "")),
	}
	if mt := r.string("model_type", "modernbert"); mt != "modernbert" {
		return Config{}, fmt.Errorf("model_type %q is not \"modernbert\"", mt)
	}

	// Fixed choices of the architecture: anything else is a different model.
	for _, want := range []struct {
		key, value string
	}{{"hidden_activation", "gelu"}, {"classifier_activation", "gelu"}} {
		if got := r.string(want.key, want.value); got != want.value {
			return Config{}, fmt.Errorf("%s %q is not supported (only %q)", want.key, got, want.value)
		}
	}
	for _, want := range []struct {
		key   string
		value bool
	}{{"norm_bias", false}, {"attention_bias", false}, {"mlp_bias", false}, {"classifier_bias", false}, {"decoder_bias", true}} {
		if got := r.bool(want.key, want.value); got != want.value {
			return Config{}, fmt.Errorf("%s %v is not supported (only %v)", want.key, got, want.value)
		}
	}

	// norm_eps is what transformers uses; legacy configs also carry layer_norm_eps,
	// which transformers ignores. Refuse the one case where that would silently
	// change the model: layer_norm_eps set to something else without norm_eps.
	c.NormEps = r.float("norm_eps", 1e-5)
	if _, has := raw["norm_eps"]; !has {
		if eps := r.float("layer_norm_eps", 1e-5); eps != 1e-5 {
			return Config{}, fmt.Errorf("layer_norm_eps %v without norm_eps: transformers ignores layer_norm_eps and would use norm_eps 1e-05; set norm_eps", eps)
		}
	}

	if err := c.checkSizes(); err != nil {
		return Config{}, err
	}
	// Layer pattern: layer_types, else global_attn_every_n_layers.
	c.LayerTypes = r.strings("layer_types")
	if c.LayerTypes == nil {
		every := r.int("global_attn_every_n_layers", 3)
		if every <= 0 {
			return Config{}, fmt.Errorf("global_attn_every_n_layers must be positive, got %d", every)
		}
		c.LayerTypes = LayersEvery(c.NumLayers, every)
	}

	// RoPE bases: rope_parameters per layer kind, else the legacy flat fields.
	if v, ok := raw["rope_scaling"]; ok && string(v) != "null" {
		return Config{}, fmt.Errorf("rope_scaling is not supported")
	}
	c.GlobalRopeTheta = r.float("global_rope_theta", 160000)
	c.LocalRopeTheta = r.float("local_rope_theta", 10000)
	if r.err == nil {
		if err := readRopeParameters(raw["rope_parameters"], &c); err != nil {
			return Config{}, err
		}
	}
	if r.err != nil {
		return Config{}, r.err
	}
	if err := c.Validate(); err != nil {
		return Config{}, err
	}
	return c, nil
}

// readRopeParameters applies rope_parameters, whose rope_theta per layer kind
// overrides the flat fields. Only unscaled RoPE (rope_type "default") exists here.
func readRopeParameters(raw json.RawMessage, c *Config) error {
	if raw == nil || string(raw) == "null" {
		return nil
	}
	var params map[string]map[string]json.RawMessage
	if err := json.Unmarshal(raw, &params); err != nil {
		return fmt.Errorf("rope_parameters: want {\"full_attention\": {...}, \"sliding_attention\": {...}}: %v", err)
	}
	for kind, p := range params {
		var theta *float64
		switch kind {
		case FullAttention:
			theta = &c.GlobalRopeTheta
		case SlidingAttention:
			theta = &c.LocalRopeTheta
		default:
			return fmt.Errorf("rope_parameters: unknown layer kind %q", kind)
		}
		r := fieldReader{raw: p, prefix: "rope_parameters." + kind + "."}
		if rt := r.string("rope_type", "default"); rt != "default" {
			return fmt.Errorf("rope_parameters.%s.rope_type %q is not supported (only \"default\")", kind, rt)
		}
		*theta = r.float("rope_theta", *theta)
		if r.err != nil {
			return r.err
		}
	}
	return nil
}

// fieldReader reads typed fields out of a JSON object, remembering the first
// error so that a config is checked in one readable sequence of calls. Absent
// fields, and null ones, take the default.
type fieldReader struct {
	raw    map[string]json.RawMessage
	prefix string // for error messages inside nested objects
	err    error
}

func (r *fieldReader) get(key string, dst any, want string) bool {
	v, ok := r.raw[key]
	if !ok || string(v) == "null" || r.err != nil {
		return false
	}
	if err := json.Unmarshal(v, dst); err != nil {
		r.err = fmt.Errorf("%s%s: want %s, got %s", r.prefix, key, want, v)
		return false
	}
	return true
}

func (r *fieldReader) int(key string, def int) int {
	var f float64 // JSON numbers are untyped: accept 3 and 3.0, refuse 3.5
	if !r.get(key, &f, "an integer") {
		return def
	}
	if f != math.Trunc(f) || math.Abs(f) > 1<<53 {
		r.err = fmt.Errorf("%s%s: want an integer, got %v", r.prefix, key, f)
		return def
	}
	return int(f)
}

// tokenID is int with JSON null meaning "no such token".
func (r *fieldReader) tokenID(key string, def int) int {
	if v, ok := r.raw[key]; ok && string(v) == "null" {
		return NoToken
	}
	return r.int(key, def)
}

func (r *fieldReader) float(key string, def float64) float64 {
	var f float64
	if !r.get(key, &f, "a number") {
		return def
	}
	return f
}

func (r *fieldReader) bool(key string, def bool) bool {
	var b bool
	if !r.get(key, &b, "true or false") {
		return def
	}
	return b
}

func (r *fieldReader) string(key, def string) string {
	var s string
	if !r.get(key, &s, "a string") {
		return def
	}
	return s
}

func (r *fieldReader) strings(key string) []string {
	var s []string
	r.get(key, &s, "a list of strings")
	return s
}

// MarshalJSON writes the config as transformers 5 does (sorted keys,
// layer_types and rope_parameters), adding the older spelling
// (global_attn_every_n_layers when the layers follow that pattern,
// global_rope_theta, local_rope_theta) so that transformers 4 reads the same
// model; transformers 5 lets its own fields win. Floats carry a decimal point
// because transformers' strict config classes check float fields' types. A
// config that fails Validate is an error, so an unloadable file is never written.
func (c Config) MarshalJSON() ([]byte, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	f := func(x float64) json.Number { return json.Number(pyFloat(x)) }
	id := func(v int) any {
		if v == NoToken {
			return nil
		}
		return v
	}
	m := map[string]any{
		"architectures":             []string{"ModernBertForMaskedLM"},
		"model_type":                "modernbert",
		"vocab_size":                c.VocabSize,
		"hidden_size":               c.HiddenSize,
		"intermediate_size":         c.IntermediateSize,
		"num_hidden_layers":         c.NumLayers,
		"num_attention_heads":       c.NumHeads,
		"max_position_embeddings":   c.MaxPositions,
		"local_attention":           c.LocalAttention,
		"layer_types":               c.LayerTypes,
		"global_rope_theta":         f(c.GlobalRopeTheta),
		"local_rope_theta":          f(c.LocalRopeTheta),
		"hidden_activation":         "gelu",
		"classifier_activation":     "gelu",
		"norm_eps":                  f(c.NormEps),
		"norm_bias":                 false,
		"attention_bias":            false,
		"mlp_bias":                  false,
		"classifier_bias":           false,
		"decoder_bias":              true,
		"initializer_range":         f(c.InitializerRange),
		"initializer_cutoff_factor": f(c.InitializerCutoff),
		"pad_token_id":              id(c.PadTokenID),
		"bos_token_id":              id(c.BOSTokenID),
		"eos_token_id":              id(c.EOSTokenID),
		"cls_token_id":              id(c.CLSTokenID),
		"sep_token_id":              id(c.SEPTokenID),
		"tie_word_embeddings":       c.TieWordEmbeddings,
		"embedding_dropout":         f(c.EmbeddingDropout),
		"attention_dropout":         f(c.AttentionDropout),
		"mlp_dropout":               f(c.MLPDropout),
		"classifier_dropout":        f(c.ClassifierDropout),
		"classifier_pooling":        c.ClassifierPooling,
		// transformers' defaults for its runtime switches, written as it writes them.
		"deterministic_flash_attn": false,
		"sparse_prediction":        false,
		"sparse_pred_ignore_index": -100,
		"rope_parameters": map[string]any{
			FullAttention:    map[string]any{"rope_type": "default", "rope_theta": f(c.GlobalRopeTheta)},
			SlidingAttention: map[string]any{"rope_type": "default", "rope_theta": f(c.LocalRopeTheta)},
		},
	}
	if n := c.GlobalEvery(); n > 0 {
		m["global_attn_every_n_layers"] = n
	}
	if c.MaskTokenID != NoToken {
		m["mask_token_id"] = c.MaskTokenID
	}
	if c.DType != "" {
		m["dtype"] = c.DType
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(m); err != nil {
		return nil, err
	}
	return bytes.TrimRight(buf.Bytes(), "\n"), nil
}

// pyFloat formats x the way Python's repr does for the values configs hold: the
// shortest round-trip digits, always with a decimal point or an exponent, so
// that Python reads a float back (160000.0, 1e-05, 0.02).
func pyFloat(x float64) string {
	s := strconv.FormatFloat(x, 'g', -1, 64) // 1e-05 as "1e-05", like Python
	if !strings.ContainsAny(s, ".e") {
		s += ".0"
	}
	return s
}
