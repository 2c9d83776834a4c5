package safetensors

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"fmt"
	"io"
	"math/bits"
	"slices"
	"strconv"
	"unicode/utf8"

	"github.com/dllmgo/dllm/internal/atomicfile"
)

// Tensor is one tensor to write: its bytes are little-endian and row-major, and
// len(Data) must equal product(Shape) * DType.Size().
type Tensor struct {
	Name  string
	DType DType
	Shape []int
	Data  []byte
}

// F32Tensor builds an F32 tensor from float32 values.
func F32Tensor(name string, shape []int, v []float32) Tensor {
	return Tensor{Name: name, DType: F32, Shape: shape, Data: EncodeF32(v)}
}

// FloatTensor builds a tensor of dtype F32, F16 or BF16 from float32 values,
// rounding to nearest even for the 16-bit types.
func FloatTensor(name string, dt DType, shape []int, v []float32) (Tensor, error) {
	t := Tensor{Name: name, DType: dt, Shape: shape}
	switch dt {
	case F32:
		t.Data = EncodeF32(v)
	case F16:
		t.Data = EncodeF16(v)
	case BF16:
		t.Data = EncodeBF16(v)
	default:
		return Tensor{}, fmt.Errorf("safetensors: tensor %q: cannot encode float32 values as %s", name, dt)
	}
	return t, nil
}

// I64Tensor builds an I64 tensor.
func I64Tensor(name string, shape []int, v []int64) Tensor {
	return Tensor{Name: name, DType: I64, Shape: shape, Data: EncodeI64(v)}
}

// I32Tensor builds an I32 tensor.
func I32Tensor(name string, shape []int, v []int32) Tensor {
	return Tensor{Name: name, DType: I32, Shape: shape, Data: EncodeI32(v)}
}

// Write writes tensors and optional metadata to path as a safetensors file,
// atomically: a reader sees the old file or the complete new one, never a part.
func Write(path string, tensors []Tensor, meta map[string]string) error {
	header, order, err := prepare(tensors, meta)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return atomicfile.Write(path, 0o644, func(w io.Writer) error {
		return writeBody(w, header, tensors, order)
	})
}

// Encode writes tensors and optional metadata to w in safetensors format. Nothing
// is written when the tensors are invalid.
func Encode(w io.Writer, tensors []Tensor, meta map[string]string) error {
	header, order, err := prepare(tensors, meta)
	if err != nil {
		return err
	}
	return writeBody(w, header, tensors, order)
}

// Marshal returns the bytes of a safetensors file holding tensors and metadata.
func Marshal(tensors []Tensor, meta map[string]string) ([]byte, error) {
	var buf bytes.Buffer
	if err := Encode(&buf, tensors, meta); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func writeBody(w io.Writer, header []byte, tensors []Tensor, order []int) error {
	var n [8]byte
	binary.LittleEndian.PutUint64(n[:], uint64(len(header)))
	if _, err := w.Write(n[:]); err != nil {
		return err
	}
	if _, err := w.Write(header); err != nil {
		return err
	}
	for _, i := range order {
		if _, err := w.Write(tensors[i].Data); err != nil {
			return err
		}
	}
	return nil
}

// prepare validates the tensors and builds the padded header. It returns the
// order in which the tensors' bytes follow the header: descending dtype (the
// reference writer's alignment order, so wide types come first and every tensor
// stays aligned to its element size), then ascending name.
func prepare(tensors []Tensor, meta map[string]string) ([]byte, []int, error) {
	seen := make(map[string]bool, len(tensors))
	for _, t := range tensors {
		if err := checkTensor(t); err != nil {
			return nil, nil, err
		}
		if seen[t.Name] {
			return nil, nil, fmt.Errorf("safetensors: duplicate tensor name %q", t.Name)
		}
		seen[t.Name] = true
	}
	for k, v := range meta {
		if !utf8.ValidString(k) || !utf8.ValidString(v) {
			return nil, nil, fmt.Errorf("safetensors: metadata %q is not valid UTF-8", k)
		}
	}

	order := make([]int, len(tensors))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int {
		ta, tb := tensors[a], tensors[b]
		if c := cmp.Compare(tb.DType, ta.DType); c != 0 {
			return c
		}
		return cmp.Compare(ta.Name, tb.Name)
	})

	// The header is compact JSON, as the reference writer's serde_json produces:
	// metadata first (keys sorted here for determinism), then the tensors in
	// data order.
	var h []byte
	h = append(h, '{')
	if len(meta) > 0 {
		h = appendJSONString(h, metadataKey)
		h = append(h, ":{"...)
		keys := make([]string, 0, len(meta))
		for k := range meta {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for i, k := range keys {
			if i > 0 {
				h = append(h, ',')
			}
			h = appendJSONString(h, k)
			h = append(h, ':')
			h = appendJSONString(h, meta[k])
		}
		h = append(h, '}')
	}
	offset := uint64(0)
	for i, idx := range order {
		t := tensors[idx]
		if i > 0 || len(meta) > 0 {
			h = append(h, ',')
		}
		h = appendJSONString(h, t.Name)
		h = append(h, `:{"dtype":`...)
		h = appendJSONString(h, t.DType.String())
		h = append(h, `,"shape":[`...)
		for j, d := range t.Shape {
			if j > 0 {
				h = append(h, ',')
			}
			h = strconv.AppendInt(h, int64(d), 10)
		}
		h = append(h, `],"data_offsets":[`...)
		h = strconv.AppendUint(h, offset, 10)
		h = append(h, ',')
		offset += uint64(len(t.Data))
		h = strconv.AppendUint(h, offset, 10)
		h = append(h, "]}"...)
	}
	h = append(h, '}')
	// Pad with spaces so the data buffer starts on an 8-byte boundary.
	for len(h)%8 != 0 {
		h = append(h, ' ')
	}
	if len(h) > MaxHeaderSize {
		return nil, nil, fmt.Errorf("safetensors: header of %d bytes exceeds the %d-byte limit", len(h), MaxHeaderSize)
	}
	return h, order, nil
}

func checkTensor(t Tensor) error {
	switch {
	case !utf8.ValidString(t.Name):
		return fmt.Errorf("safetensors: tensor name %q is not valid UTF-8", t.Name)
	case t.Name == metadataKey:
		return fmt.Errorf("safetensors: %q is reserved and cannot name a tensor", t.Name)
	case !t.DType.Valid():
		return fmt.Errorf("safetensors: tensor %q: invalid dtype %v", t.Name, t.DType)
	}
	n := uint64(t.DType.Size())
	for _, d := range t.Shape {
		if d < 0 {
			return fmt.Errorf("safetensors: tensor %q: negative dimension in shape %v", t.Name, t.Shape)
		}
		hi, lo := bits.Mul64(n, uint64(d))
		if hi != 0 {
			return fmt.Errorf("safetensors: tensor %q: shape %v overflows", t.Name, t.Shape)
		}
		n = lo
	}
	if uint64(len(t.Data)) != n {
		return fmt.Errorf("safetensors: tensor %q: %d data bytes, but shape %v of %s needs %d",
			t.Name, len(t.Data), t.Shape, t.DType, n)
	}
	return nil
}

// appendJSONString appends s as a JSON string the way serde_json writes it:
// only '"', '\\' and control characters are escaped (short forms where JSON has
// them, else \u00xx in lower-case hex); everything else, non-ASCII included, is
// written as is. Matching it keeps our files byte-identical to the reference's.
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c == '\b':
			b = append(b, '\\', 'b')
		case c == '\f':
			b = append(b, '\\', 'f')
		case c == '\n':
			b = append(b, '\\', 'n')
		case c == '\r':
			b = append(b, '\\', 'r')
		case c == '\t':
			b = append(b, '\\', 't')
		case c < 0x20:
			b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		default:
			b = append(b, c)
		}
	}
	return append(b, '"')
}
