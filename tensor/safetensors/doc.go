// Package safetensors reads and writes the safetensors checkpoint format used by
// Hugging Face, and reads sharded checkpoints (model.safetensors.index.json).
//
// A safetensors file is three parts:
//
//	bytes 0..8     N, the header length, a little-endian uint64
//	bytes 8..8+N   a JSON object: name -> {"dtype", "shape", "data_offsets": [begin, end]},
//	               plus an optional "__metadata__" object of string -> string
//	bytes 8+N..    the data buffer; offsets are relative to its start
//
// Each tensor is stored row-major and little-endian, with no strides, so reading one
// is slicing the buffer. The format is simple enough that most of this package is
// validation: a checkpoint is untrusted input, and a hostile header must give an
// error, never a panic or a multi-gigabyte allocation. Parse checks everything the
// reference implementation checks (header size limit, contiguous offsets that
// exactly cover the buffer, byte sizes equal to shape times element size, no
// duplicate names) and reports what is wrong by name.
//
// Writing follows the reference writer byte for byte: tensors sorted by descending
// dtype alignment and then by name, the header padded with spaces to a multiple of 8
// so that every tensor's data starts 8-byte aligned.
//
// Weights on disk may be F32, F16 or BF16; F32 converts all three to float32. The
// half-precision conversions (F16ToF32, F32ToF16, BF16ToF32, F32ToBF16) are exact
// IEEE 754 with round-to-nearest-even, subnormals, infinities and NaN included.
//
// Open reads a whole file into memory. Map (and MapModel for a folder) maps
// the data instead, for a model that keeps its BF16 weights as stored: a
// BF16 tensor is then used in place (File.BF16Bits) and costs no copy, and
// one that must be copied is read with pread (File.ReadBF16), so that its
// pages are not counted twice in the process's resident memory.
package safetensors
