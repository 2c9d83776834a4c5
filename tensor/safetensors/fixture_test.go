package safetensors

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fixtureDir holds files written by Hugging Face transformers and the reference
// safetensors library (see its README).
var fixtureDir = filepath.Join("..", "..", "bert", "testdata", "hf_tiny_a")

func TestReadHuggingFaceCheckpoint(t *testing.T) {
	f, err := Open(filepath.Join(fixtureDir, "model.safetensors"))
	require.NoError(t, err)
	assert.Equal(t, map[string]string{"format": "pt"}, f.Metadata())
	// 2 embedding tensors, 5 in layer 0 (no attn_norm), 6 in layers 1..3, final
	// norm, head dense and norm, decoder bias; decoder.weight is tied, not stored.
	assert.Equal(t, 2+5+3*6+4, f.Len())
	shapes := map[string][]int{
		"model.embeddings.tok_embeddings.weight": {97, 48},
		"model.layers.0.attn.Wqkv.weight":        {144, 48},
		"model.layers.3.mlp.Wi.weight":           {160, 48},
		"model.layers.3.mlp.Wo.weight":           {48, 80},
		"decoder.bias":                           {97},
	}
	for name, want := range shapes {
		info, ok := f.Info(name)
		require.True(t, ok, name)
		assert.Equal(t, F32, info.DType)
		assert.Equal(t, want, info.Shape, name)
	}
	_, ok := f.Info("model.layers.0.attn_norm.weight")
	assert.False(t, ok, "layer 0 has no attn_norm")

	emb, shape, err := f.F32("model.embeddings.tok_embeddings.weight")
	require.NoError(t, err)
	assert.Equal(t, []int{97, 48}, shape)
	require.Len(t, emb, 97*48)
	nonzero := 0
	for _, x := range emb {
		require.False(t, x != x, "NaN in embeddings")
		if x != 0 {
			nonzero++
		}
	}
	assert.Greater(t, nonzero, 90*48, "random init: nearly all entries non-zero")
}

func TestReadGoldenBatch(t *testing.T) {
	f, err := Open(filepath.Join(fixtureDir, "golden.safetensors"))
	require.NoError(t, err)
	ids, shape, err := f.I64("input_ids")
	require.NoError(t, err)
	assert.Equal(t, []int{3, 24}, shape)
	mask, _, err := f.I64("attention_mask")
	require.NoError(t, err)
	ids32, _, err := f.I32("input_ids") // I64 token ids convert losslessly
	require.NoError(t, err)
	for i := range ids {
		assert.Equal(t, ids[i], int64(ids32[i]))
		assert.True(t, ids[i] >= 0 && ids[i] < 97, "token id in vocab")
	}
	// The README: row 1 is right-padded with id 0 after 17 tokens.
	ones := 0
	for s := range 24 {
		if mask[24+s] == 1 {
			ones++
		} else {
			assert.Equal(t, int64(0), ids[24+s], "padding id at %d", s)
		}
	}
	assert.Equal(t, 17, ones)

	loss, shape, err := f.F32("loss")
	require.NoError(t, err)
	assert.Equal(t, []int{1}, shape)
	assert.Greater(t, loss[0], float32(0))
	info, ok := f.Info("logits")
	require.True(t, ok)
	assert.Equal(t, []int{3, 24, 97}, info.Shape)
}
