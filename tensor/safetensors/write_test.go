package safetensors

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// randomTensors returns one tensor of every dtype with random shapes (scalars and
// empty tensors included) and random bytes.
func randomTensors(rng *rand.Rand) []Tensor {
	var out []Tensor
	for d := DType(0); d < numDTypes; d++ {
		for k := range 3 {
			shape := make([]int, rng.IntN(4)) // rank 0..3
			n := 1
			for i := range shape {
				shape[i] = rng.IntN(5) + 1
				if k == 2 && i == 0 {
					shape[i] = 0 // an empty tensor
				}
				n *= shape[i]
			}
			data := make([]byte, n*d.Size())
			for i := range data {
				data[i] = byte(rng.Uint32())
			}
			out = append(out, Tensor{Name: d.String() + "/" + string(rune('a'+k)), DType: d, Shape: shape, Data: data})
		}
	}
	rng.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	return out
}

func TestRoundTripEveryDType(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	tensors := randomTensors(rng)
	meta := map[string]string{"format": "pt", "note": "round trip"}
	path := filepath.Join(t.TempDir(), "all.safetensors")
	require.NoError(t, Write(path, tensors, meta))

	f, err := Open(path)
	require.NoError(t, err)
	assert.Equal(t, path, f.Path())
	assert.Equal(t, meta, f.Metadata())
	require.Equal(t, len(tensors), f.Len())
	for _, want := range tensors {
		info, ok := f.Info(want.Name)
		require.True(t, ok, want.Name)
		assert.Equal(t, want.DType, info.DType, want.Name)
		assert.Equal(t, want.Shape, info.Shape, want.Name)
		raw, _ := f.Raw(want.Name)
		assert.Equal(t, want.Data, raw, want.Name)
	}

	// The same bytes come out of Marshal, and the header is padded to 8.
	fileBytes, err := os.ReadFile(path)
	require.NoError(t, err)
	mem, err := Marshal(tensors, meta)
	require.NoError(t, err)
	assert.Equal(t, fileBytes, mem)
	assert.Zero(t, binary.LittleEndian.Uint64(mem)%8, "header length is a multiple of 8")

	// Data order: descending dtype, then name; so each tensor is aligned to its size.
	type placed struct {
		name   string
		dt     DType
		offset int
	}
	var order []placed
	for _, name := range f.Names() {
		info, _ := f.Info(name)
		order = append(order, placed{name, info.DType, info.Offset})
		assert.Zero(t, (8+int(binary.LittleEndian.Uint64(mem))+info.Offset)%info.DType.Size(), "%s is aligned", name)
	}
	slices.SortStableFunc(order, func(a, b placed) int { return a.offset - b.offset })
	for i := 1; i < len(order); i++ {
		a, b := order[i-1], order[i]
		if a.offset == b.offset {
			continue // empty tensors share an offset
		}
		assert.True(t, a.dt > b.dt || (a.dt == b.dt && a.name < b.name), "%s before %s", a.name, b.name)
	}
}

// TestFixturesReproducedByteForByte rewrites the Hugging Face fixture files from
// their parsed contents: the bytes must match what the reference writer produced.
func TestFixturesReproducedByteForByte(t *testing.T) {
	for _, name := range []string{"model.safetensors", "golden.safetensors"} {
		path := filepath.Join(fixtureDir, name)
		want, err := os.ReadFile(path)
		require.NoError(t, err)
		f, err := Parse(want)
		require.NoError(t, err)
		var tensors []Tensor
		for _, n := range f.Names() {
			info, _ := f.Info(n)
			raw, _ := f.Raw(n)
			tensors = append(tensors, Tensor{Name: n, DType: info.DType, Shape: info.Shape, Data: raw})
		}
		got, err := Marshal(tensors, f.Metadata())
		require.NoError(t, err)
		assert.True(t, bytes.Equal(want, got), "%s: rewritten file differs", name)
	}
}

func TestFloatEncodingsRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	v := make([]float32, 1000)
	for i := range v {
		v[i] = float32(rng.NormFloat64() * math.Pow(2, float64(rng.IntN(40)-20)))
	}
	v[0], v[1], v[2] = float32(math.Inf(1)), float32(math.Ldexp(1, -24)), 70000
	for _, dt := range []DType{F32, F16, BF16} {
		tensor, err := FloatTensor("w", dt, []int{10, 100}, v)
		require.NoError(t, err)
		data, err := Marshal([]Tensor{tensor}, nil)
		require.NoError(t, err)
		f, err := Parse(data)
		require.NoError(t, err)
		got, shape, err := f.F32("w")
		require.NoError(t, err)
		assert.Equal(t, []int{10, 100}, shape)
		for i, x := range v {
			var want float64
			switch dt {
			case F32:
				want = float64(x)
			case F16:
				want = f16Ref(x)
			case BF16:
				want = bf16Ref(x)
			}
			require.Truef(t, sameValue(float64(got[i]), want), "%s [%d] %g: got %g want %g", dt, i, x, got[i], want)
		}
	}
	_, err := FloatTensor("w", I32, []int{1}, []float32{1})
	assert.Error(t, err)

	// F64 reads as float32 rounded to nearest.
	raw := binary.LittleEndian.AppendUint64(nil, math.Float64bits(1+1e-12))
	got, err := DecodeF32(F64, raw)
	require.NoError(t, err)
	assert.Equal(t, []float32{1}, got)
}

func TestIntegerTensorsRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	i64 := make([]int64, 24)
	i32 := make([]int32, 24)
	for i := range i64 {
		i64[i] = rng.Int64N(1<<20) - 1<<19
		i32[i] = int32(rng.Uint32())
	}
	data, err := Marshal([]Tensor{I64Tensor("ids", []int{3, 8}, i64), I32Tensor("ids32", []int{24}, i32)}, nil)
	require.NoError(t, err)
	f, err := Parse(data)
	require.NoError(t, err)
	got64, shape, err := f.I64("ids")
	require.NoError(t, err)
	assert.Equal(t, i64, got64)
	assert.Equal(t, []int{3, 8}, shape)
	got32, _, err := f.I32("ids") // I64 -> I32, lossless here
	require.NoError(t, err)
	for i := range i64 {
		assert.Equal(t, i64[i], int64(got32[i]))
	}
	back32, _, err := f.I32("ids32")
	require.NoError(t, err)
	assert.Equal(t, i32, back32)
	wide, _, err := f.I64("ids32")
	require.NoError(t, err)
	for i := range i32 {
		assert.Equal(t, int64(i32[i]), wide[i])
	}
}

func TestWriteRejects(t *testing.T) {
	ok := Tensor{Name: "a", DType: F32, Shape: []int{2}, Data: make([]byte, 8)}
	tests := []struct {
		name    string
		tensors []Tensor
		meta    map[string]string
		want    string
	}{
		{"duplicate", []Tensor{ok, ok}, nil, `duplicate tensor name "a"`},
		{"short data", []Tensor{{Name: "b", DType: F32, Shape: []int{3}, Data: make([]byte, 8)}}, nil, "8 data bytes, but shape [3] of F32 needs 12"},
		{"negative dim", []Tensor{{Name: "b", DType: U8, Shape: []int{-1}}}, nil, "negative dimension"},
		{"overflow", []Tensor{{Name: "b", DType: F64, Shape: []int{1 << 62, 1 << 62}}}, nil, "overflows"},
		{"reserved name", []Tensor{{Name: "__metadata__", DType: U8, Shape: []int{0}}}, nil, "reserved"},
		{"invalid UTF-8 name", []Tensor{{Name: "\xff", DType: U8, Shape: []int{0}}}, nil, "not valid UTF-8"},
		{"invalid dtype", []Tensor{{Name: "b", DType: numDTypes, Shape: []int{0}}}, nil, "invalid dtype"},
		{"invalid metadata", []Tensor{ok}, map[string]string{"k": "\xfe"}, "not valid UTF-8"},
	}
	dir := t.TempDir()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(dir, "out.safetensors")
			err := Write(path, tt.tensors, tt.meta)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
			assert.Contains(t, err.Error(), path, "the error names the file")
			_, statErr := os.Stat(path)
			assert.ErrorIs(t, statErr, os.ErrNotExist, "nothing is left behind")
			var buf bytes.Buffer
			assert.Error(t, Encode(&buf, tt.tensors, tt.meta))
			assert.Zero(t, buf.Len(), "Encode writes nothing for invalid input")
		})
	}
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	assert.Empty(t, entries, "no temporary files left")
}

func TestHeaderStringEscaping(t *testing.T) {
	tests := map[string]string{
		`a"b\c`:     `"a\"b\\c"`,
		"t\tn\nr\r": `"t\tn\nr\r"`,
		"\x01\x1f":  `"\u0001\u001f"`,
		"\b\f":      `"\b\f"`,
		"é<>&\x7f":  "\"é<>&\x7f\"",
	}
	for in, want := range tests {
		assert.Equal(t, want, string(appendJSONString(nil, in)))
		var back string
		require.NoError(t, json.Unmarshal([]byte(want), &back))
		assert.Equal(t, in, back, "valid JSON for %q", in)
	}
	// Odd names survive a full round trip.
	var tensors []Tensor
	for name := range tests {
		tensors = append(tensors, Tensor{Name: name, DType: U8, Shape: []int{1}, Data: []byte{7}})
	}
	data, err := Marshal(tensors, map[string]string{"k\"\n": "v\\"})
	require.NoError(t, err)
	f, err := Parse(data)
	require.NoError(t, err)
	assert.Equal(t, len(tests), f.Len())
	for name := range tests {
		_, ok := f.Info(name)
		assert.True(t, ok, "%q", name)
	}
	assert.Equal(t, map[string]string{"k\"\n": "v\\"}, f.Metadata())
}

func TestEmptyFileMatchesReference(t *testing.T) {
	// The reference implementation serialises no tensors as "{}" padded to 8.
	data, err := Marshal(nil, nil)
	require.NoError(t, err)
	assert.Equal(t, []byte{8, 0, 0, 0, 0, 0, 0, 0, '{', '}', ' ', ' ', ' ', ' ', ' ', ' '}, data)
	// And a one-tensor file exactly as its test vector has it.
	data, err = Marshal([]Tensor{F32Tensor("attn.0", []int{1, 2, 3}, []float32{0, 1, 2, 3, 4, 5})}, nil)
	require.NoError(t, err)
	header := `{"attn.0":{"dtype":"F32","shape":[1,2,3],"data_offsets":[0,24]}}`
	assert.Equal(t, uint64(64), binary.LittleEndian.Uint64(data))
	assert.Equal(t, header, string(data[8:8+len(header)]))
}
