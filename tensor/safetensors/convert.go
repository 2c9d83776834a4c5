package safetensors

import (
	"encoding/binary"
	"fmt"
	"math"
	"unsafe"
)

// nativeLittleEndian reports whether this machine stores numbers as the format
// does, so that F32 data can be copied instead of decoded.
var nativeLittleEndian = binary.NativeEndian.Uint16([]byte{1, 0}) == 1

// Decoding and encoding of tensor bytes. The format is little-endian on every
// host, so these go through encoding/binary rather than reinterpreting memory.

// DecodeF32 converts raw tensor bytes of dtype dt to float32. F32, F16, BF16 and
// F64 are accepted; F16 and BF16 convert exactly, F64 rounds to nearest.
func DecodeF32(dt DType, raw []byte) ([]float32, error) {
	if err := checkLen(dt, raw); err != nil {
		return nil, err
	}
	out := make([]float32, len(raw)/dt.Size())
	switch dt {
	case F32:
		if nativeLittleEndian {
			// The stored bytes are the in-memory representation: one copy.
			copy(unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(out))), len(raw)), raw)
			break
		}
		for i := range out {
			out[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
		}
	case F16:
		for i := range out {
			out[i] = F16ToF32(uint16(raw[2*i]) | uint16(raw[2*i+1])<<8)
		}
	case BF16:
		for i := range out {
			out[i] = math.Float32frombits(uint32(raw[2*i])<<16 | uint32(raw[2*i+1])<<24)
		}
	case F64:
		for i := range out {
			out[i] = float32(math.Float64frombits(binary.LittleEndian.Uint64(raw[8*i:])))
		}
	default:
		return nil, fmt.Errorf("dtype %s is not a float type (want F32, F16, BF16 or F64)", dt)
	}
	return out, nil
}

// DecodeI64 converts raw tensor bytes of an integer dtype (or BOOL) to int64.
// U64 values above math.MaxInt64 are an error rather than wrapping negative.
func DecodeI64(dt DType, raw []byte) ([]int64, error) {
	if err := checkLen(dt, raw); err != nil {
		return nil, err
	}
	n := len(raw) / max(dt.Size(), 1)
	out := make([]int64, n)
	le := binary.LittleEndian
	switch dt {
	case I64:
		for i := range out {
			out[i] = int64(le.Uint64(raw[8*i:]))
		}
	case U64:
		for i := range out {
			u := le.Uint64(raw[8*i:])
			if u > math.MaxInt64 {
				return nil, fmt.Errorf("element %d = %d does not fit in int64", i, u)
			}
			out[i] = int64(u)
		}
	case I32:
		for i := range out {
			out[i] = int64(int32(le.Uint32(raw[4*i:])))
		}
	case U32:
		for i := range out {
			out[i] = int64(le.Uint32(raw[4*i:]))
		}
	case I16:
		for i := range out {
			out[i] = int64(int16(le.Uint16(raw[2*i:])))
		}
	case U16:
		for i := range out {
			out[i] = int64(le.Uint16(raw[2*i:]))
		}
	case I8:
		for i := range out {
			out[i] = int64(int8(raw[i]))
		}
	case U8, Bool:
		for i := range out {
			out[i] = int64(raw[i])
		}
	default:
		return nil, fmt.Errorf("dtype %s is not an integer type", dt)
	}
	return out, nil
}

// DecodeI32 converts raw tensor bytes of an integer dtype (or BOOL) to int32. Wider
// types convert when every value fits; the first one that does not is an error.
func DecodeI32(dt DType, raw []byte) ([]int32, error) {
	if dt == I32 {
		if err := checkLen(dt, raw); err != nil {
			return nil, err
		}
		out := make([]int32, len(raw)/4)
		for i := range out {
			out[i] = int32(binary.LittleEndian.Uint32(raw[4*i:]))
		}
		return out, nil
	}
	wide, err := DecodeI64(dt, raw)
	if err != nil {
		return nil, err
	}
	out := make([]int32, len(wide))
	for i, v := range wide {
		if v < math.MinInt32 || v > math.MaxInt32 {
			return nil, fmt.Errorf("element %d = %d does not fit in int32", i, v)
		}
		out[i] = int32(v)
	}
	return out, nil
}

func checkLen(dt DType, raw []byte) error {
	if !dt.Valid() {
		return fmt.Errorf("invalid dtype %v", dt)
	}
	if len(raw)%dt.Size() != 0 {
		return fmt.Errorf("%d bytes is not a whole number of %s elements", len(raw), dt)
	}
	return nil
}

// EncodeF32 returns v as F32 bytes.
func EncodeF32(v []float32) []byte {
	out := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(out[4*i:], math.Float32bits(x))
	}
	return out
}

// EncodeF16 returns v as F16 bytes, each value rounded to nearest even.
func EncodeF16(v []float32) []byte {
	out := make([]byte, 2*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint16(out[2*i:], F32ToF16(x))
	}
	return out
}

// EncodeBF16 returns v as BF16 bytes, each value rounded to nearest even.
func EncodeBF16(v []float32) []byte {
	out := make([]byte, 2*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint16(out[2*i:], F32ToBF16(x))
	}
	return out
}

// EncodeI64 returns v as I64 bytes.
func EncodeI64(v []int64) []byte {
	out := make([]byte, 8*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint64(out[8*i:], uint64(x))
	}
	return out
}

// EncodeI32 returns v as I32 bytes.
func EncodeI32(v []int32) []byte {
	out := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(out[4*i:], uint32(x))
	}
	return out
}
