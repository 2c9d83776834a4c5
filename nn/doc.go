// Package nn is reverse-mode automatic differentiation over package tensor,
// and the layers built from it.
//
// A Tape records, as the forward pass runs, one backward function per op.
// Backward walks them in reverse, each adding its inputs' gradients from its
// output's gradient: the chain rule, written out by hand for every op rather
// than derived. The ops themselves are the Backend's fused kernels, so the
// tape is thin: it only decides which gradient buffers exist and in which
// order the backward kernels run.
//
// Every op's backward is checked against finite differences (see gradcheck.go
// and the float64 conformance suite of tensor/conformance for the kernels).
//
// # Mixed precision
//
// Parameters are float32 master copies, and so are gradients and optimizer
// moments. A tape's Precision field decides how its matrix products run:
//
//	tp := nn.NewTape(b)
//	tp.Precision = nn.PrecisionBF16 // autocast the Linear layers
//
// Under PrecisionBF16, Linear rounds its input and weight to bfloat16 and
// multiplies them with f32 accumulation; the backward rounds the output
// gradient to bf16 and adds f32 products into the f32 gradients, as PyTorch's
// autocast does. Attention is asked for bf16 too (AttentionParams.BF16): the
// CUDA backend then runs its tensor-core kernels, the CPU stays float32.
// Everything else (norms, softmax, losses, bias additions) stays float32, and
// bf16's 8 exponent bits need no loss scaling.
// This is what a GPU wants; on the CPU the bf16 operands are widened back to
// f32, which costs time and only reproduces the rounding.
package nn
