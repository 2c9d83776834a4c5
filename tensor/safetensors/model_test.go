package safetensors

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestOpenModelSingleFile(t *testing.T) {
	m, err := OpenModel(fixtureDir)
	require.NoError(t, err)
	assert.Equal(t, 29, m.Len())
	assert.Len(t, m.Files(), 1)
	f, ok := m.File("decoder.bias")
	require.True(t, ok)
	assert.Equal(t, filepath.Join(fixtureDir, SingleFileName), f.Path())
}

// writeShards splits a small model over two files plus an index.
func writeShards(t *testing.T, index string) string {
	t.Helper()
	dir := t.TempDir()
	require.NoError(t, Write(filepath.Join(dir, "model-00001-of-00002.safetensors"), []Tensor{
		F32Tensor("a.weight", []int{2, 2}, []float32{1, 2, 3, 4}),
		I64Tensor("b.ids", []int{3}, []int64{5, 6, 7}),
	}, map[string]string{"format": "pt"}))
	bf, err := FloatTensor("c.weight", BF16, []int{2}, []float32{0.5, -8})
	require.NoError(t, err)
	require.NoError(t, Write(filepath.Join(dir, "model-00002-of-00002.safetensors"), []Tensor{bf}, nil))
	require.NoError(t, os.WriteFile(filepath.Join(dir, IndexFileName), []byte(index), 0o644))
	return dir
}

const goodIndex = `{"metadata": {"total_size": 44}, "weight_map": {
  "a.weight": "model-00001-of-00002.safetensors",
  "b.ids": "model-00001-of-00002.safetensors",
  "c.weight": "model-00002-of-00002.safetensors"}}`

func TestOpenModelSharded(t *testing.T) {
	dir := writeShards(t, goodIndex)
	m, err := OpenModel(dir)
	require.NoError(t, err)
	assert.Equal(t, dir, m.Dir())
	assert.Equal(t, []string{"a.weight", "b.ids", "c.weight"}, m.Names())
	assert.Len(t, m.Files(), 2)

	a, shape, err := m.F32("a.weight")
	require.NoError(t, err)
	assert.Equal(t, []float32{1, 2, 3, 4}, a)
	assert.Equal(t, []int{2, 2}, shape)
	c, _, err := m.F32("c.weight")
	require.NoError(t, err)
	assert.Equal(t, []float32{0.5, -8}, c)
	ids, _, err := m.I64("b.ids")
	require.NoError(t, err)
	assert.Equal(t, []int64{5, 6, 7}, ids)
	ids32, _, err := m.I32("b.ids")
	require.NoError(t, err)
	assert.Equal(t, []int32{5, 6, 7}, ids32)
	info, ok := m.Info("c.weight")
	require.True(t, ok)
	assert.Equal(t, BF16, info.DType)
	raw, ok := m.Raw("c.weight")
	require.True(t, ok)
	assert.Len(t, raw, 4)

	_, _, err = m.F32("missing")
	assert.ErrorIs(t, err, ErrNotFound)
	_, ok = m.Info("missing")
	assert.False(t, ok)
}

func TestOpenModelRejects(t *testing.T) {
	tests := []struct {
		name  string
		index string
		want  string
	}{
		{"not JSON", `{"weight_map":`, IndexFileName},
		{"no weight map", `{"metadata":{}}`, "weight_map is missing or empty"},
		{"escaping path", `{"weight_map":{"a.weight":"../model-00001-of-00002.safetensors"}}`, "not a file name in the model directory"},
		{"absolute path", `{"weight_map":{"a.weight":"/etc/passwd"}}`, "not a file name in the model directory"},
		{"subdirectory", `{"weight_map":{"a.weight":"sub/x.safetensors"}}`, "not a file name in the model directory"},
		{"tensor not in shard", `{"weight_map":{"c.weight":"model-00001-of-00002.safetensors"}}`, `"c.weight" is listed for model-00001-of-00002.safetensors but not stored there`},
		{"missing shard", `{"weight_map":{"a.weight":"model-00009.safetensors"}}`, "model-00009.safetensors"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := writeShards(t, tt.index)
			_, err := OpenModel(dir)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
	_, err := OpenModel(t.TempDir())
	assert.ErrorContains(t, err, "no model.safetensors or model.safetensors.index.json")
}

func TestModelOfRejectsDuplicates(t *testing.T) {
	data, err := Marshal([]Tensor{F32Tensor("x", []int{1}, []float32{1})}, nil)
	require.NoError(t, err)
	a, err := Parse(data)
	require.NoError(t, err)
	b, err := Parse(data)
	require.NoError(t, err)
	_, err = ModelOf("dir", a, b)
	assert.ErrorContains(t, err, `tensor "x" is in both`)
	m, err := ModelOf("dir", a)
	require.NoError(t, err)
	assert.Equal(t, []string{"x"}, m.Names())
}
