package safetensors

import (
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestMapMatchesOpen: a mapped file gives every tensor as Open does, a BF16
// tensor in place (aliasing the mapping) and through ReadBF16, and ReadBF16
// rounds an F32 tensor as F32ToBF16 does.
func TestMapMatchesOpen(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	vals := func(n int) []float32 {
		v := make([]float32, n)
		for i := range v {
			v[i] = float32(rng.NormFloat64())
		}
		return v
	}
	w, err := FloatTensor("w", BF16, []int{5, 7}, vals(35))
	require.NoError(t, err)
	odd, err := FloatTensor("odd", BF16, []int{3}, vals(3))
	require.NoError(t, err)
	path := filepath.Join(t.TempDir(), SingleFileName)
	require.NoError(t, Write(path, []Tensor{w, odd, F32Tensor("f", []int{2, 3}, vals(6)), I64Tensor("ids", []int{3}, []int64{1, 2, 3})}, nil))

	read, err := Open(path)
	require.NoError(t, err)
	mapped, err := Map(path)
	require.NoError(t, err)
	assert.Equal(t, runtime.GOOS != "windows" && runtime.GOOS != "plan9", mapped.Mapped())
	for _, name := range []string{"w", "odd", "f"} {
		want, shape, err := read.F32(name)
		require.NoError(t, err)
		got, gotShape, err := mapped.F32(name)
		require.NoError(t, err)
		assert.Equal(t, want, got, name)
		assert.Equal(t, shape, gotShape, name)

		bits := make([]uint16, len(want))
		gotShape, err = mapped.ReadBF16(name, bits)
		require.NoError(t, err)
		assert.Equal(t, shape, gotShape)
		for i, v := range want {
			require.Equal(t, F32ToBF16(v), bits[i], "%s[%d]", name, i)
		}
	}
	if mapped.Mapped() {
		bits, shape, ok := mapped.BF16Bits("w")
		require.True(t, ok, "an aligned BF16 tensor is used in place")
		assert.Equal(t, []int{5, 7}, shape)
		raw, _ := read.Raw("w")
		for i, b := range bits {
			require.Equal(t, uint16(raw[2*i])|uint16(raw[2*i+1])<<8, b)
		}
	}
	_, _, ok := mapped.BF16Bits("f")
	assert.False(t, ok, "an F32 tensor is not BF16 in place")
	_, err = mapped.ReadBF16("w", make([]uint16, 3))
	assert.ErrorContains(t, err, `tensor "w" has 35 elements, 3 asked for`)
	_, err = mapped.ReadBF16("nope", nil)
	assert.ErrorIs(t, err, ErrNotFound)
}

// TestMapModelSharded: MapModel opens the shards an index lists, and
// refuses a bad index and a bad file as OpenModel does.
func TestMapModelSharded(t *testing.T) {
	dir := writeShards(t, goodIndex)
	m, err := MapModel(dir)
	require.NoError(t, err)
	assert.Equal(t, []string{"a.weight", "b.ids", "c.weight"}, m.Names())
	bits := make([]uint16, 2)
	_, err = m.ReadBF16("c.weight", bits)
	require.NoError(t, err)
	assert.Equal(t, []uint16{F32ToBF16(0.5), F32ToBF16(-8)}, bits)

	bad := filepath.Join(t.TempDir(), SingleFileName)
	require.NoError(t, os.WriteFile(bad, []byte{1, 0, 0, 0, 0, 0, 0, 0, '{'}, 0o644))
	_, err = MapModel(filepath.Dir(bad))
	require.Error(t, err)
	assert.Contains(t, err.Error(), bad)
}
