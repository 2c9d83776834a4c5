package dream

import (
	"encoding/json"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dllmgo/dllm/lm"
	"github.com/dllmgo/dllm/tensor"
)

// Unsupported or contradictory values are refused, naming the key.
func TestConfigRefusesByKey(t *testing.T) {
	base, err := os.ReadFile(filepath.Join(fixtureDir, "config.json"))
	require.NoError(t, err)
	for _, tc := range []struct{ from, to, key string }{
		{`"hidden_act": "silu"`, `"hidden_act": "gelu"`, "hidden_act"},
		{`"num_key_value_heads": 2`, `"num_key_value_heads": 3`, "num_key_value_heads"},
		{`"num_attention_heads": 4`, `"num_attention_heads": 5`, "num_attention_heads"},
		{`"use_sliding_window": false`, `"use_sliding_window": true`, "use_sliding_window"},
		{`"rope_scaling": null`, `"rope_scaling": {"rope_type": "yarn", "factor": 4}`, "rope_scaling"},
		{`"attention_dropout": 0.0`, `"attention_dropout": 0.1`, "attention_dropout"},
		{`"pad_token_id": 120`, `"pad_token_id": 500`, "pad_token_id"},
		{`"vocab_size": 128`, `"vocab_size": "many"`, "vocab_size"},
	} {
		t.Run(tc.key, func(t *testing.T) {
			js := strings.Replace(string(base), tc.from, tc.to, 1)
			require.NotEqual(t, string(base), js)
			_, err := ParseConfig([]byte(js))
			require.Error(t, err)
			require.Contains(t, err.Error(), tc.key)
		})
	}
	c, err := ParseConfig(base)
	require.NoError(t, err)
	require.Equal(t, 2, c.KVHeads())
	require.Equal(t, int32(121), Arch(c).BOSID)
}

// A model saved and loaded gives the same config (unknown keys kept) and
// the same logits; BF16 saving is half the size and close.
func TestSaveLoadRoundTrip(t *testing.T) {
	m, err := Load(fixtureDir, tensor.CPU())
	require.NoError(t, err)
	dir := t.TempDir()
	require.NoError(t, m.Save(dir))
	m2, err := Load(dir, tensor.CPU())
	require.NoError(t, err)
	require.Equal(t, m.Config, m2.Config)
	require.Contains(t, string(m2.Config.Extra["auto_map"]), "DreamModel")
	ids := []int32{121, 5, 126, 7, 126, 9, 10, 11}
	want, err := m.Logits(ids, 1, 8, nil, []int32{1, 3, 6})
	require.NoError(t, err)
	got, err := m2.Logits(ids, 1, 8, nil, []int32{1, 3, 6})
	require.NoError(t, err)
	require.Equal(t, want, got)
	m.SaveBF16 = true
	bf := t.TempDir()
	require.NoError(t, m.Save(bf))
	m3, err := Load(bf, tensor.CPU())
	require.NoError(t, err)
	got, err = m3.Logits(ids, 1, 8, nil, []int32{1, 3, 6})
	require.NoError(t, err)
	require.InDeltaSlice(t, want, got, 0.1)
}

// Left-padded rows get positions from 0 at their first real token in
// Logits (Dream's samplers), so they agree with the rows alone.
func TestLeftPaddedLogits(t *testing.T) {
	m, err := Load(fixtureDir, tensor.CPU())
	require.NoError(t, err)
	row := []int32{121, 5, 126, 7, 126, 9}
	alone, err := m.Logits(row, 1, 6, nil, []int32{2, 4})
	require.NoError(t, err)
	padded := append([]int32{120, 120, 120}, row...)
	mask := []int32{0, 0, 0, 1, 1, 1, 1, 1, 1}
	got, err := m.Logits(padded, 1, 9, mask, []int32{5, 7})
	require.NoError(t, err)
	require.InDeltaSlice(t, alone, got, 1e-4)
}

// Every preset builds, the 7B one with Qwen2.5-7B's parameter count, and a
// fresh tiny model takes its tokenizer's ids and initialises with the pad
// row zero.
func TestPresets(t *testing.T) {
	for _, name := range PresetNames {
		c, err := Preset(name)
		require.NoError(t, err)
		require.NoError(t, Validate(c), name)
	}
	c, _ := Preset("dream-7b")
	require.Equal(t, int64(7615616512), Arch(c).ParamCount())
	m, err := newFresh("tiny", lm.Fresh{VocabSize: 300, Specials: &lm.Specials{Pad: lm.NoToken, Mask: 299, EOS: 3, BOS: lm.NoToken}}, tensor.CPU())
	require.NoError(t, err)
	sp := m.Spec()
	require.Equal(t, lm.Spec{Family: "dream", ModelType: "Dream", ShiftLogits: true, MaxPositions: 512, MaskID: 299, PadID: 3, BOSID: 3, EOSID: 3}, sp)
	m.Init(rand.New(rand.NewPCG(1, 2)))
	w := m.(*Model).Embed.Weight.Value.F32()
	d := m.(*Model).Arch.Hidden
	require.Equal(t, make([]float32, d), w[3*d:4*d])
	require.NotZero(t, w[4*d])
	_, err = Preset("huge")
	require.ErrorContains(t, err, "tiny, small, dream-7b")
}

// Dream has no block cache: its first block position reads the row before
// the block.
func TestNoBlockCache(t *testing.T) {
	m, err := Load(fixtureDir, tensor.CPU())
	require.NoError(t, err)
	_, _, err = m.BeginBlock([]int32{121, 5, 126, 7}, 1, 4, nil, []int{2}, 2, []int32{2})
	require.ErrorContains(t, err, "shifted")
}

// A folder whose weights disagree with its config is refused, naming the
// tensor.
func TestLoadRefusesMismatchedWeights(t *testing.T) {
	m, err := Load(fixtureDir, tensor.CPU())
	require.NoError(t, err)
	for _, tc := range []struct {
		name, edit, want string
	}{
		{"a layer too few", `"num_hidden_layers": 2`, "model.layers.2.input_layernorm.weight is not a parameter"},
		{"a layer too many", `"num_hidden_layers": 4`, "missing tensor model.layers.3"},
		{"wider MLP", `"intermediate_size": 128`, "model.layers.0.mlp.gate_proj.weight has shape [96 64]"},
		{"tied", `"tie_word_embeddings": true`, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			require.NoError(t, m.Save(dir))
			path := filepath.Join(dir, "config.json")
			js, err := os.ReadFile(path)
			require.NoError(t, err)
			var raw map[string]any
			require.NoError(t, json.Unmarshal(js, &raw))
			var edit map[string]any
			require.NoError(t, json.Unmarshal([]byte("{"+tc.edit+"}"), &edit))
			for k, v := range edit {
				raw[k] = v
			}
			js, err = json.Marshal(raw)
			require.NoError(t, err)
			require.NoError(t, os.WriteFile(path, js, 0o644))
			_, err = Load(dir, tensor.CPU())
			if tc.want == "" { // a tied config ignores a stored lm_head.weight of the right shape
				require.NoError(t, err)
				return
			}
			require.ErrorContains(t, err, tc.want)
		})
	}
}
