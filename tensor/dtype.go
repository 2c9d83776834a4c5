package tensor

import (
	"fmt"
	"math"
)

// DType is the element type of a Tensor.
type DType uint8

const (
	// F32 is IEEE float32, the CPU backend's compute type and the type of
	// master weights and gradients.
	F32 DType = iota + 1
	// BF16 is bfloat16: the top 16 bits of a float32. Stored as uint16 bits.
	BF16
	// I32 holds token ids, positions and masks.
	I32
	// I64 holds token ids as Hugging Face writes them.
	I64
)

// Size is the number of bytes of one element.
func (d DType) Size() int {
	switch d {
	case F32, I32:
		return 4
	case BF16:
		return 2
	case I64:
		return 8
	}
	panic(fmt.Sprintf("tensor: unknown dtype %d", d))
}

func (d DType) String() string {
	switch d {
	case F32:
		return "F32"
	case BF16:
		return "BF16"
	case I32:
		return "I32"
	case I64:
		return "I64"
	}
	return fmt.Sprintf("DType(%d)", uint8(d))
}

// IsFloat reports whether d is a floating-point type.
func (d DType) IsFloat() bool { return d == F32 || d == BF16 }

// BF16FromF32 rounds f to the nearest bfloat16, ties to even. NaN stays NaN
// (quiet), infinities stay infinite.
func BF16FromF32(f float32) uint16 {
	bits := math.Float32bits(f)
	if bits&0x7fffffff > 0x7f800000 { // NaN: keep the sign, force a quiet mantissa bit
		return uint16(bits>>16) | 0x0040
	}
	// Round to nearest even: add 0x7fff plus the lowest kept bit, then truncate.
	lsb := (bits >> 16) & 1
	bits += 0x7fff + lsb
	return uint16(bits >> 16)
}

// F32FromBF16 widens a bfloat16 exactly.
func F32FromBF16(b uint16) float32 { return math.Float32frombits(uint32(b) << 16) }
