// Package tensor is dllm's tensor engine: a dense, row-major Tensor that lives
// on a device, and the Backend interface that every device implements.
//
// The op set is what a ModernBERT trained by masked diffusion needs: GEMM,
// elementwise ops and casts, reductions, softmax, GELU, LayerNorm, GeGLU,
// rotary embeddings, attention, embedding lookup, cross-entropy over the
// vocabulary and the AdamW update; and RMSNorm and SwiGLU for the Llama-style
// families (LLaDA, Dream, Qwen). Fused ops are first-class: they are what the
// GPU kernels implement, and the CPU backend implements the same math plainly.
//
// The CPU backend (float32, deterministic, parallel over goroutines) is always
// registered and is the reference every other backend is tested against. The
// CUDA backend lives in package kernels and registers itself as "cuda" when
// imported, the way database/sql drivers do, so this package never depends on
// GPU code.
//
// Conventions shared by all ops:
//   - The destination comes first. Forward ops overwrite their outputs;
//     backward ops ADD into their gradient outputs (dx += ...), so gradients
//     from several uses of a value accumulate without extra passes.
//   - Shapes and dtypes are checked; a mismatch is a programmer error and
//     panics with a message naming the op and the shapes, as gonum's mat does.
//     Errors that come from users (files, flags) are returned as values by the
//     packages that read them. Each op's checks are written once, as its
//     contract CheckX (contract.go), and every backend calls them, so all
//     backends accept and refuse the same operands.
//
// Weights that stay fixed while a model samples can be marked with
// KeepPacked: the CPU backend then keeps each one in the panels its GEMM
// reads, packed by the first product and reused by the rest (packed.go
// explains the cost and what drops the copy). lm.KeepPacked marks a model.
//
// A few optional interfaces let a backend save passes where it can; callers
// test for them and fall back to the plain ops, so a backend without them is
// still complete. BiasAdder adds a bias row into another tensor in one pass;
// UninitAllocator hands out a buffer without zero-filling it, for a tensor
// whose every element is written before it is read (NewUninit is the call
// that falls back to New); GradWriter has backward ops that write a fresh
// gradient whole instead of adding into a zeroed one, the exception to the
// convention above. The CPU backend implements all three.
//
// Files are named by op, so that one name finds an op's homes: the CPU
// kernel tensor/cpu_<op>.go, the CUDA kernel kernels/<op>.cu and its Go
// wrapper kernels/ops_<op>.go.
package tensor
