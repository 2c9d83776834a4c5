package bert

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dllmgo/dllm/tensor/safetensors"
)

var tinyA = filepath.Join("testdata", "hf_tiny_a")

// The fixture's model in both spellings of config.json.
func TestLoadConfigBothSpellings(t *testing.T) {
	modern, err := LoadConfig(filepath.Join(tinyA, "config.json"))
	require.NoError(t, err)
	legacy, err := LoadConfig(filepath.Join(tinyA, "config.legacy.json"))
	require.NoError(t, err)

	for _, c := range []Config{modern, legacy} {
		assert.Equal(t, 97, c.VocabSize)
		assert.Equal(t, 48, c.HiddenSize)
		assert.Equal(t, 80, c.IntermediateSize)
		assert.Equal(t, 4, c.NumLayers)
		assert.Equal(t, 4, c.NumHeads)
		assert.Equal(t, 12, c.HeadDim())
		assert.Equal(t, 64, c.MaxPositions)
		assert.Equal(t, 8, c.LocalAttention)
		assert.Equal(t, 4, c.SlidingWindow())
		assert.Equal(t, []string{FullAttention, SlidingAttention, SlidingAttention, FullAttention}, c.LayerTypes)
		assert.Equal(t, []bool{true, false, false, true}, []bool{c.IsGlobal(0), c.IsGlobal(1), c.IsGlobal(2), c.IsGlobal(3)})
		assert.False(t, c.IsGlobal(4))
		assert.Equal(t, 3, c.GlobalEvery())
		assert.Equal(t, 160000.0, c.GlobalRopeTheta)
		assert.Equal(t, 10000.0, c.LocalRopeTheta)
		assert.Equal(t, 1e-5, c.NormEps)
		assert.Equal(t, 0.02, c.InitializerRange)
		assert.Equal(t, 2.0, c.InitializerCutoff)
		assert.Equal(t, 0, c.PadTokenID)
		assert.Equal(t, NoToken, c.MaskTokenID)
		assert.True(t, c.TieWordEmbeddings)
		assert.Equal(t, "float32", c.DType)
		assert.Equal(t, modern.ParamShapes(), c.ParamShapes())
	}
	// The files differ in what does not touch the computation.
	assert.Equal(t, 50281, modern.BOSTokenID)
	assert.Equal(t, 1, legacy.BOSTokenID)
	assert.Equal(t, "cls", modern.ClassifierPooling)
	assert.Equal(t, "mean", legacy.ClassifierPooling)
}

// ParamShapes must list exactly the tensors transformers stored.
func TestParamShapesMatchCheckpoint(t *testing.T) {
	cfg, err := LoadConfig(filepath.Join(tinyA, "config.json"))
	require.NoError(t, err)
	f, err := safetensors.Open(filepath.Join(tinyA, "model.safetensors"))
	require.NoError(t, err)

	specs := cfg.ParamShapes()
	var names []string
	stored := 0
	for _, p := range specs {
		info, ok := f.Info(p.Name)
		require.True(t, ok, "checkpoint lacks %s", p.Name)
		assert.Equal(t, p.Shape, info.Shape, p.Name)
		names = append(names, p.Name)
		stored += info.NumElements()
	}
	assert.ElementsMatch(t, f.Names(), names, "no tensor unaccounted for")
	assert.Equal(t, stored, cfg.ParamCount())

	// Canonical order: embeddings, layers in order, final norm, head.
	assert.Equal(t, "model.embeddings.tok_embeddings.weight", specs[0].Name)
	assert.Equal(t, "model.layers.0.attn.Wqkv.weight", specs[2].Name, "layer 0 has no attn_norm")
	assert.Equal(t, "model.layers.1.attn_norm.weight", specs[7].Name)
	assert.Equal(t, "decoder.bias", specs[len(specs)-1].Name)
}

func TestParamCounts(t *testing.T) {
	base, err := Preset("modernbert-base")
	require.NoError(t, err)
	large, err := Preset("modernbert-large")
	require.NoError(t, err)
	// SPEC.md section 2, from the released shapes.
	assert.Equal(t, 149_655_232, base.ParamCount())
	assert.Equal(t, 149_014_272, base.BackboneParamCount())
	assert.Equal(t, 394_781_696, large.BackboneParamCount())

	// By hand for the tiny preset: embeddings, 4 layers, final norm, head.
	tiny, err := Preset("tiny")
	require.NoError(t, err)
	V, H, I, L := tiny.VocabSize, 128, 256, 4
	perLayer := 3*H*H + H*H + H + 2*I*H + H*I
	backbone := V*H + H + L*perLayer + (L-1)*H + H
	assert.Equal(t, backbone, tiny.BackboneParamCount())
	assert.Equal(t, backbone+H*H+H+V, tiny.ParamCount())

	// The sizes the preset comments give.
	small, err := Preset("small")
	require.NoError(t, err)
	assert.Equal(t, 673_024, tiny.ParamCount()-tiny.VocabSize*(128+1))
	assert.Equal(t, 3_411_456, small.ParamCount()-small.VocabSize*(256+1))
}

func TestPresets(t *testing.T) {
	assert.Equal(t, []string{"modernbert-base", "modernbert-large", "small", "tiny"}, PresetNames())
	want := map[string][6]int{ // hidden, intermediate, layers, heads, head dim, local window
		"modernbert-base":  {768, 1152, 22, 12, 64, 128},
		"modernbert-large": {1024, 2624, 28, 16, 64, 128},
		"tiny":             {128, 256, 4, 4, 32, 64},
		"small":            {256, 384, 6, 4, 64, 128},
	}
	for name, w := range want {
		c, err := Preset(name)
		require.NoError(t, err, name)
		require.NoError(t, c.Validate(), name)
		assert.Equal(t, w, [6]int{c.HiddenSize, c.IntermediateSize, c.NumLayers, c.NumHeads, c.HeadDim(), c.LocalAttention}, name)
		assert.Equal(t, 3, c.GlobalEvery(), name)
		c.LayerTypes[0] = SlidingAttention // presets hand out copies
		again, _ := Preset(name)
		assert.Equal(t, FullAttention, again.LayerTypes[0])
	}
	base, _ := Preset("modernbert-base")
	assert.Equal(t, []int{50368, 50283, 50281, 50282, 50284}, []int{base.VocabSize, base.PadTokenID, base.CLSTokenID, base.SEPTokenID, base.MaskTokenID})
	assert.Equal(t, 8192, base.MaxPositions)
	// base: global layers 0, 3, ..., 21.
	var globals []int
	for i := range base.NumLayers {
		if base.IsGlobal(i) {
			globals = append(globals, i)
		}
	}
	assert.Equal(t, []int{0, 3, 6, 9, 12, 15, 18, 21}, globals)

	_, err := Preset("huge")
	assert.ErrorContains(t, err, `unknown model preset "huge" (known: modernbert-base, modernbert-large, small, tiny)`)
}

// withField returns the fixture's config.json with key set to value (a JSON
// literal) or removed when value is "".
func withField(t *testing.T, key, value string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(tinyA, "config.json"))
	require.NoError(t, err)
	var m map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(data, &m))
	if value == "" {
		delete(m, key)
	} else {
		m[key] = json.RawMessage(value)
	}
	out, err := json.Marshal(m)
	require.NoError(t, err)
	return out
}

func TestParseConfigRejects(t *testing.T) {
	tests := []struct {
		key, value string
		want       string
	}{
		{"model_type", `"bert"`, `model_type "bert" is not "modernbert"`},
		{"hidden_activation", `"silu"`, `hidden_activation "silu" is not supported`},
		{"classifier_activation", `"relu"`, `classifier_activation "relu" is not supported`},
		{"norm_bias", `true`, "norm_bias true is not supported"},
		{"attention_bias", `true`, "attention_bias true is not supported"},
		{"mlp_bias", `true`, "mlp_bias true is not supported"},
		{"classifier_bias", `true`, "classifier_bias true is not supported"},
		{"decoder_bias", `false`, "decoder_bias false is not supported"},
		{"tie_word_embeddings", `false`, "tie_word_embeddings false is not supported"},
		{"num_attention_heads", `5`, "hidden_size 48 is not divisible by num_attention_heads 5"},
		{"num_attention_heads", `16`, "head dimension hidden_size/num_attention_heads = 3 must be even"},
		{"hidden_size", `"48"`, "hidden_size: want an integer"},
		{"hidden_size", `48.5`, "hidden_size: want an integer, got 48.5"},
		{"vocab_size", `0`, "vocab_size must be positive"},
		{"local_attention", `-2`, "local_attention must be positive"},
		{"norm_eps", `0`, "norm_eps must be positive"},
		{"norm_bias", `"no"`, "norm_bias: want true or false"},
		{"layer_types", `["full_attention"]`, "layer_types has 1 entries for num_hidden_layers 4"},
		{"layer_types", `["full_attention","chunked_attention","sliding_attention","full_attention"]`, `layer_types[1] = "chunked_attention"`},
		{"layer_types", `"full"`, "layer_types: want a list of strings"},
		{"rope_parameters", `{"full_attention":{"rope_type":"yarn","rope_theta":1}}`, `rope_parameters.full_attention.rope_type "yarn" is not supported`},
		{"rope_parameters", `{"full_attention":{"rope_theta":"big"}}`, "rope_parameters.full_attention.rope_theta: want a number"},
		{"rope_parameters", `{"full_attention":{"rope_theta":-1}}`, "rope_parameters.full_attention.rope_theta must be positive"},
		{"rope_parameters", `{"rope_theta":10000}`, "rope_parameters"},
		{"rope_parameters", `{"chunked":{}}`, `unknown layer kind "chunked"`},
		{"rope_scaling", `{"type":"linear"}`, "rope_scaling is not supported"},
		{"pad_token_id", `97`, "pad_token_id 97 is outside the vocabulary of 97"},
		{"eos_token_id", `[1,2]`, "eos_token_id: want an integer"},
		{"mask_token_id", `-5`, "mask_token_id must be a token id or null"},
		{"attention_dropout", `1.0`, "attention_dropout must be in [0, 1)"},
		{"classifier_pooling", `"max"`, `classifier_pooling "max"`},
	}
	for _, tt := range tests {
		t.Run(tt.key+"="+tt.value, func(t *testing.T) {
			_, err := ParseConfig(withField(t, tt.key, tt.value))
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
	_, err := ParseConfig([]byte(`[1]`))
	assert.ErrorContains(t, err, "not a JSON config")
	_, err = ParseConfig([]byte(`null`))
	assert.ErrorContains(t, err, "not a JSON config")
}

func TestParseConfigSpellings(t *testing.T) {
	// Without layer_types, global_attn_every_n_layers decides.
	data := withField(t, "layer_types", "")
	c, err := ParseConfig(data)
	require.NoError(t, err)
	assert.Equal(t, LayersEvery(4, 3), c.LayerTypes)

	var m map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(data, &m))
	m["global_attn_every_n_layers"] = json.RawMessage("2")
	m["rope_parameters"] = json.RawMessage("null")
	m["global_rope_theta"] = json.RawMessage("80000")
	m["local_rope_theta"] = json.RawMessage("5000.0")
	data, _ = json.Marshal(m)
	c, err = ParseConfig(data)
	require.NoError(t, err)
	assert.Equal(t, []string{FullAttention, SlidingAttention, FullAttention, SlidingAttention}, c.LayerTypes)
	assert.Equal(t, 2, c.GlobalEvery())
	assert.Equal(t, 80000.0, c.GlobalRopeTheta)
	assert.Equal(t, 5000.0, c.LocalRopeTheta)

	// rope_parameters wins over the flat fields, per layer kind, as in transformers 5.
	m["rope_parameters"] = json.RawMessage(`{"sliding_attention":{"rope_type":"default","rope_theta":20000.0}}`)
	data, _ = json.Marshal(m)
	c, err = ParseConfig(data)
	require.NoError(t, err)
	assert.Equal(t, 80000.0, c.GlobalRopeTheta)
	assert.Equal(t, 20000.0, c.LocalRopeTheta)

	// An irregular pattern is kept as given; GlobalEvery says it has no period.
	c, err = ParseConfig(withField(t, "layer_types", `["full_attention","full_attention","sliding_attention","sliding_attention"]`))
	require.NoError(t, err)
	assert.Zero(t, c.GlobalEvery())
	assert.True(t, c.IsGlobal(1))

	// Absent fields take transformers' defaults; null token ids mean none.
	c, err = ParseConfig([]byte(`{"model_type":"modernbert","pad_token_id":null,"bos_token_id":null}`))
	require.NoError(t, err)
	base, _ := Preset("modernbert-base")
	base.PadTokenID, base.BOSTokenID, base.MaskTokenID = NoToken, NoToken, NoToken
	assert.Equal(t, base, c)

	// layer_norm_eps alone: accepted when it agrees with the default, else refused.
	_, err = ParseConfig(withField(t, "norm_eps", ""))
	require.NoError(t, err)
	data = withField(t, "norm_eps", "")
	m = nil
	require.NoError(t, json.Unmarshal(data, &m))
	m["layer_norm_eps"] = json.RawMessage("1e-12")
	data, _ = json.Marshal(m)
	_, err = ParseConfig(data)
	assert.ErrorContains(t, err, "layer_norm_eps 1e-12 without norm_eps")
}

// Writing must give what transformers writes: every field of the fixture's
// config.json (made by transformers 5.17) comes back with the same JSON literal.
func TestMarshalMatchesTransformers(t *testing.T) {
	path := filepath.Join(tinyA, "config.json")
	c, err := LoadConfig(path)
	require.NoError(t, err)
	out, err := json.MarshalIndent(c, "", "  ")
	require.NoError(t, err)

	decode := func(data []byte) map[string]any {
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.UseNumber() // compare number literals as text: 2.0 is not 2
		var m map[string]any
		require.NoError(t, dec.Decode(&m))
		return m
	}
	hf, err := os.ReadFile(path)
	require.NoError(t, err)
	want, got := decode(hf), decode(out)
	for key, v := range want {
		if key == "transformers_version" {
			continue
		}
		assert.Equal(t, v, got[key], key)
	}
	// The older spelling rides along for transformers 4.
	assert.Equal(t, json.Number("160000.0"), got["global_rope_theta"])
	assert.Equal(t, json.Number("10000.0"), got["local_rope_theta"])
	assert.Equal(t, json.Number("3"), got["global_attn_every_n_layers"])
	// And the written file reads back as the same Config.
	back, err := ParseConfig(out)
	require.NoError(t, err)
	assert.Equal(t, c, back)
}

func TestSaveLoadRoundTrip(t *testing.T) {
	dir := t.TempDir()
	for _, name := range PresetNames() {
		c, err := Preset(name)
		require.NoError(t, err)
		c.VocabSize, c.PadTokenID, c.MaskTokenID, c.DType = 4096, 3, NoToken, "bfloat16"
		c.LayerTypes[1] = FullAttention // irregular: no global_attn_every_n_layers
		path := filepath.Join(dir, name+".json")
		require.NoError(t, SaveConfig(path, c))
		back, err := LoadConfig(path)
		require.NoError(t, err)
		assert.Equal(t, c, back, name)
		text, _ := os.ReadFile(path)
		assert.NotContains(t, string(text), "global_attn_every_n_layers")
		assert.NotContains(t, string(text), "mask_token_id")
		assert.True(t, strings.HasSuffix(string(text), "}\n"))
	}
	var c Config
	require.NoError(t, json.Unmarshal(mustRead(t, filepath.Join(tinyA, "config.legacy.json")), &c))
	assert.Equal(t, 97, c.VocabSize)

	// Invalid configs are not written.
	bad, _ := Preset("tiny")
	bad.NumHeads = 3
	path := filepath.Join(dir, "bad.json")
	assert.ErrorContains(t, SaveConfig(path, bad), "not divisible")
	_, err := os.Stat(path)
	assert.ErrorIs(t, err, os.ErrNotExist)
}

func TestLoadConfigErrorsNameTheFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "config.json")
	require.NoError(t, os.WriteFile(path, []byte(`{"hidden_activation":"relu"}`), 0o644))
	_, err := LoadConfig(path)
	require.Error(t, err)
	assert.True(t, strings.HasPrefix(err.Error(), path+": "), err.Error())
	require.NoError(t, os.WriteFile(path, []byte(`{`), 0o644))
	_, err = LoadConfig(path)
	assert.ErrorContains(t, err, path+": not a JSON config")
	_, err = LoadConfig(filepath.Join(dir, "missing.json"))
	assert.ErrorIs(t, err, os.ErrNotExist)
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	return data
}
