package lladamoe

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dllmgo/dllm/tensor"
	"github.com/dllmgo/dllm/tensor/safetensors"
)

// The fixture's config.json reads as written and survives a save: every key,
// the unknown ones (router_aux_loss_coef, output_router_logits...) included.
func TestConfigRoundTrip(t *testing.T) {
	js, err := os.ReadFile(filepath.Join(fixtureDir, "config.json"))
	require.NoError(t, err)
	c, err := ParseConfig(js)
	require.NoError(t, err)
	require.Equal(t, LLaDAMoE, c.Variant)
	require.Equal(t, []int{1, 0, 1}, c.MoELayerFreq)
	require.Equal(t, 48, c.SharedWidth())
	require.False(t, c.Renormalize())
	require.Contains(t, c.Extra, "router_aux_loss_coef")

	path := filepath.Join(t.TempDir(), "config.json")
	require.NoError(t, SaveConfig(path, c))
	back, err := LoadConfig(path)
	require.NoError(t, err)
	require.Equal(t, c, back)
	var a, b map[string]any
	require.NoError(t, json.Unmarshal(js, &a))
	out, err := os.ReadFile(path)
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(out, &b))
	for k, v := range a {
		require.Equal(t, v, b[k], k)
	}

	r := rnd1Config()
	require.NoError(t, SaveConfig(path, r))
	back, err = LoadConfig(path)
	require.NoError(t, err)
	require.Equal(t, RND1, back.Variant)
	require.True(t, back.Renormalize())
	require.Equal(t, []bool{true, false, true}, []bool{back.IsMoE(0), back.IsMoE(1), back.IsMoE(2)})
}

// Bad configs are one error naming the key.
func TestConfigRejects(t *testing.T) {
	js, err := os.ReadFile(filepath.Join(fixtureDir, "config.json"))
	require.NoError(t, err)
	for _, tc := range []struct{ key, value, want string }{
		{"num_experts_per_tok", "5", "num_experts_per_tok"},
		{"moe_layer_freq", "[1, 0]", "moe_layer_freq"},
		{"moe_router_score_function", `"sigmoid"`, "moe_router_score_function"},
		{"rope_scaling", `{"type": "linear", "factor": 2}`, "rope_scaling"},
		{"clip_qkv", "8.0", "clip_qkv"},
		{"num_key_value_heads", "3", "num_key_value_heads"},
		{"model_type", `"olmoe"`, "model_type"},
	} {
		var raw map[string]json.RawMessage
		require.NoError(t, json.Unmarshal(js, &raw))
		raw[tc.key] = json.RawMessage(tc.value)
		bad, err := json.Marshal(raw)
		require.NoError(t, err)
		_, err = ParseConfig(bad)
		require.ErrorContains(t, err, tc.want, tc.key)
		require.NotContains(t, err.Error(), "\n")
	}
}

// An expert tensor missing from the weights is named; a BF16 save loads back
// to the BF16-rounded weights.
func TestWeightsFolder(t *testing.T) {
	m := randomModel(t, lladaMoEConfig(), 2)
	dir := t.TempDir()
	m.SaveBF16 = true
	require.NoError(t, m.Save(dir))
	back, err := Load(dir, tensor.CPU())
	require.NoError(t, err)
	for i, p := range m.Params() {
		want := p.Value.F32()
		got := back.Params()[i].Value.F32()
		for j := range want {
			require.InDelta(t, want[j], got[j], float64(1e-2*max(1, abs(want[j]))), p.Name)
		}
	}

	f, err := safetensors.Open(filepath.Join(dir, safetensors.SingleFileName))
	require.NoError(t, err)
	var ts []safetensors.Tensor
	for _, n := range f.Names() {
		if n == "model.layers.1.mlp.experts.4.up_proj.weight" {
			continue
		}
		v, shape, err := f.F32(n)
		require.NoError(t, err)
		tt, err := safetensors.FloatTensor(n, safetensors.F32, shape, v)
		require.NoError(t, err)
		ts = append(ts, tt)
	}
	require.NoError(t, safetensors.Write(filepath.Join(dir, safetensors.SingleFileName), ts, nil))
	_, err = Load(dir, tensor.CPU())
	require.ErrorContains(t, err, "missing tensor model.layers.1.mlp.experts.4.up_proj.weight")
	require.True(t, strings.HasPrefix(err.Error(), dir))
}

func abs(x float32) float32 {
	if x < 0 {
		return -x
	}
	return x
}

// RND1's released size does not fit a 24 GB machine as float32: one line
// before loading, unless overridden.
func TestMemoryCheck(t *testing.T) {
	r := rnd1Shape(2048, 32, 4, 128, 48, 128, 8, 768, 32768)
	r.VocabSize = 151936
	require.InDelta(t, 30.5e9, float64(r.ParamCount()), 0.3e9)
	meminfo := []byte("MemTotal:       24000000 kB\nMemAvailable:   23000000 kB\n")
	err := checkMemory(r, tensor.CPU(), meminfo)
	require.ErrorContains(t, err, "rnd1: the float32 weights need 122.")
	require.ErrorContains(t, err, "23.6 GB of memory is available; set "+IgnoreMemoryEnv+"=1")
	require.NoError(t, checkMemory(lladaMoEConfig(), tensor.CPU(), meminfo))
	t.Setenv(IgnoreMemoryEnv, "1")
	require.NoError(t, checkMemory(r, tensor.CPU(), meminfo))
}
