package a2d

import (
	"encoding/json"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dllmgo/dllm/lm"
	"github.com/dllmgo/dllm/tensor"
)

// qwen3JSON is a config.json in the shape the conversion writes from
// Qwen3-0.6B (no architectures, model_type changed).
const qwen3JSON = `{
  "model_type": "a2d-qwen3", "vocab_size": 151936, "hidden_size": 1024, "intermediate_size": 3072,
  "num_hidden_layers": 28, "num_attention_heads": 16, "num_key_value_heads": 8, "head_dim": 128,
  "hidden_act": "silu", "max_position_embeddings": 40960, "rms_norm_eps": 1e-06, "rope_theta": 1000000,
  "rope_scaling": null, "tie_word_embeddings": true, "attention_bias": false, "attention_dropout": 0.0,
  "use_sliding_window": false, "sliding_window": null, "max_window_layers": 28,
  "bos_token_id": 151643, "eos_token_id": 151645, "torch_dtype": "bfloat16", "use_cache": true
}`

// The Qwen3-0.6B shape reads with its head size, tied head and parameter
// count (596,049,920, Qwen3-0.6B's), and equals the qwen3-0.6b preset's
// network.
func TestQwen3Config(t *testing.T) {
	c, err := ParseConfig([]byte(qwen3JSON))
	require.NoError(t, err)
	a := Arch(c)
	require.Equal(t, 128, a.HeadDim)
	require.True(t, a.Tied && a.QKNorm && !a.QKVBias && !a.Shift)
	require.Equal(t, int64(596049920), a.ParamCount())
	p, err := Preset("qwen3-0.6b")
	require.NoError(t, err)
	pa := Arch(p)
	pa.MaskID = a.MaskID
	require.Equal(t, a, pa)
	require.Equal(t, json.RawMessage(`28`), c.Extra["max_window_layers"])
}

// Llama: head_dim defaults to hidden/heads, biases follow attention_bias
// and mlp_bias, eos_token_id may be a list, llama3 rope scaling is read.
func TestLlamaConfig(t *testing.T) {
	js := `{"model_type": "a2d-llama", "vocab_size": 300, "hidden_size": 64, "intermediate_size": 96,
	  "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2, "attention_bias": true,
	  "rope_theta": 500000.0, "tie_word_embeddings": true, "eos_token_id": [128001, 128008, 128009],
	  "rope_scaling": {"factor": 32.0, "high_freq_factor": 4.0, "low_freq_factor": 1.0,
	    "original_max_position_embeddings": 8192, "rope_type": "llama3"}, "pretraining_tp": 1}`
	c, err := ParseConfig([]byte(js))
	require.NoError(t, err)
	a := Arch(c)
	require.Equal(t, 16, a.HeadDim)
	require.True(t, a.QKVBias && a.OBias && !a.MLPBias && !a.QKNorm)
	require.Equal(t, tensor.RoPELlama3{Factor: 32, LowFreqFactor: 1, HighFreqFactor: 4, OriginalMaxPositions: 8192}, a.Scaling)
	require.Equal(t, int32(128001), a.EOSID)
	out, err := json.Marshal(c)
	require.NoError(t, err)
	back, err := ParseConfig(out)
	require.NoError(t, err)
	require.Equal(t, c, back)
	require.Contains(t, string(out), `"eos_token_id":[128001,128008,128009]`)
}

// Unsupported or contradictory values are refused, naming the key.
func TestConfigRefusesByKey(t *testing.T) {
	for _, tc := range []struct{ from, to, key string }{
		{`"model_type": "a2d-qwen3"`, `"model_type": "a2d-gemma"`, "model_type"},
		{`"num_key_value_heads": 8`, `"num_key_value_heads": 5`, "num_key_value_heads"},
		{`"head_dim": 128`, `"head_dim": 127`, "head_dim"},
		{`"hidden_act": "silu"`, `"hidden_act": "gelu"`, "hidden_act"},
		{`"rope_scaling": null`, `"rope_scaling": {"rope_type": "yarn", "factor": 4.0}`, "rope_scaling"},
		{`"rope_scaling": null`, `"rope_scaling": {"rope_type": "llama3", "factor": 8.0}`, "rope_scaling"},
		{`"attention_dropout": 0.0`, `"attention_dropout": 0.1`, "attention_dropout"},
		{`"bos_token_id": 151643`, `"bos_token_id": -5`, "bos_token_id"},
	} {
		t.Run(tc.key+" "+tc.to, func(t *testing.T) {
			js := strings.Replace(qwen3JSON, tc.from, tc.to, 1)
			require.NotEqual(t, qwen3JSON, js)
			_, err := ParseConfig([]byte(js))
			require.Error(t, err)
			require.Contains(t, err.Error(), tc.key)
		})
	}
	qwen2 := strings.Replace(strings.Replace(qwen3JSON, "a2d-qwen3", "a2d-qwen2", 1), `"head_dim": 128`, `"head_dim": 32`, 1)
	_, err := ParseConfig([]byte(qwen2))
	require.ErrorContains(t, err, "head_dim")
}

// A fresh tiny model takes its tokenizer's ids, saves and loads back to
// the same logits.
func TestFreshSaveLoad(t *testing.T) {
	m, err := newFresh("tiny", lm.Fresh{VocabSize: 300, MaxPositions: 600, Specials: &lm.Specials{Pad: 0, Mask: 299, EOS: 3, BOS: 2}}, tensor.CPU())
	require.NoError(t, err)
	require.Equal(t, lm.Spec{Family: "a2d", ModelType: "a2d-qwen3", MaxPositions: 600, MaskID: 299, PadID: lm.NoToken, BOSID: 2, EOSID: 3}, m.Spec())
	mm := m.(*Model)
	mm.Init(newRand())
	dir := t.TempDir()
	require.NoError(t, m.Save(dir))
	back, err := Load(dir, tensor.CPU())
	require.NoError(t, err)
	require.Equal(t, mm.Config, back.Config)
	ids := []int32{2, 10, 299, 40, 299, 3}
	want, err := mm.Logits(ids, 1, 6, nil, []int32{2, 4})
	require.NoError(t, err)
	got, err := back.Logits(ids, 1, 6, nil, []int32{2, 4})
	require.NoError(t, err)
	require.Equal(t, want, got)
	require.NotEqual(t, want[:300], want[300:])
	for _, name := range PresetNames {
		c, err := Preset(name)
		require.NoError(t, err)
		require.NoError(t, Validate(c))
	}
}

func newRand() *rand.Rand { return rand.New(rand.NewPCG(5, 6)) }
