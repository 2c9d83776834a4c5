package tensor

// Ops not yet implemented on the CPU. Each moves to its own cpu_*.go file
// with a float64 reference test and a gradient check as it is written.

func todo(op string) { panic("tensor: CPU " + op + " not implemented yet") }

func (cpuBackend) Cast(dst, src *Tensor)             { todo("Cast") }
func (cpuBackend) Add(dst, a, b *Tensor)             { todo("Add") }
func (cpuBackend) Sub(dst, a, b *Tensor)             { todo("Sub") }
func (cpuBackend) Mul(dst, a, b *Tensor)             { todo("Mul") }
func (cpuBackend) Scale(dst, src *Tensor, s float32) { todo("Scale") }
func (cpuBackend) AXPY(dst, src *Tensor, s float32)  { todo("AXPY") }
func (cpuBackend) AddRowVector(x, v *Tensor)         { todo("AddRowVector") }
func (cpuBackend) SumLastAxis(dst, src *Tensor)      { todo("SumLastAxis") }
func (cpuBackend) MeanLastAxis(dst, src *Tensor)     { todo("MeanLastAxis") }
func (cpuBackend) SumRows(dst, src *Tensor)          { todo("SumRows") }
func (cpuBackend) SumSquares(x *Tensor) float64      { todo("SumSquares"); return 0 }
func (cpuBackend) Softmax(dst, src *Tensor)          { todo("Softmax") }
func (cpuBackend) GELU(dst, src *Tensor)             { todo("GELU") }
func (cpuBackend) GELUBackward(dx, x, dy *Tensor)    { todo("GELUBackward") }
func (cpuBackend) LayerNorm(y, mean, rstd, x, gamma, beta *Tensor, eps float32) {
	todo("LayerNorm")
}
func (cpuBackend) LayerNormBackward(dx, dgamma, dbeta, dy, x, mean, rstd, gamma *Tensor) {
	todo("LayerNormBackward")
}
func (cpuBackend) GeGLU(y, x *Tensor)                               { todo("GeGLU") }
func (cpuBackend) GeGLUBackward(dx, x, dy *Tensor)                  { todo("GeGLUBackward") }
func (cpuBackend) RoPE(dst, src, pos *Tensor, p RoPEParams)         { todo("RoPE") }
func (cpuBackend) RoPEBackward(dsrc, dy, pos *Tensor, p RoPEParams) { todo("RoPEBackward") }
func (cpuBackend) Attention(out, lse, qkv, keyMask *Tensor, p AttentionParams) {
	todo("Attention")
}
func (cpuBackend) AttentionBackward(dqkv, dout, qkv, out, lse, keyMask *Tensor, p AttentionParams) {
	todo("AttentionBackward")
}
func (cpuBackend) Embedding(dst, table, ids *Tensor)                     { todo("Embedding") }
func (cpuBackend) EmbeddingBackward(dtable, ids, dy *Tensor, padIdx int) { todo("EmbeddingBackward") }
func (cpuBackend) GatherRows(dst, src, idx *Tensor)                      { todo("GatherRows") }
func (cpuBackend) ScatterAddRows(dst, src, idx *Tensor)                  { todo("ScatterAddRows") }
func (cpuBackend) CrossEntropy(loss, lse, logits, targets, weights *Tensor, ignoreIndex int32) {
	todo("CrossEntropy")
}
func (cpuBackend) CrossEntropyBackward(dlogits, logits, lse, targets, weights *Tensor, scale float32, ignoreIndex int32) {
	todo("CrossEntropyBackward")
}
func (cpuBackend) MatMul(c, a, b *Tensor, transA, transB bool, alpha, beta float32) {
	todo("MatMul")
}
func (cpuBackend) AdamW(param, grad, m, v *Tensor, p AdamWParams) { todo("AdamW") }
