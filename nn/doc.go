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
package nn
