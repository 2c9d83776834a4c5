package kernels

import "github.com/dllmgo/dllm/tensor"

// Cast: cast.cu.

// Cast converts F32 <-> BF16 (round to nearest even) and I32 <-> I64.
func (b *Backend) Cast(dst, src *tensor.Tensor) {
	tensor.CheckCast(dst, src)
	if dst.DType() == src.DType() {
		b.Copy(dst, src)
		return
	}
	var entry string
	switch {
	case src.DType() == tensor.F32 && dst.DType() == tensor.BF16:
		entry = "cast_f32_bf16"
	case src.DType() == tensor.BF16 && dst.DType() == tensor.F32:
		entry = "cast_bf16_f32"
	case src.DType() == tensor.I32 && dst.DType() == tensor.I64:
		entry = "cast_i32_i64"
	case src.DType() == tensor.I64 && dst.DType() == tensor.I32:
		entry = "cast_i64_i32" // values must fit (the contract); the kernel keeps the low 32 bits
	default:
		panic("unreachable: CheckCast refuses other casts")
	}
	n := dst.Numel()
	if n == 0 {
		return
	}
	b.launch("cast.cu", entry, b.grid(n), threads, 0, b.ptr("Cast", dst), b.ptr("Cast", src), int64(n))
}
