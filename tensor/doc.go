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
//     packages that read them.
package tensor
