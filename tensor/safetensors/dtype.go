package safetensors

import "fmt"

// DType is the element type of a stored tensor. The constants are declared in the
// order of the reference implementation's enum, which is increasing alignment; the
// writer sorts by it (descending), so the order is part of the file format.
type DType uint8

const (
	Bool DType = iota
	U8
	I8
	F8E5M2
	F8E4M3
	I16
	U16
	F16
	BF16
	I32
	U32
	F32
	F64
	I64
	U64
	numDTypes
)

var dtypeNames = [numDTypes]string{
	Bool: "BOOL", U8: "U8", I8: "I8", F8E5M2: "F8_E5M2", F8E4M3: "F8_E4M3",
	I16: "I16", U16: "U16", F16: "F16", BF16: "BF16",
	I32: "I32", U32: "U32", F32: "F32",
	F64: "F64", I64: "I64", U64: "U64",
}

var dtypeSizes = [numDTypes]int{
	Bool: 1, U8: 1, I8: 1, F8E5M2: 1, F8E4M3: 1,
	I16: 2, U16: 2, F16: 2, BF16: 2,
	I32: 4, U32: 4, F32: 4,
	F64: 8, I64: 8, U64: 8,
}

// String returns the name the file format uses ("F32", "BF16", ...).
func (d DType) String() string {
	if d < numDTypes {
		return dtypeNames[d]
	}
	return fmt.Sprintf("DType(%d)", uint8(d))
}

// Size returns the size of one element in bytes (0 for an invalid DType).
func (d DType) Size() int {
	if d < numDTypes {
		return dtypeSizes[d]
	}
	return 0
}

// Valid reports whether d is one of the declared constants.
func (d DType) Valid() bool { return d < numDTypes }

// ParseDType maps a format name ("F32") to its DType. Unknown names are an error:
// newer writers add FP8/FP4 variants whose bytes this package cannot interpret, and
// guessing their size would misread every tensor after them.
func ParseDType(s string) (DType, error) {
	for d, name := range dtypeNames {
		if name == s {
			return DType(d), nil
		}
	}
	return 0, fmt.Errorf("unknown dtype %q", s)
}
