package tensor

// Backend is a device and the ops it runs. Every op has a CPU implementation
// in this package; the CUDA backend (package kernels) implements the same ops
// as GPU kernels and is checked against the CPU by the conformance suite
// (package tensor/conformance).
//
// Unless an op says otherwise, float tensors are F32. Every backend accepts
// BF16 for the inputs a and b of MatMul (see there); a GPU backend may also
// take BF16 activations elsewhere, while the CPU backend converts BF16 only
// through Cast and MatMul. Ops on a device may run asynchronously; ToHost
// waits for them.
//
// The shapes and dtypes each op accepts are written once, as its contract
// CheckX in contract.go (CheckLayerNorm for LayerNorm, ...); every backend
// calls it first, so all refuse the same operands with the same message.
type Backend interface {
	// Name is the device name used with --device: "cpu", "cuda".
	Name() string

	// --- Memory ---

	// New allocates a zero-filled tensor.
	New(dtype DType, shape ...int) *Tensor
	// FromHost copies a CPU tensor to this device.
	FromHost(src *Tensor) *Tensor
	// ToHost copies a tensor of this device to a new CPU tensor, waiting for
	// pending work.
	ToHost(src *Tensor) *Tensor
	// Slice returns the storage of elements [from, to) of t, sharing memory.
	Slice(t *Tensor, from, to int) any
	// Free releases t's storage now (a no-op where the GC owns memory).
	Free(t *Tensor)
	// Sync waits until all queued work has finished.
	Sync() error

	// --- Elementwise ---

	Fill(dst *Tensor, v float32)
	// Copy copies src into dst: same dtype and element count.
	Copy(dst, src *Tensor)
	// Cast converts between F32 and BF16 (round to nearest even), and between
	// I32 and I64 (values must fit).
	Cast(dst, src *Tensor)
	// Add sets dst = a + b; Sub dst = a − b; Mul dst = a ⊙ b (same element counts).
	Add(dst, a, b *Tensor)
	Sub(dst, a, b *Tensor)
	Mul(dst, a, b *Tensor)
	// Scale sets dst = s·src.
	Scale(dst, src *Tensor, s float32)
	// AXPY adds s·src to dst: the accumulation every gradient needs.
	AXPY(dst, src *Tensor, s float32)
	// AddRowVector adds v [D] to every row of x [N, D] in place (a bias).
	AddRowVector(x, v *Tensor)

	// --- Reductions ---

	// SumLastAxis sets dst [N] to the row sums of src [N, D].
	SumLastAxis(dst, src *Tensor)
	// MeanLastAxis sets dst [N] to the row means of src [N, D].
	MeanLastAxis(dst, src *Tensor)
	// SumRows ADDS the column sums of src [N, D] into dst [D] (a bias gradient).
	SumRows(dst, src *Tensor)
	// SumSquares returns Σ x² over all elements of all of xs, accumulated in
	// float64: the squared global norm that gradient clipping needs. It waits
	// for pending work once, however many tensors it sums.
	SumSquares(xs ...*Tensor) float64

	// --- Activations and normalisation ---

	// Softmax sets dst to softmax over the last axis of src (max-subtracted).
	Softmax(dst, src *Tensor)
	// GELU is the exact erf form 0.5·x·(1 + erf(x/√2)).
	GELU(dst, src *Tensor)
	// GELUBackward adds dy·GELU'(x) to dx.
	GELUBackward(dx, x, dy *Tensor)
	// LayerNorm normalises the rows of x [N, D]: y = (x−μ)/√(σ²+eps)·gamma (+beta).
	// beta may be nil (no bias). mean and rstd [N] receive μ and 1/√(σ²+eps)
	// for the backward pass; both may be nil at inference.
	LayerNorm(y, mean, rstd, x, gamma, beta *Tensor, eps float32)
	// LayerNormBackward adds the gradients of LayerNorm into dx, dgamma and
	// dbeta (dbeta may be nil).
	LayerNormBackward(dx, dgamma, dbeta, dy, x, mean, rstd, gamma *Tensor)
	// GeGLU splits each row of x [N, 2I] into halves u = x[:, :I] and
	// g = x[:, I:] and sets y [N, I] = GELU(u) ⊙ g: the first half goes through
	// GELU, the second is the linear multiplier (Hugging Face's chunk order).
	GeGLU(y, x *Tensor)
	// GeGLUBackward adds the gradient with respect to x into dx [N, 2I].
	GeGLUBackward(dx, x, dy *Tensor)
	// RMSNorm normalises the rows of x [N, D] by their root mean square:
	//
	//	rstd = 1/√(mean(x², last axis) + eps),   y = x·rstd·(w + p.WeightOffset)
	//
	// with w [D] as the checkpoint stores it: p.WeightOffset = 0 for Llama,
	// Qwen, LLaDA and Dream, 1 for Gemma's (1 + w). y has x's shape; any rank
	// works, the last axis being normalised, so per-head q/k norms (Qwen3) are
	// x [N, H, d] with w [d]. rstd [N] (one value per row) is saved for the
	// backward pass and may be nil at inference. The mean of squares is
	// accumulated in float64 on the CPU.
	RMSNorm(y, rstd, x, w *Tensor, p RMSNormParams)
	// RMSNormBackward adds the gradients of RMSNorm into dx (x's shape) and
	// dw [D], using rstd from the forward pass. With x̂ = x·rstd and
	// g = dy ⊙ (w + offset), per row:
	//
	//	dx += rstd·(g − x̂·mean(g ⊙ x̂)),   dw += Σ_rows dy ⊙ x̂
	//
	// dw may be nil (a frozen weight): then only dx is computed.
	RMSNormBackward(dx, dw, dy, x, rstd, w *Tensor, p RMSNormParams)
	// SwiGLU splits each row of x [N, 2I] into gate = x[:, :I] and
	// up = x[:, I:] and sets y [N, I] = silu(gate) ⊙ up, silu(z) = z·σ(z):
	// the first half goes through the activation, as in GeGLU, which is the
	// order of a fused [gate_proj; up_proj] weight (Llama, Qwen, LLaDA).
	SwiGLU(y, x *Tensor)
	// SwiGLUBackward adds the gradient with respect to x into dx [N, 2I]:
	// dgate += dy·up·silu'(gate), dup += dy·silu(gate), with
	// silu'(z) = σ(z)·(1 + z·(1 − σ(z))).
	SwiGLUBackward(dx, x, dy *Tensor)

	// --- Positions and attention ---

	// RoPE applies rotary position embeddings (the rotate-half convention) to
	// src [..., H, d] viewed as rows of H heads of size d, writing dst of the
	// same shape. pos [rows] (I32) gives each row's position. Only the first
	// p.Heads heads of a row are rotated (0 means all); the rest are copied, so
	// a packed QKV [B·S, 3·nh, d] with Heads = 2·nh rotates Q and K and passes
	// V through: RoPE fused with the QKV split (with grouped KV heads,
	// [B·S, nh + 2·nkv, d] and Heads = nh + nkv). p.RotaryDim rotates only a
	// leading part of each head, p.Llama3 rescales the frequencies.
	RoPE(dst, src, pos *Tensor, p RoPEParams)
	// RoPEBackward adds the gradient with respect to src into dsrc: the
	// rotation by −φ applied to dy (copied heads pass dy straight through).
	RoPEBackward(dsrc, dy, pos *Tensor, p RoPEParams)
	// Attention computes softmax(QKᵀ·scale + mask)·V per head from a packed
	// qkv [B, S, 3, nh, d] (Q, K, V head-major, as ModernBERT's Wqkv lays them
	// out) into out [B, S, nh, d], which is [B, S, H] for the output
	// projection. With grouped-query attention (p.KVHeads = nkv < nh) the
	// packed qkv is [B, S, nh + 2·nkv, d]: nh query heads, then nkv key
	// heads, then nkv value heads (see AttentionParams.KVHeads). keyMask [B, S] (I32, 1 = real token, 0 = padding) may be nil.
	// lse [B, nh, S] receives each query's log-sum-exp for the backward pass
	// and may be nil at inference; it is the natural log of the scaled
	// scores. A query that sees no key gets zeros and lse = +Inf (as
	// FlashAttention does), so its backward is zero too.
	Attention(out, lse, qkv, keyMask *Tensor, p AttentionParams)
	// AttentionBackward adds the gradient with respect to qkv into dqkv.
	AttentionBackward(dqkv, dout, qkv, out, lse, keyMask *Tensor, p AttentionParams)

	// --- Embedding and loss ---

	// Embedding gathers rows: dst[i] = table[ids[i]] for table [V, D], ids [N] (I32).
	Embedding(dst, table, ids *Tensor)
	// EmbeddingBackward adds dy[i] into dtable[ids[i]], except for rows whose
	// id is padIdx (padIdx < 0: none), which get no gradient.
	EmbeddingBackward(dtable, ids, dy *Tensor, padIdx int)
	// GatherRows sets dst[m] = src[idx[m]] for src [N, D], idx [M] (I32).
	GatherRows(dst, src, idx *Tensor)
	// ScatterAddRows adds src[m] into dst[idx[m]]: GatherRows's backward.
	ScatterAddRows(dst, src, idx *Tensor)
	// CrossEntropy sets loss[i] = w[i]·(logsumexp(logits[i]) − logits[i, t[i]])
	// for logits [N, V], targets [N] (I32), weights [N] (nil: all 1). Rows
	// whose target is ignoreIndex get loss 0. lse [N] receives the log-sum-exp
	// for the backward pass (may be nil).
	CrossEntropy(loss, lse, logits, targets, weights *Tensor, ignoreIndex int32)
	// CrossEntropyBackward adds scale·w[i]·(softmax(logits[i]) − onehot(t[i]))
	// into dlogits, using lse from the forward pass.
	CrossEntropyBackward(dlogits, logits, lse, targets, weights *Tensor, scale float32, ignoreIndex int32)

	// --- Matrix multiply ---

	// MatMul sets c = alpha·op(a)·op(b) + beta·c, op(x) = x or xᵀ. Rank-2
	// operands, or rank-3 with an equal leading batch dimension (b may also be
	// rank 2 and shared by every batch). beta = 0 overwrites c (NaNs in c
	// do not leak through).
	//
	// a and b are both F32, or both BF16 with an F32 c: mixed precision, the
	// products formed from the bf16 values and summed in f32, as a GPU's bf16
	// GEMM does. The CPU backend widens BF16 operands to F32 exactly and runs
	// its F32 path, so its result equals the F32 product of the widened
	// values bit for bit (it also takes one BF16 and one F32 operand; the
	// CUDA backend does not, and may also write a BF16 c).
	MatMul(c, a, b *Tensor, transA, transB bool, alpha, beta float32)

	// --- Optimizer ---

	// AdamW updates param in place from grad and the moments m, v (all F32,
	// same shape), with bias correction for step p.Step (1-based) and
	// decoupled weight decay.
	AdamW(param, grad, m, v *Tensor, p AdamWParams)
}

// RoPEParams configures rotary position embeddings.
type RoPEParams struct {
	// Theta is the base: inv_freq[k] = Theta^(−2k/r), r the rotary size
	// (RotaryDim, or the head size d).
	Theta float64
	// Heads is how many leading heads of each row are rotated; 0 means all.
	Heads int
	// RotaryDim is partial rotary embedding: only the first RotaryDim
	// features of each rotated head turn, in the rotate-half layout within
	// that part (feature k pairs with k + RotaryDim/2, and the frequencies
	// use RotaryDim as their size); features RotaryDim..d−1 pass through
	// unchanged. 0 means the whole head. Must be even and at most d.
	RotaryDim int
	// Llama3 rescales the frequencies as Llama 3.1/3.2 do; the zero value
	// (Factor 0) means no scaling.
	Llama3 RoPELlama3
}

// RoPELlama3 is the "llama3" rope_scaling of a Hugging Face config. With
// ω = inv_freq[k], its wavelength λ = 2π/ω and L = OriginalMaxPositions,
// the rescaled frequency is
//
//	ω/Factor                          if λ > L/LowFreqFactor  (long wavelengths: slowed down)
//	ω                                 if λ < L/HighFreqFactor (short ones: unchanged)
//	(1 − s)·ω/Factor + s·ω            otherwise, s = (L/λ − LowFreqFactor)/(HighFreqFactor − LowFreqFactor)
//
// The middle band includes both of its bounds. RoPEParams.InvFreq computes
// it in float32, step by step as Hugging Face does.
type RoPELlama3 struct {
	Factor, LowFreqFactor, HighFreqFactor float64
	OriginalMaxPositions                  int
}

// A Graph is a recorded sequence of a backend's ops that replays with one
// launch (a CUDA graph): for work repeated with the same shapes, such as a
// sampler's forward pass, it saves a launch per op.
type Graph interface {
	// Launch queues one replay.
	Launch()
	// Destroy releases the graph and the memory allocated while recording.
	Destroy()
}

// GraphCapturer is implemented by backends that can record graphs (the
// CUDA backend). CaptureGraph runs f with the ops it queues recorded instead
// of run; nothing in f may wait for the device or copy from the host.
type GraphCapturer interface {
	CaptureGraph(f func()) (Graph, error)
}

// AttentionParams configures scaled dot-product attention.
type AttentionParams struct {
	// Heads is the number of (query) heads nh; the head size is inferred
	// from qkv.
	Heads int
	// KVHeads is the number of key/value heads nkv for grouped-query
	// attention; 0 means nkv = nh, plain multi-head attention. nh must be a
	// multiple of nkv. The query heads form nkv groups of nh/nkv consecutive
	// heads, and every head of group g attends with key head g and value
	// head g: query head h uses KV head ⌊h/(nh/nkv)⌋, as Hugging Face's
	// repeat_kv (a repeat-interleave) arranges it. nkv = 1 is multi-query
	// attention. Only K and V shrink; out and lse keep nh heads.
	KVHeads int
	// Scale multiplies QKᵀ; usually 1/√d.
	Scale float32
	// Window is Hugging Face's local_attention: key j is visible from query i
	// iff |i−j| ≤ Window/2. 0 means global attention.
	Window int
	// Blocks, when Blocks.Size > 0, is block diffusion's attention pattern
	// given as structure (BlockPattern): a query sees only the keys the
	// pattern allows, on top of the key mask and the window. The window is
	// then measured in positions, Blocks.Pos(i), not indices.
	Blocks BlockPattern
	// BF16 lets a backend compute in bfloat16 with f32 accumulation, as
	// mixed-precision training does: the CUDA backend then runs its
	// tensor-core kernels, which round Q, K, V, dO and the probabilities to
	// bf16 (relative errors of about 1e-2). The CPU backend ignores it and
	// computes in f32.
	BF16 bool
}

// KV returns the number of key/value heads: KVHeads, or Heads when it is 0.
func (p AttentionParams) KV() int {
	if p.KVHeads == 0 {
		return p.Heads
	}
	return p.KVHeads
}

// Sees reports whether query i may see key j by the window (measured in
// Blocks.Pos) and the block pattern; the key mask is separate.
func (p AttentionParams) Sees(i, j int) bool {
	return p.Blocks.Allowed(i, j) && p.Visible(p.Blocks.Pos(i), p.Blocks.Pos(j))
}

// Visible reports whether key j is in query i's window.
func (p AttentionParams) Visible(i, j int) bool {
	if p.Window <= 0 {
		return true
	}
	d := i - j
	if d < 0 {
		d = -d
	}
	return d <= p.Window/2
}

// AdamWParams are the hyper-parameters of one AdamW step.
type AdamWParams struct {
	LR, Beta1, Beta2, Eps, WeightDecay float32
	Step                               int // 1-based, for bias correction
}

// RMSNormParams configures RMSNorm.
type RMSNormParams struct {
	// Eps is added to the mean of squares inside the square root (Llama and
	// Qwen use 1e-6, LLaDA 1e-5).
	Eps float32
	// WeightOffset is added to the stored weight: 0 for the plain convention
	// (y = x̂·w), 1 for Gemma's (y = x̂·(1 + w)).
	WeightOffset float32
}
