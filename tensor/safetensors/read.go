package safetensors

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/bits"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

// MaxHeaderSize is the largest header accepted, as in the reference implementation.
// It bounds the one allocation made before the header has been checked.
const MaxHeaderSize = 100_000_000

// metadataKey is the reserved header key of the string -> string metadata.
const metadataKey = "__metadata__"

// ErrNotFound is returned (wrapped) when a tensor name is not in the file.
var ErrNotFound = errors.New("no such tensor")

// FormatError reports a malformed safetensors file: what is wrong, and in which file.
type FormatError struct {
	Path   string // the file, or "" for Parse of bytes in memory
	Reason string
}

func (e *FormatError) Error() string {
	if e.Path == "" {
		return "safetensors: " + e.Reason
	}
	return e.Path + ": safetensors: " + e.Reason
}

func bad(format string, args ...any) *FormatError {
	return &FormatError{Reason: fmt.Sprintf(format, args...)}
}

// TensorInfo describes one stored tensor.
type TensorInfo struct {
	DType  DType
	Shape  []int
	Offset int // start of the tensor's bytes within the data buffer
	Bytes  int // length of the tensor's bytes: product(Shape) * DType.Size()
}

// NumElements is the product of the shape (1 for a scalar, 0 for an empty tensor).
func (t TensorInfo) NumElements() int {
	n := 1
	for _, d := range t.Shape {
		n *= d
	}
	return n
}

// File is a parsed safetensors file held in memory. It is safe for concurrent
// reads. The accessors return fresh slices except Raw, which aliases the file.
type File struct {
	path    string // for error messages; "" after Parse
	data    []byte // the data buffer: everything after the header
	tensors map[string]TensorInfo
	names   []string // sorted
	meta    map[string]string
	// A mapped file (Map) keeps its descriptor for ReadBF16's preads; data
	// starts at dataStart in it.
	fh        *os.File
	dataStart int64
	mapped    bool
}

// Open reads and validates the safetensors file at path.
//
// The whole file is read into memory rather than memory-mapped: reading works the
// same on every platform, cannot fault later if the file is truncated while in use
// (a mapped file raises SIGBUS instead), and needs no Close. The cost is memory
// equal to the file size while the File is referenced; a model loader converts the
// weights to its own tensors and drops the File. The header is read and
// validated first, so a hostile header cannot trigger a large allocation: the only
// buffers allocated are bounded by the real size of the file.
func Open(path string) (*File, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	st, err := fh.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, &FormatError{path, "not a regular file"}
	}
	f, err := read(fh, st.Size())
	if err != nil {
		var fe *FormatError
		if errors.As(err, &fe) {
			fe.Path = path
			return nil, fe
		}
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	f.path = path
	return f, nil
}

func read(r io.Reader, size int64) (*File, error) {
	var prefix [8]byte
	if size < 8 {
		return nil, bad("file is %d bytes, too short for the 8-byte header length", size)
	}
	if _, err := io.ReadFull(r, prefix[:]); err != nil {
		return nil, err
	}
	n, err := headerLen(binary.LittleEndian.Uint64(prefix[:]), uint64(size))
	if err != nil {
		return nil, err
	}
	header := make([]byte, n)
	if _, err := io.ReadFull(r, header); err != nil {
		return nil, err
	}
	dataLen := int(size) - 8 - n
	f, err := parseHeader(header, dataLen)
	if err != nil {
		return nil, err
	}
	f.data = make([]byte, dataLen)
	if _, err := io.ReadFull(r, f.data); err != nil {
		return nil, fmt.Errorf("reading tensor data: %w", err)
	}
	return f, nil
}

// Parse validates data, the complete bytes of a safetensors file. The returned
// File keeps slices of data; do not modify data afterwards.
func Parse(data []byte) (*File, error) {
	if len(data) < 8 {
		return nil, bad("file is %d bytes, too short for the 8-byte header length", len(data))
	}
	n, err := headerLen(binary.LittleEndian.Uint64(data), uint64(len(data)))
	if err != nil {
		return nil, err
	}
	f, err := parseHeader(data[8:8+n], len(data)-8-n)
	if err != nil {
		return nil, err
	}
	f.data = data[8+n:]
	return f, nil
}

// headerLen checks the header length N against the limit and the file size.
func headerLen(n, fileSize uint64) (int, error) {
	if n > MaxHeaderSize {
		return 0, bad("header length %d exceeds the limit of %d bytes", n, MaxHeaderSize)
	}
	if 8+n > fileSize {
		return 0, bad("header length %d runs past the end of the %d-byte file", n, fileSize)
	}
	return int(n), nil
}

// parseHeader decodes and validates the JSON header for a data buffer of dataLen
// bytes. It streams the top-level object so that duplicate names are detected
// (decoding into a map would silently keep the last one).
func parseHeader(header []byte, dataLen int) (*File, error) {
	if !utf8.Valid(header) {
		return nil, bad("header is not valid UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(header))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, bad("header is not a JSON object")
	}
	f := &File{tensors: map[string]TensorInfo{}}
	seenMeta := false
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, bad("header JSON: %v", err)
		}
		name, _ := tok.(string) // object keys are always strings
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, bad("header JSON: %v", err)
		}
		if name == metadataKey {
			if seenMeta {
				return nil, bad("duplicate %s", metadataKey)
			}
			seenMeta = true
			if f.meta, err = parseMetadata(raw); err != nil {
				return nil, err
			}
			continue
		}
		if _, dup := f.tensors[name]; dup {
			return nil, bad("duplicate tensor name %q", name)
		}
		info, err := parseEntry(name, raw, dataLen)
		if err != nil {
			return nil, err
		}
		f.tensors[name] = info
		f.names = append(f.names, name)
	}
	if _, err := dec.Token(); err != nil {
		return nil, bad("header JSON: %v", err)
	}
	// The writer pads with spaces; accept any JSON whitespace, nothing else.
	if rest := header[dec.InputOffset():]; len(bytes.TrimLeft(rest, " \t\r\n")) != 0 {
		return nil, bad("unexpected bytes after the header's JSON object")
	}
	if err := checkLayout(f.tensors, dataLen); err != nil {
		return nil, err
	}
	sort.Strings(f.names)
	return f, nil
}

// parseMetadata decodes "__metadata__": null or an object of string values.
func parseMetadata(raw json.RawMessage) (map[string]string, error) {
	if string(raw) == "null" {
		return nil, nil
	}
	if raw[0] != '{' {
		return nil, bad("%s is not a JSON object", metadataKey)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, bad("%s: %v", metadataKey, err)
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		s, ok := v.(string)
		if !ok {
			return nil, bad("%s[%q] is not a string", metadataKey, k)
		}
		out[k] = s
	}
	return out, nil
}

// parseEntry decodes one tensor's {"dtype", "shape", "data_offsets"} and checks it
// on its own: known dtype, sizes without overflow, offsets inside the buffer and
// spanning exactly the bytes the shape needs. Unknown keys are ignored, as the
// reference reader does.
func parseEntry(name string, raw json.RawMessage, dataLen int) (TensorInfo, error) {
	var fields map[string]json.RawMessage
	if raw[0] != '{' || json.Unmarshal(raw, &fields) != nil {
		return TensorInfo{}, bad("tensor %q: entry is not a JSON object", name)
	}
	var dtypeName string
	if d, ok := fields["dtype"]; !ok || d[0] != '"' || json.Unmarshal(d, &dtypeName) != nil {
		return TensorInfo{}, bad("tensor %q: missing or non-string dtype", name)
	}
	dt, err := ParseDType(dtypeName)
	if err != nil {
		return TensorInfo{}, bad("tensor %q: %v", name, err)
	}
	shape, err := uintArray(fields["shape"])
	if err != nil {
		return TensorInfo{}, bad("tensor %q: shape: %v", name, err)
	}
	offsets, err := uintArray(fields["data_offsets"])
	if err != nil {
		return TensorInfo{}, bad("tensor %q: data_offsets: %v", name, err)
	}
	if len(offsets) != 2 {
		return TensorInfo{}, bad("tensor %q: data_offsets has %d values, want [begin, end]", name, len(offsets))
	}
	begin, end := offsets[0], offsets[1]
	if begin > end || end > uint64(dataLen) {
		return TensorInfo{}, bad("tensor %q: data_offsets [%d, %d] lie outside the %d-byte data buffer", name, begin, end, dataLen)
	}

	// Element count and byte size, refusing any product that overflows.
	elems := uint64(1)
	dims := make([]int, len(shape))
	for i, d := range shape {
		if d > math.MaxInt {
			return TensorInfo{}, bad("tensor %q: shape dimension %d is too large", name, d)
		}
		dims[i] = int(d)
		hi, lo := bits.Mul64(elems, d)
		if hi != 0 {
			return TensorInfo{}, bad("tensor %q: shape %v overflows 64 bits", name, shape)
		}
		elems = lo
	}
	hi, nbytes := bits.Mul64(elems, uint64(dt.Size()))
	if hi != 0 {
		return TensorInfo{}, bad("tensor %q: shape %v of %s overflows 64 bits of bytes", name, shape, dt)
	}
	if end-begin != nbytes {
		return TensorInfo{}, bad("tensor %q: data_offsets [%d, %d] hold %d bytes, but shape %v of %s needs %d",
			name, begin, end, end-begin, shape, dt, nbytes)
	}
	return TensorInfo{DType: dt, Shape: dims, Offset: int(begin), Bytes: int(nbytes)}, nil
}

// uintArray decodes a JSON array of non-negative integers, strictly: no floats,
// exponents, signs or strings, as the reference reader's usize fields demand.
func uintArray(raw json.RawMessage) ([]uint64, error) {
	if len(raw) == 0 {
		return nil, errors.New("missing")
	}
	if raw[0] != '[' {
		return nil, errors.New("not a JSON array")
	}
	var items []json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil {
		return nil, err
	}
	out := make([]uint64, len(items))
	for i, it := range items {
		v, err := strconv.ParseUint(string(it), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%s is not a non-negative integer", it)
		}
		out[i] = v
	}
	return out, nil
}

// checkLayout checks that the tensors tile the data buffer exactly: sorted by
// offset, each starts where the previous one ended, the first at 0 and the last
// ending at the end of the file. Gaps would hide data; overlaps would alias it.
func checkLayout(tensors map[string]TensorInfo, dataLen int) error {
	type span struct {
		name       string
		begin, end int
	}
	spans := make([]span, 0, len(tensors))
	for name, t := range tensors {
		spans = append(spans, span{name, t.Offset, t.Offset + t.Bytes})
	}
	slices.SortFunc(spans, func(a, b span) int {
		if a.begin != b.begin {
			return a.begin - b.begin
		}
		if a.end != b.end {
			return a.end - b.end
		}
		return strings.Compare(a.name, b.name)
	})
	pos, prev := 0, ""
	for _, s := range spans {
		switch {
		case s.begin > pos && prev == "":
			return bad("tensor %q starts at offset %d; the first tensor must start at 0", s.name, s.begin)
		case s.begin > pos:
			return bad("gap of %d bytes between tensors %q and %q", s.begin-pos, prev, s.name)
		case s.begin < pos:
			return bad("tensors %q and %q overlap", prev, s.name)
		}
		pos, prev = s.end, s.name
	}
	if pos != dataLen {
		return bad("tensors cover %d bytes but the data buffer holds %d", pos, dataLen)
	}
	return nil
}

// where prefixes errors about this file with its path, when it has one.
func (f *File) where() string {
	if f.path == "" {
		return "safetensors"
	}
	return f.path
}

// Path returns the path the file was opened from ("" after Parse).
func (f *File) Path() string { return f.path }

// Len returns the number of tensors.
func (f *File) Len() int { return len(f.names) }

// Names returns the tensor names in sorted order.
func (f *File) Names() []string { return slices.Clone(f.names) }

// Info describes the tensor called name.
func (f *File) Info(name string) (TensorInfo, bool) {
	t, ok := f.tensors[name]
	t.Shape = slices.Clone(t.Shape)
	return t, ok
}

// Raw returns the stored little-endian bytes of the tensor called name. The slice
// aliases the file's buffer: do not modify it.
func (f *File) Raw(name string) ([]byte, bool) {
	t, ok := f.tensors[name]
	if !ok {
		return nil, false
	}
	return f.data[t.Offset : t.Offset+t.Bytes : t.Offset+t.Bytes], true
}

// Metadata returns a copy of the "__metadata__" map (nil when absent).
func (f *File) Metadata() map[string]string {
	if f.meta == nil {
		return nil
	}
	m := make(map[string]string, len(f.meta))
	for k, v := range f.meta {
		m[k] = v
	}
	return m
}

// DataSize returns the size of the data buffer: the sum of all tensors' bytes.
func (f *File) DataSize() int { return len(f.data) }

// lookup returns a tensor's info and bytes, or an error naming the file.
func (f *File) lookup(name string) (TensorInfo, []byte, error) {
	t, ok := f.tensors[name]
	if !ok {
		return t, nil, fmt.Errorf("%s: %w: %q", f.where(), ErrNotFound, name)
	}
	t.Shape = slices.Clone(t.Shape)
	return t, f.data[t.Offset : t.Offset+t.Bytes], nil
}

// F32 returns the tensor called name as float32 values with its shape. F32, F16,
// BF16 and F64 tensors convert (F16 and BF16 exactly, F64 rounded to nearest).
func (f *File) F32(name string) ([]float32, []int, error) {
	t, raw, err := f.lookup(name)
	if err != nil {
		return nil, nil, err
	}
	v, err := DecodeF32(t.DType, raw)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: tensor %q: %w", f.where(), name, err)
	}
	return v, t.Shape, nil
}

// I64 returns the tensor called name as int64 values with its shape. Every integer
// dtype converts; U64 values above the int64 range are an error.
func (f *File) I64(name string) ([]int64, []int, error) {
	t, raw, err := f.lookup(name)
	if err != nil {
		return nil, nil, err
	}
	v, err := DecodeI64(t.DType, raw)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: tensor %q: %w", f.where(), name, err)
	}
	return v, t.Shape, nil
}

// I32 returns the tensor called name as int32 values with its shape. Every integer
// dtype converts as long as each value fits in an int32 (I64 token ids do).
func (f *File) I32(name string) ([]int32, []int, error) {
	t, raw, err := f.lookup(name)
	if err != nil {
		return nil, nil, err
	}
	v, err := DecodeI32(t.DType, raw)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: tensor %q: %w", f.where(), name, err)
	}
	return v, t.Shape, nil
}
