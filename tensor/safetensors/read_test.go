package safetensors

import (
	"encoding/binary"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// build assembles a file from a header and a data buffer, declaring the header's
// true length.
func build(header string, data []byte) []byte {
	return withLen(uint64(len(header)), header, data)
}

// withLen assembles a file declaring header length n, true or not.
func withLen(n uint64, header string, data []byte) []byte {
	out := binary.LittleEndian.AppendUint64(nil, n)
	out = append(out, header...)
	return append(out, data...)
}

func TestParseValidEdgeCases(t *testing.T) {
	tests := []struct {
		name   string
		file   []byte
		tensor string
		want   TensorInfo
	}{
		{"empty header", build("{}", nil), "", TensorInfo{}},
		{"padding spaces and newline", build(`{"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]}}`+"  \n ", []byte{1, 2}),
			"a", TensorInfo{DType: U8, Shape: []int{2}, Bytes: 2}},
		{"scalar", build(`{"s":{"dtype":"F32","shape":[],"data_offsets":[0,4]}}`, make([]byte, 4)),
			"s", TensorInfo{DType: F32, Shape: []int{}, Bytes: 4}},
		{"empty tensor beside data", build(`{"e":{"dtype":"F32","shape":[3,0],"data_offsets":[0,0]},"x":{"dtype":"I16","shape":[1],"data_offsets":[0,2]}}`, make([]byte, 2)),
			"e", TensorInfo{DType: F32, Shape: []int{3, 0}, Bytes: 0}},
		{"unknown entry keys ignored", build(`{"a":{"dtype":"BOOL","shape":[1],"data_offsets":[0,1],"extra":[1,2]}}`, []byte{1}),
			"a", TensorInfo{DType: Bool, Shape: []int{1}, Bytes: 1}},
		{"metadata null", build(`{"__metadata__":null,"a":{"dtype":"I8","shape":[1],"data_offsets":[0,1]}}`, []byte{1}),
			"a", TensorInfo{DType: I8, Shape: []int{1}, Bytes: 1}},
		{"offsets not in name order", build(`{"b":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"a":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}}`, []byte{7, 9}),
			"a", TensorInfo{DType: U8, Shape: []int{1}, Offset: 1, Bytes: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := Parse(tt.file)
			require.NoError(t, err)
			if tt.tensor == "" {
				assert.Zero(t, f.Len())
				return
			}
			got, ok := f.Info(tt.tensor)
			require.True(t, ok)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestParseRejects(t *testing.T) {
	entry := func(name, dtype, shape, offsets string) string {
		return `"` + name + `":{"dtype":"` + dtype + `","shape":` + shape + `,"data_offsets":` + offsets + `}`
	}
	one := func(dtype, shape, offsets string) string { return "{" + entry("w", dtype, shape, offsets) + "}" }
	tests := []struct {
		name string
		file []byte
		want string // in the error message
	}{
		{"shorter than 8 bytes", []byte{1, 2, 3}, "too short"},
		{"header over the limit", withLen(MaxHeaderSize+1, "{}", nil), "exceeds the limit"},
		{"header length huge", withLen(math.MaxUint64, "{}", nil), "exceeds the limit"},
		{"header past end of file", withLen(100, "{}", nil), "runs past the end"},
		{"zero-length header", withLen(0, "", nil), "not a JSON object"},
		{"invalid UTF-8", build("{\"\xff\":1}", nil), "UTF-8"},
		{"array header", build("[]", nil), "not a JSON object"},
		{"broken JSON", build(`{"a":{"dtype":"F32"`, nil), "header JSON"},
		{"garbage after object", build(`{} x`, nil), "after the header"},
		{"duplicate name", build("{"+entry("w", "U8", "[1]", "[0,1]")+","+entry("w", "U8", "[1]", "[1,2]")+"}", []byte{1, 2}), `duplicate tensor name "w"`},
		{"duplicate metadata", build(`{"__metadata__":{},"__metadata__":{}}`, nil), "duplicate __metadata__"},
		{"metadata number", build(`{"__metadata__":{"n":1}}`, nil), `__metadata__["n"] is not a string`},
		{"metadata null value", build(`{"__metadata__":{"n":null}}`, nil), "not a string"},
		{"metadata array", build(`{"__metadata__":["a"]}`, nil), "not a JSON object"},
		{"entry not object", build(`{"w":[1]}`, nil), `"w": entry is not a JSON object`},
		{"entry null", build(`{"w":null}`, nil), "entry is not a JSON object"},
		{"unknown dtype", build(one("F4", "[1]", "[0,1]"), []byte{1}), `unknown dtype "F4"`},
		{"lowercase dtype", build(one("f32", "[1]", "[0,4]"), make([]byte, 4)), `unknown dtype "f32"`},
		{"missing dtype", build(`{"w":{"shape":[1],"data_offsets":[0,1]}}`, []byte{1}), "missing or non-string dtype"},
		{"dtype number", build(`{"w":{"dtype":4,"shape":[1],"data_offsets":[0,1]}}`, []byte{1}), "non-string dtype"},
		{"missing shape", build(`{"w":{"dtype":"U8","data_offsets":[0,1]}}`, []byte{1}), "shape: missing"},
		{"shape null", build(one("U8", "null", "[0,1]"), []byte{1}), "shape: not a JSON array"},
		{"negative dimension", build(one("U8", "[-1]", "[0,1]"), []byte{1}), "-1 is not a non-negative integer"},
		{"float dimension", build(one("U8", "[1.0]", "[0,1]"), []byte{1}), "1.0 is not a non-negative integer"},
		{"exponent dimension", build(one("U8", "[1e0]", "[0,1]"), []byte{1}), "not a non-negative integer"},
		{"string dimension", build(one("U8", `["1"]`, "[0,1]"), []byte{1}), "not a non-negative integer"},
		{"dimension beyond uint64", build(one("U8", "[18446744073709551616]", "[0,1]"), []byte{1}), "not a non-negative integer"},
		{"three offsets", build(one("U8", "[1]", "[0,1,2]"), []byte{1}), "has 3 values"},
		{"begin after end", build(one("U8", "[0]", "[1,0]"), []byte{1}), "outside the 1-byte data buffer"},
		{"end past the file", build(one("F32", "[1000000000000]", "[0,4000000000000]"), make([]byte, 4)), "outside the 4-byte data buffer"},
		{"size mismatch", build(one("F32", "[2]", "[0,4]"), make([]byte, 4)), "hold 4 bytes, but shape [2] of F32 needs 8"},
		{"element count overflow", build(one("U8", "[4294967296,4294967296,2]", "[0,1]"), []byte{1}), "overflows 64 bits"},
		{"byte count overflow", build(one("F64", "[4611686018427387904]", "[0,1]"), []byte{1}), "overflows 64 bits of bytes"},
		{"huge dimension times zero", build(one("U8", "[0,18446744073709551615]", "[0,0]"), nil), "too large"},
		{"first tensor not at 0", build("{"+entry("a", "U8", "[1]", "[1,2]")+"}", []byte{1, 2}), `"a" starts at offset 1`},
		{"gap", build("{"+entry("a", "U8", "[1]", "[0,1]")+","+entry("b", "U8", "[1]", "[2,3]")+"}", []byte{1, 2, 3}), `gap of 1 bytes between tensors "a" and "b"`},
		{"overlap", build("{"+entry("a", "U8", "[2]", "[0,2]")+","+entry("b", "U8", "[2]", "[1,3]")+"}", []byte{1, 2, 3}), `tensors "a" and "b" overlap`},
		{"trailing data", build(one("U8", "[1]", "[0,1]"), []byte{1, 2}), "tensors cover 1 bytes but the data buffer holds 2"},
		{"data without tensors", build("{}", []byte{1}), "cover 0 bytes but the data buffer holds 1"},
		{"deep nesting", build(`{"__metadata__":`+strings.Repeat("[", 20000)+strings.Repeat("]", 20000)+`}`, nil), "header JSON"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := Parse(tt.file)
			require.Error(t, err)
			assert.Nil(t, f)
			var fe *FormatError
			require.ErrorAs(t, err, &fe, "every rejection is a FormatError")
			assert.Contains(t, err.Error(), tt.want)
		})
	}
}

// TestParseHostileAllocatesLittle checks that headers that claim enormous sizes
// are rejected before anything of that size is allocated.
func TestParseHostileAllocatesLittle(t *testing.T) {
	hostile := [][]byte{
		withLen(MaxHeaderSize, "{}", nil),
		build(`{"w":{"dtype":"F64","shape":[1000000000000,1000000],"data_offsets":[0,8000000000000000000]}}`, nil),
		build(`{"w":{"dtype":"F64","shape":[`+strings.Repeat("1000000,", 1000)+`1],"data_offsets":[0,8]}}`, make([]byte, 8)),
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for _, file := range hostile {
		_, err := Parse(file)
		require.Error(t, err)
	}
	runtime.ReadMemStats(&after)
	assert.Less(t, after.TotalAlloc-before.TotalAlloc, uint64(1<<20), "bytes allocated while rejecting hostile headers")
}

func TestOpenErrorsNameTheFile(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name string
		data []byte
		want string
	}{
		{"empty.safetensors", nil, "too short"},
		{"truncated.safetensors", build(`{"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}`, make([]byte, 10)), "outside the 10-byte data buffer"},
		{"huge.safetensors", withLen(1<<40, "{}", nil), "exceeds the limit"},
		{"liar.safetensors", withLen(1<<20, "{}", nil), "runs past the end"},
	}
	for _, tt := range tests {
		path := filepath.Join(dir, tt.name)
		require.NoError(t, os.WriteFile(path, tt.data, 0o644))
		_, err := Open(path)
		require.Error(t, err, tt.name)
		assert.True(t, strings.HasPrefix(err.Error(), path+": "), "error %q names the file", err)
		assert.Contains(t, err.Error(), tt.want)
	}
	_, err := Open(filepath.Join(dir, "missing.safetensors"))
	assert.ErrorIs(t, err, os.ErrNotExist)
	_, err = Open(dir)
	assert.ErrorContains(t, err, "not a regular file")
}

func TestAccessors(t *testing.T) {
	file := build(`{"__metadata__":{"format":"pt"},"i":{"dtype":"I64","shape":[2],"data_offsets":[0,16]},"h":{"dtype":"F16","shape":[1,2],"data_offsets":[16,20]}}    `,
		append(EncodeI64([]int64{-3, 1 << 40}), EncodeF16([]float32{1.5, -2})...))
	f, err := Parse(file)
	require.NoError(t, err)
	assert.Equal(t, []string{"h", "i"}, f.Names())
	assert.Equal(t, map[string]string{"format": "pt"}, f.Metadata())
	assert.Equal(t, 20, f.DataSize())

	v, shape, err := f.F32("h")
	require.NoError(t, err)
	assert.Equal(t, []float32{1.5, -2}, v)
	assert.Equal(t, []int{1, 2}, shape)
	shape[0] = 99 // callers own what they get back
	info, _ := f.Info("h")
	assert.Equal(t, []int{1, 2}, info.Shape)
	assert.Equal(t, 2, info.NumElements())

	iv, _, err := f.I64("i")
	require.NoError(t, err)
	assert.Equal(t, []int64{-3, 1 << 40}, iv)
	_, _, err = f.I32("i")
	assert.ErrorContains(t, err, "element 1 = 1099511627776 does not fit in int32")
	_, _, err = f.F32("i")
	assert.ErrorContains(t, err, `tensor "i": dtype I64 is not a float type`)
	_, _, err = f.I64("h")
	assert.ErrorContains(t, err, "not an integer type")
	_, _, err = f.F32("nope")
	assert.ErrorIs(t, err, ErrNotFound)
	_, ok := f.Raw("nope")
	assert.False(t, ok)
	raw, ok := f.Raw("h")
	require.True(t, ok)
	assert.Len(t, raw, 4)
}

func TestIntegerConversions(t *testing.T) {
	tests := []struct {
		dt      DType
		raw     []byte
		want64  []int64
		err32   string
		wantErr string
	}{
		{I32, EncodeI32([]int32{-7, math.MaxInt32}), []int64{-7, math.MaxInt32}, "", ""},
		{I64, EncodeI64([]int64{math.MinInt32, 5}), []int64{math.MinInt32, 5}, "", ""},
		{I64, EncodeI64([]int64{math.MinInt32 - 1}), []int64{math.MinInt32 - 1}, "does not fit in int32", ""},
		{U32, binary.LittleEndian.AppendUint32(nil, math.MaxUint32), []int64{math.MaxUint32}, "does not fit in int32", ""},
		{I16, []byte{0xff, 0xff, 2, 0}, []int64{-1, 2}, "", ""},
		{U16, []byte{0xff, 0xff}, []int64{65535}, "", ""},
		{I8, []byte{0x80}, []int64{-128}, "", ""},
		{U8, []byte{0x80}, []int64{128}, "", ""},
		{Bool, []byte{1, 0}, []int64{1, 0}, "", ""},
		{U64, binary.LittleEndian.AppendUint64(nil, math.MaxInt64), []int64{math.MaxInt64}, "does not fit in int32", ""},
		{U64, binary.LittleEndian.AppendUint64(nil, math.MaxInt64+1), nil, "", "does not fit in int64"},
		{F32, EncodeF32([]float32{1}), nil, "", "not an integer type"},
		{I32, []byte{1, 2, 3}, nil, "", "not a whole number"},
	}
	for _, tt := range tests {
		got, err := DecodeI64(tt.dt, tt.raw)
		if tt.wantErr != "" {
			assert.ErrorContains(t, err, tt.wantErr, tt.dt.String())
			_, err = DecodeI32(tt.dt, tt.raw)
			assert.Error(t, err)
			continue
		}
		require.NoError(t, err)
		assert.Equal(t, tt.want64, got, tt.dt.String())
		got32, err := DecodeI32(tt.dt, tt.raw)
		if tt.err32 != "" {
			assert.ErrorContains(t, err, tt.err32, tt.dt.String())
			continue
		}
		require.NoError(t, err)
		for i := range got {
			assert.Equal(t, got[i], int64(got32[i]))
		}
	}
}

func TestParseDType(t *testing.T) {
	for d := DType(0); d < numDTypes; d++ {
		got, err := ParseDType(d.String())
		require.NoError(t, err)
		assert.Equal(t, d, got)
		assert.Contains(t, []int{1, 2, 4, 8}, d.Size())
	}
	_, err := ParseDType("F8_E8M0")
	assert.Error(t, err)
	assert.False(t, numDTypes.Valid())
	assert.Equal(t, 0, numDTypes.Size())
}
