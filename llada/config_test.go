package llada

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestFixtureConfig reads the fixture's config.json (the released
// checkpoints' key set) and writes it back with every key and value intact.
func TestFixtureConfig(t *testing.T) {
	js, err := os.ReadFile(filepath.Join(fixtureDir, "config.json"))
	require.NoError(t, err)
	c, err := ParseConfig(js)
	require.NoError(t, err)
	require.Equal(t, 64, c.DModel)
	require.Equal(t, 4, c.NHeads)
	require.Equal(t, 4, c.KVHeads())
	require.Equal(t, 3, c.NLayers)
	require.Equal(t, 96, c.MLPHidden())
	require.Equal(t, 128, c.Embeddings())
	require.Equal(t, 500000.0, c.RopeTheta)
	require.Equal(t, 1e-5, c.RMSNormEps)
	require.False(t, c.WeightTying)
	require.Equal(t, [3]int{126, 127, 127}, [3]int{c.MaskTokenID, c.EOSTokenID, c.PadTokenID})

	out, err := json.Marshal(c)
	require.NoError(t, err)
	var want, got map[string]any
	require.NoError(t, json.Unmarshal(js, &want))
	require.NoError(t, json.Unmarshal(out, &got))
	require.Equal(t, want, got, "a config survives a round trip, unknown keys included")
	again, err := ParseConfig(out)
	require.NoError(t, err)
	require.Equal(t, c, again)
}

// TestConfigRejects: what is not implemented is refused, naming the key.
func TestConfigRejects(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit map[string]any
		err  string // "" when accepted
	}{
		{"the fixture", nil, ""},
		{"GQA", map[string]any{"n_kv_heads": 2}, ""},
		{"multi-query", map[string]any{"n_kv_heads": nil, "multi_query_attention": true}, ""},
		{"tied, scaled, q/k/v bias, wider embeddings", map[string]any{"weight_tying": true, "scale_logits": true, "include_qkv_bias": true, "embedding_size": 136}, ""},
		{"every bias but the norms'", map[string]any{"include_bias": true, "bias_for_layer_norm": false}, ""},
		{"norm bias inherited", map[string]any{"include_bias": true, "bias_for_layer_norm": nil}, "bias_for_layer_norm"},
		{"sequential block", map[string]any{"block_type": "sequential"}, `block_type = "sequential"`},
		{"swiglu activation", map[string]any{"activation_type": "swiglu"}, "activation_type"},
		{"LayerNorm", map[string]any{"layer_norm_type": "default"}, "layer_norm_type"},
		{"norms without weight", map[string]any{"layer_norm_with_affine": false}, "layer_norm_with_affine"},
		{"no rope", map[string]any{"rope": false}, "rope = false"},
		{"alibi", map[string]any{"alibi": true}, "alibi"},
		{"qk layer norm", map[string]any{"attention_layer_norm": true}, "attention_layer_norm"},
		{"kv heads do not divide", map[string]any{"n_kv_heads": 3}, "n_kv_heads = 3"},
		{"multi-query against n_kv_heads", map[string]any{"multi_query_attention": true}, "multi_query_attention"},
		{"embeddings narrower than the vocabulary", map[string]any{"embedding_size": 100}, "embedding_size = 100"},
		{"dropout", map[string]any{"residual_dropout": 0.1}, "residual_dropout"},
		{"heads do not divide the width", map[string]any{"n_heads": 5}, "n_heads = 5"},
		{"odd head", map[string]any{"d_model": 12, "n_heads": 4}, "odd"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			js, err := os.ReadFile(filepath.Join(fixtureDir, "config.json"))
			require.NoError(t, err)
			var m map[string]any
			require.NoError(t, json.Unmarshal(js, &m))
			for k, v := range tc.edit {
				m[k] = v
			}
			js, err = json.Marshal(m)
			require.NoError(t, err)
			_, err = ParseConfig(js)
			if tc.err == "" {
				require.NoError(t, err)
			} else {
				require.ErrorContains(t, err, tc.err)
			}
		})
	}
}

// TestConfigDefaults: keys left out take LLaDAConfig's defaults, which are
// OLMo's and so are refused until the config names LLaDA's block; the keys
// that set the weights' shapes have no default.
func TestConfigDefaults(t *testing.T) {
	_, err := ParseConfig([]byte(`{"model_type": "llada", "vocab_size": 100, "d_model": 64, "n_heads": 4, "n_layers": 2}`))
	require.ErrorContains(t, err, `block_type = "sequential"`)
	_, err = ParseConfig([]byte(`{"model_type": "llada", "vocab_size": 100, "n_heads": 4, "n_layers": 2}`))
	require.ErrorContains(t, err, `d_model is missing`)
}

// TestReleasedConfig: LLaDA-8B-Instruct's config.json (copied into
// testdata) is the llada-8b preset, 8,015,581,184 parameters: its weights'
// index gives 16,031,162,368 bytes of BF16.
func TestReleasedConfig(t *testing.T) {
	c, err := LoadConfig(filepath.Join("testdata", "instruct_config.json"))
	require.NoError(t, err)
	require.Equal(t, int64(16031162368), 2*c.ParamCount())
	require.Contains(t, c.Extra, "transformers_version")
	c.Extra = nil
	p, err := Preset("llada-8b")
	require.NoError(t, err)
	require.Equal(t, p, c)
	require.Equal(t, "model.transformer.ff_out.weight", c.Info().ParamNames[len(c.Info().ParamNames)-1])
}

// TestPresets: every preset is valid, and llada-8b has the released
// checkpoint's 8,015,581,184 parameters.
func TestPresets(t *testing.T) {
	for _, name := range PresetNames {
		c, err := Preset(name)
		require.NoError(t, err)
		require.NoError(t, c.Validate(), name)
	}
	c, err := Preset("llada-8b")
	require.NoError(t, err)
	require.Equal(t, int64(8015581184), c.ParamCount())
	_, err = Preset("huge")
	require.ErrorContains(t, err, `unknown preset "huge"`)
}
