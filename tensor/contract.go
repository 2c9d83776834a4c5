package tensor

import "fmt"

// Op contracts: the shape and dtype preconditions of every Backend op,
// written once and called by every backend before it touches any data, so
// that the CPU and the CUDA backend accept and refuse the same operands with
// the same message.
//
// The contract of Backend.X is CheckX. It takes the op's tensors in the op's
// order, and its parameters where they constrain the shapes; it panics with
// "tensor: X: ..." when a precondition fails (a wrong shape or dtype is a
// programming error, as an index out of range is) and otherwise returns the
// geometry both backends need (rows and row width, say), so they do not
// derive it again.
//
// A contract checks what can be known from the tensors' headers alone. Two
// kinds of checks stay with a backend:
//   - values: the CPU backend also checks that indices, targets and positions
//     are in range and that a cast to I32 fits; a GPU cannot without copying
//     the data back and waiting for it;
//   - device limits: the CUDA backend refuses what its kernels cannot run
//     (attention heads larger than 128, say), with "kernels: X: ..." to tell
//     such a limit from a broken contract.
//
// Optional operands (a LayerNorm's beta, a cross-entropy's weights) may be
// nil; every other operand must be present.

// check panics with the op's name when a shape or dtype precondition fails.
func check(ok bool, op string, format string, args ...any) {
	if !ok {
		panic(fmt.Sprintf("tensor: %s: %s", op, fmt.Sprintf(format, args...)))
	}
}

// checkF32 panics unless every non-nil tensor is F32.
func checkF32(op string, ts ...*Tensor) {
	for _, t := range ts {
		if t != nil {
			check(t.dtype == F32, op, "%v is not F32", t)
		}
	}
}

// checkSameNumel panics unless all tensors hold the same number of elements.
func checkSameNumel(op string, ts ...*Tensor) {
	for _, t := range ts[1:] {
		check(t.Numel() == ts[0].Numel(), op, "element counts differ: %v and %v", ts[0], t)
	}
}

// checkSameShape panics unless a and b have one shape; the names say which
// operands they are in the message.
func checkSameShape(op, aName string, a *Tensor, bName string, b *Tensor) {
	check(SameShape(a.shape, b.shape), op, "%s %v and %s %v differ in shape", aName, a, bName, b)
}

// rowsOf returns how a tensor splits into rows of its last dimension: the
// number of rows (the product of the leading dimensions) and the row length.
func rowsOf(op string, t *Tensor) (rows, d int) {
	check(t.Rank() >= 1, op, "%v has no last axis", t)
	return Numel(t.shape[:t.Rank()-1]), t.Dim(-1)
}

// --- Memory ---

// CheckFill is Fill's contract: dst is F32.
func CheckFill(dst *Tensor) { checkF32("Fill", dst) }

// CheckCopy is Copy's contract: dst and src have one dtype and element
// count (their shapes may differ).
func CheckCopy(dst, src *Tensor) {
	check(dst.dtype == src.dtype && dst.Numel() == src.Numel(), "Copy", "%v <- %v", dst, src)
}

// --- Elementwise ---

// CheckCast is Cast's contract: equal element counts, and a conversion
// between F32 and BF16 or between I32 and I64 (or none: equal dtypes copy).
// That I64 values fit in I32 is a property of the values, checked by the CPU
// backend only.
func CheckCast(dst, src *Tensor) {
	const op = "Cast"
	check(dst.Numel() == src.Numel(), op, "element counts differ: %v <- %v", dst, src)
	float := func(t DType) bool { return t == F32 || t == BF16 }
	integer := func(t DType) bool { return t == I32 || t == I64 }
	s, d := src.dtype, dst.dtype
	check(s == d || (float(s) && float(d)) || (integer(s) && integer(d)), op, "no cast from %v to %v", src, dst)
}

// sameSizeF32 is the contract of an elementwise op: F32 tensors of one
// element count (their shapes may differ).
func sameSizeF32(op string, ts ...*Tensor) {
	checkF32(op, ts...)
	checkSameNumel(op, ts...)
}

// CheckAdd is Add's contract: dst, a and b are F32 with one element count
// (their shapes may differ).
func CheckAdd(dst, a, b *Tensor) { sameSizeF32("Add", dst, a, b) }

// CheckSub is Sub's contract (see CheckAdd).
func CheckSub(dst, a, b *Tensor) { sameSizeF32("Sub", dst, a, b) }

// CheckMul is Mul's contract (see CheckAdd).
func CheckMul(dst, a, b *Tensor) { sameSizeF32("Mul", dst, a, b) }

// CheckScale is Scale's contract: dst and src are F32 with one element count.
func CheckScale(dst, src *Tensor) { sameSizeF32("Scale", dst, src) }

// CheckAXPY is AXPY's contract: dst and src are F32 with one element count.
func CheckAXPY(dst, src *Tensor) { sameSizeF32("AXPY", dst, src) }

// CheckAddRowVector is AddRowVector's contract: x [..., D] and v with D
// elements, both F32. It returns the number of rows of x and D.
func CheckAddRowVector(x, v *Tensor) (rows, d int) {
	const op = "AddRowVector"
	checkF32(op, x, v)
	check(x.Rank() >= 1 && v.Numel() == x.Dim(-1), op, "x %v, v %v: v must have x's last dimension", x, v)
	return rowsOf(op, x)
}

// --- Reductions ---

// rowReduction is the contract of a reduction over the last axis: dst holds
// one value per row of src.
func rowReduction(op string, dst, src *Tensor) (rows, d int) {
	checkF32(op, dst, src)
	rows, d = rowsOf(op, src)
	check(dst.Numel() == rows, op, "dst %v must hold one value per row of src %v", dst, src)
	return rows, d
}

// CheckSumLastAxis is SumLastAxis's contract: src [..., D] and dst with one
// element per row of src (the product of the leading dimensions), both F32.
// It returns the number of rows and D.
func CheckSumLastAxis(dst, src *Tensor) (rows, d int) { return rowReduction("SumLastAxis", dst, src) }

// CheckMeanLastAxis is MeanLastAxis's contract: SumLastAxis's, and the rows
// are not empty (D > 0), since their mean would be 0/0.
func CheckMeanLastAxis(dst, src *Tensor) (rows, d int) {
	const op = "MeanLastAxis"
	rows, d = rowReduction(op, dst, src)
	check(d > 0, op, "mean of empty rows of %v", src)
	return rows, d
}

// CheckSumRows is SumRows's contract: src [..., D] and dst with D elements,
// both F32. It returns the number of rows of src and D.
func CheckSumRows(dst, src *Tensor) (rows, d int) {
	const op = "SumRows"
	checkF32(op, dst, src)
	rows, d = rowsOf(op, src)
	check(dst.Numel() == d, op, "dst %v must hold one value per column of src %v", dst, src)
	return rows, d
}

// CheckSumSquares is SumSquares's contract: x is F32.
func CheckSumSquares(xs ...*Tensor) {
	for _, x := range xs {
		checkF32("SumSquares", x)
	}
}

// --- Activations and normalisation ---

// CheckSoftmax is Softmax's contract: dst and src are F32 of one shape with
// at least one axis. It returns the number of rows and the row length.
func CheckSoftmax(dst, src *Tensor) (rows, d int) {
	const op = "Softmax"
	checkF32(op, dst, src)
	checkSameShape(op, "dst", dst, "src", src)
	return rowsOf(op, src)
}

// CheckGELU is GELU's contract: dst and src are F32 with one element count.
func CheckGELU(dst, src *Tensor) { sameSizeF32("GELU", dst, src) }

// CheckGELUBackward is GELUBackward's contract: dx, x and dy are F32 with one
// element count.
func CheckGELUBackward(dx, x, dy *Tensor) { sameSizeF32("GELUBackward", dx, x, dy) }

// layerNormContract is the contract shared by LayerNorm and its backward: x [..., D]
// with non-empty rows, y (or dx) of x's shape, gamma and beta (may be nil)
// with D elements, mean and rstd (may be nil) with one element per row; all
// F32.
func layerNormContract(op string, y, x, gamma, beta, mean, rstd *Tensor) (rows, d int) {
	checkF32(op, y, x, gamma, beta, mean, rstd)
	rows, d = rowsOf(op, x)
	check(SameShape(y.shape, x.shape), op, "%v and x %v differ in shape", y, x)
	check(gamma.Numel() == d, op, "gamma %v must have x's last dimension %d", gamma, d)
	if beta != nil {
		check(beta.Numel() == d, op, "beta %v must have x's last dimension %d", beta, d)
	}
	for _, s := range []*Tensor{mean, rstd} {
		if s != nil {
			check(s.Numel() == rows, op, "mean/rstd %v must hold one value per row of x %v", s, x)
		}
	}
	check(d > 0, op, "x %v has empty rows", x)
	return rows, d
}

// CheckLayerNorm is LayerNorm's contract: x [..., D] with D > 0 and y of
// x's shape; gamma and beta (nil: no bias) with D elements; mean and rstd
// (nil at inference) with one element per row; all F32. It returns the
// number of rows and D.
func CheckLayerNorm(y, mean, rstd, x, gamma, beta *Tensor) (rows, d int) {
	return layerNormContract("LayerNorm", y, x, gamma, beta, mean, rstd)
}

// CheckLayerNormBackward is LayerNormBackward's contract: the forward's
// operands as in CheckLayerNorm, with mean and rstd now required; dx and dy
// of x's shape; dgamma and dbeta (may be nil) with D elements. It returns the
// number of rows and D.
func CheckLayerNormBackward(dx, dgamma, dbeta, dy, x, mean, rstd, gamma *Tensor) (rows, d int) {
	const op = "LayerNormBackward"
	check(mean != nil && rstd != nil, op, "needs mean and rstd from the forward pass")
	rows, d = layerNormContract(op, dx, x, gamma, nil, mean, rstd)
	checkF32(op, dy, dgamma, dbeta)
	checkSameShape(op, "dy", dy, "x", x)
	check(dgamma.Numel() == d, op, "dgamma %v must have x's last dimension %d", dgamma, d)
	if dbeta != nil {
		check(dbeta.Numel() == d, op, "dbeta %v must have x's last dimension %d", dbeta, d)
	}
	return rows, d
}

// gegluContract checks y [..., I] against x [..., 2I] and returns the rows and I.
func gegluContract(op string, y, x *Tensor) (rows, inner int) {
	checkF32(op, y, x)
	rows, twoI := rowsOf(op, x)
	check(twoI%2 == 0, op, "x %v: the last dimension must be even (two halves)", x)
	inner = twoI / 2
	check(y.Numel() == rows*inner && y.Dim(-1) == inner, op, "y %v must be x %v with the last dimension halved", y, x)
	return rows, inner
}

// CheckGeGLU is GeGLU's contract: x [..., 2I] and y [..., I] with as many
// rows, both F32. It returns the number of rows and I.
func CheckGeGLU(y, x *Tensor) (rows, inner int) { return gegluContract("GeGLU", y, x) }

// CheckGeGLUBackward is GeGLUBackward's contract: x and dy as x and y in
// CheckGeGLU, dx of x's shape. It returns the number of rows and I.
func CheckGeGLUBackward(dx, x, dy *Tensor) (rows, inner int) {
	const op = "GeGLUBackward"
	checkF32(op, dx)
	rows, inner = gegluContract(op, dy, x)
	checkSameShape(op, "dx", dx, "x", x)
	return rows, inner
}

// rmsNormContract is the contract shared by RMSNorm and its backward: x
// [..., D] with non-empty rows, out (y or dx) of x's shape, w with D
// elements, rstd (may be nil) with one element per row; all F32.
func rmsNormContract(op string, out, x, w, rstd *Tensor) (rows, d int) {
	checkF32(op, out, x, w, rstd)
	rows, d = rowsOf(op, x)
	check(SameShape(out.shape, x.shape), op, "%v and x %v differ in shape", out, x)
	check(d > 0, op, "x %v has empty rows", x)
	check(w.Numel() == d, op, "w %v must have x's last dimension %d", w, d)
	if rstd != nil {
		check(rstd.Numel() == rows, op, "rstd %v must hold one value per row of x %v", rstd, x)
	}
	return rows, d
}

// CheckRMSNorm is RMSNorm's contract: x [..., D] with D > 0 and y of x's
// shape; w with D elements; rstd (nil at inference) with one element per
// row; all F32. It returns the number of rows and D.
func CheckRMSNorm(y, rstd, x, w *Tensor) (rows, d int) {
	return rmsNormContract("RMSNorm", y, x, w, rstd)
}

// CheckRMSNormBackward is RMSNormBackward's contract: the forward's operands
// as in CheckRMSNorm, with rstd now required; dx and dy of x's shape; dw
// (nil: a frozen weight) with D elements. It returns the number of rows and
// D.
func CheckRMSNormBackward(dx, dw, dy, x, rstd, w *Tensor) (rows, d int) {
	const op = "RMSNormBackward"
	check(rstd != nil, op, "needs rstd from the forward pass")
	rows, d = rmsNormContract(op, dx, x, w, rstd)
	checkF32(op, dy, dw)
	checkSameShape(op, "dy", dy, "x", x)
	if dw != nil {
		check(dw.Numel() == d, op, "dw %v must have x's last dimension %d", dw, d)
	}
	return rows, d
}

// CheckSwiGLU is SwiGLU's contract, GeGLU's: x [..., 2I] and y [..., I]
// with as many rows, both F32. It returns the number of rows and I.
func CheckSwiGLU(y, x *Tensor) (rows, inner int) { return gegluContract("SwiGLU", y, x) }

// CheckSwiGLUBackward is SwiGLUBackward's contract, GeGLUBackward's: x and
// dy as x and y in CheckSwiGLU, dx of x's shape. It returns the number of
// rows and I.
func CheckSwiGLUBackward(dx, x, dy *Tensor) (rows, inner int) {
	const op = "SwiGLUBackward"
	checkF32(op, dx)
	rows, inner = gegluContract(op, dy, x)
	checkSameShape(op, "dx", dx, "x", x)
	return rows, inner
}

// --- Positions and attention ---

// RoPEShape is the geometry of a RoPE call: Rows rows of Heads heads of
// size D, of which the first Rotated heads are rotated, each in its first R
// features (the rotary size).
type RoPEShape struct{ Rows, Heads, Rotated, D, R int }

// ropeContract checks x [..., heads, d], other with as many elements, pos
// (one I32 position per row) and the parameters.
func ropeContract(op string, x, other, pos *Tensor, p RoPEParams) RoPEShape {
	checkF32(op, x, other)
	check(x.Rank() >= 2, op, "%v must be [..., heads, d]", x)
	heads, d := x.Dim(-2), x.Dim(-1)
	check(other.Numel() == x.Numel(), op, "%v and %v differ in element count", x, other)
	rows := Numel(x.shape[:x.Rank()-2])
	check(pos.dtype == I32 && pos.Numel() == rows, op, "pos %v must be I32 with one position per row (%d) of %v", pos, rows, x)
	check(p.Heads >= 0 && p.Heads <= heads, op, "Heads = %d, but rows of %v have %d heads", p.Heads, x, heads)
	r := checkRoPEParams(op, x, p, d)
	rotated := p.Heads
	if rotated == 0 {
		rotated = heads
	}
	return RoPEShape{Rows: rows, Heads: heads, Rotated: rotated, D: d, R: r}
}

// checkRoPEParams checks the frequency parameters for heads of size d and
// returns the rotary size r.
func checkRoPEParams(op string, x *Tensor, p RoPEParams, d int) int {
	check(p.Theta > 0, op, "Theta = %v must be positive", p.Theta)
	r := p.RotarySize(d)
	check(p.RotaryDim != 0 || d%2 == 0, op, "%v: head size %d must be even (rotate-half pairs k with k+d/2)", x, d)
	check(r > 0 && r <= d && r%2 == 0, op, "rotary size %d (RotaryDim = %d) must be even and in (0, d = %d] (rotate-half pairs k with k+r/2)", r, p.RotaryDim, d)
	if l := p.Llama3; l.Factor != 0 {
		check(l.Factor > 0 && l.LowFreqFactor > 0 && l.HighFreqFactor > l.LowFreqFactor && l.OriginalMaxPositions > 0, op,
			"Llama3 scaling %+v needs Factor > 0, 0 < LowFreqFactor < HighFreqFactor and OriginalMaxPositions > 0", l)
	}
	return r
}

// CheckRoPE is RoPE's contract: src [..., H, d], dst with as many elements,
// both F32; pos I32 with one position per row (the product of the
// dimensions before H); 0 ≤ p.Heads ≤ H; p.Theta > 0; a rotary size
// (p.RotaryDim, 0: all of d) that is even and at most d; Llama-3 scaling,
// when set, with Factor > 0 and 0 < LowFreqFactor < HighFreqFactor. That
// the positions are not negative is checked by the CPU backend only.
func CheckRoPE(dst, src, pos *Tensor, p RoPEParams) RoPEShape {
	return ropeContract("RoPE", src, dst, pos, p)
}

// CheckRoPEBackward is RoPEBackward's contract: dsrc, the gradient of src,
// as src in CheckRoPE (its shape gives the rows and heads), and dy as dst.
func CheckRoPEBackward(dsrc, dy, pos *Tensor, p RoPEParams) RoPEShape {
	return ropeContract("RoPEBackward", dsrc, dy, pos, p)
}

// AttentionShape is the geometry of an Attention call: Batch sequences of
// Seq tokens, Heads query heads and KVHeads key/value heads of size D.
type AttentionShape struct{ Batch, Seq, Heads, KVHeads, D int }

// attentionContract checks the operands both directions share: qkv
// [B, S, nh + 2·nkv, d] (or any [B, S, ...] holding that many values per
// token; rank 5 is [B, S, 3, nh, d], without grouping), out with B·S·nh·d
// elements, keyMask (may be nil) I32 [B, S], lse (may be nil) F32 [B, nh, S].
func attentionContract(op string, out, lse, qkv, keyMask *Tensor, p AttentionParams) AttentionShape {
	checkF32(op, out, qkv)
	nkv := p.KV()
	check(p.Heads > 0, op, "Heads = %d must be positive", p.Heads)
	check(nkv > 0 && p.Heads%nkv == 0, op, "KVHeads = %d must divide Heads = %d", p.KVHeads, p.Heads)
	check(qkv.Rank() >= 3, op, "qkv %v must be [B, S, nh + 2·nkv, d]", qkv)
	b, s := qkv.Dim(0), qkv.Dim(1)
	tok, heads := Numel(qkv.shape[2:]), p.Heads+2*nkv
	check(tok%heads == 0 && tok > 0, op, "qkv %v does not hold nh + 2·nkv = %d heads per token (nh = %d, nkv = %d)", qkv, heads, p.Heads, nkv)
	d := tok / heads
	check(qkv.Rank() != 5 || (nkv == p.Heads && qkv.Dim(2) == 3 && qkv.Dim(3) == p.Heads), op,
		"qkv %v must be [B, S, 3, %d, d] (rank 5 holds no grouped K and V)", qkv, p.Heads)
	check(out.Numel() == b*s*p.Heads*d, op, "out %v must be [%d, %d, %d, %d] for qkv %v", out, b, s, p.Heads, d, qkv)
	if keyMask != nil {
		check(keyMask.dtype == I32 && keyMask.Numel() == b*s, op, "keyMask %v must be I32 [%d, %d]", keyMask, b, s)
	}
	if lse != nil {
		checkF32(op, lse)
		check(lse.Numel() == b*p.Heads*s, op, "lse %v must be [%d, %d, %d]", lse, b, p.Heads, s)
	}
	bp := p.Blocks
	check(bp.Size >= 0 && bp.Half >= 0, op, "block pattern %+v: negative size or half", bp)
	check(bp.Half == 0 || (bp.Size > 0 && s == 2*bp.Half), op,
		"block pattern %+v: the two-halves layout needs Size > 0 and a sequence of 2·Half tokens, qkv has %d", bp, s)
	return AttentionShape{Batch: b, Seq: s, Heads: p.Heads, KVHeads: nkv, D: d}
}

// CheckAttention is Attention's contract: p.Heads > 0 and the number of
// key/value heads nkv (p.KVHeads, 0: nh) divides it; qkv F32
// [B, S, nh + 2·nkv, d], or any [B, S, ...] holding (nh + 2·nkv)·d values
// per token, rank 5 only as [B, S, 3, nh, d] without grouping; out
// F32 with B·S·nh·d elements; keyMask (may be nil) I32 with B·S elements;
// lse (may be nil) F32 with B·nh·S elements; the block pattern p.Blocks
// with Size, Half ≥ 0, and Half > 0 only with Size > 0 and S = 2·Half.
func CheckAttention(out, lse, qkv, keyMask *Tensor, p AttentionParams) AttentionShape {
	return attentionContract("Attention", out, lse, qkv, keyMask, p)
}

// CheckAttentionBackward is AttentionBackward's contract: the forward's
// operands as in CheckAttention, with lse now required; dqkv and dout F32
// with as many elements as qkv and out.
func CheckAttentionBackward(dqkv, dout, qkv, out, lse, keyMask *Tensor, p AttentionParams) AttentionShape {
	const op = "AttentionBackward"
	check(lse != nil, op, "needs lse from the forward pass")
	a := attentionContract(op, out, lse, qkv, keyMask, p)
	checkF32(op, dqkv, dout)
	check(dqkv.Numel() == qkv.Numel(), op, "dqkv %v and qkv %v differ in element count", dqkv, qkv)
	check(dout.Numel() == out.Numel(), op, "dout %v and out %v differ in element count", dout, out)
	return a
}

// --- Embedding and loss ---

// GatherShape is the geometry of a row gather or scatter: M indexed rows of
// a table of N rows of D elements.
type GatherShape struct{ M, N, D int }

// gatherContract checks rows [M, D...] against table [N, D...] and idx [M] (I32).
func gatherContract(op string, rows, table, idx *Tensor) GatherShape {
	checkF32(op, rows, table)
	check(table.Rank() >= 1, op, "table %v has no rows", table)
	n, d, m := table.Dim(0), Numel(table.shape[1:]), idx.Numel()
	check(idx.dtype == I32, op, "indices %v must be I32", idx)
	check(rows.Numel() == m*d, op, "%v must hold %d rows of %d for indices %v and table %v", rows, m, d, idx, table)
	return GatherShape{M: m, N: n, D: d}
}

// CheckEmbedding is Embedding's contract: table [V, ...] F32 (or BF16, a
// table kept in BF16 for inference, on backends that say so: the CPU),
// ids I32 (any shape, M elements), dst F32 with M rows of the table's row
// size, the rows widened exactly. That the ids are in [0, V) is checked by
// the CPU backend only.
func CheckEmbedding(dst, table, ids *Tensor) GatherShape {
	if table.dtype == BF16 {
		// The contract of an F32 table, on an F32 view of the shape.
		return gatherContract("Embedding", dst, &Tensor{shape: table.shape, dtype: F32}, ids)
	}
	return gatherContract("Embedding", dst, table, ids)
}

// CheckEmbeddingBackward is EmbeddingBackward's contract: dtable, ids and dy
// as table, ids and dst in CheckEmbedding.
func CheckEmbeddingBackward(dtable, ids, dy *Tensor) GatherShape {
	return gatherContract("EmbeddingBackward", dy, dtable, ids)
}

// CheckGatherRows is GatherRows's contract: src, idx and dst as table, ids
// and dst in CheckEmbedding.
func CheckGatherRows(dst, src, idx *Tensor) GatherShape {
	return gatherContract("GatherRows", dst, src, idx)
}

// CheckScatterAddRows is ScatterAddRows's contract: dst, idx and src as
// table, ids and dst in CheckEmbedding.
func CheckScatterAddRows(dst, src, idx *Tensor) GatherShape {
	return gatherContract("ScatterAddRows", src, dst, idx)
}

// crossEntropyContract checks logits F32 [N, V], targets I32 [N], weights and lse
// (each may be nil) F32 [N], and returns N and V.
func crossEntropyContract(op string, logits, targets, weights, lse *Tensor) (n, v int) {
	checkF32(op, logits, weights, lse)
	check(logits.Rank() == 2, op, "logits %v must be [N, V]", logits)
	n, v = logits.Dim(0), logits.Dim(1)
	check(targets.dtype == I32 && targets.Numel() == n, op, "targets %v must be I32 [%d] for logits %v", targets, n, logits)
	if weights != nil {
		check(weights.Numel() == n, op, "weights %v must be [%d] for logits %v", weights, n, logits)
	}
	if lse != nil {
		check(lse.Numel() == n, op, "lse %v must be [%d] for logits %v", lse, n, logits)
	}
	return n, v
}

// CheckCrossEntropy is CrossEntropy's contract: logits F32 [N, V]; targets
// I32 with N elements; loss F32, weights and lse (both may be nil) F32, each
// with N elements. It returns N and V. That each target is in [0, V) or the
// ignore index is checked by the CPU backend only.
func CheckCrossEntropy(loss, lse, logits, targets, weights *Tensor) (n, v int) {
	const op = "CrossEntropy"
	n, v = crossEntropyContract(op, logits, targets, weights, lse)
	checkF32(op, loss)
	check(loss.Numel() == n, op, "loss %v must be [%d] for logits %v", loss, n, logits)
	return n, v
}

// CheckCrossEntropyBackward is CrossEntropyBackward's contract: the
// forward's operands as in CheckCrossEntropy, with lse now required, and
// dlogits of logits' shape. It returns N and V.
func CheckCrossEntropyBackward(dlogits, logits, lse, targets, weights *Tensor) (n, v int) {
	const op = "CrossEntropyBackward"
	check(lse != nil, op, "needs lse from the forward pass")
	n, v = crossEntropyContract(op, logits, targets, weights, lse)
	checkF32(op, dlogits)
	checkSameShape(op, "dlogits", dlogits, "logits", logits)
	return n, v
}

// --- Matrix multiply ---

// MatMulShape is the geometry of a MatMul: Batch products of op(a) [M, K]
// and op(b) [K, N].
type MatMulShape struct{ Batch, M, N, K int }

// matDims returns the rows and columns of op(x) for the last two dimensions.
func matDims(x *Tensor, trans bool) (rows, cols int) {
	r, c := x.Dim(-2), x.Dim(-1)
	if trans {
		return c, r
	}
	return r, c
}

// CheckMatMul is MatMul's contract: a, b and c are F32 or BF16; a is rank 2
// or 3, b rank 2 or a's rank, c a's rank; op(a) is [..., M, K], op(b)
// [..., K, N] and c [..., M, N], with one batch dimension where a is rank 3
// (b may be rank 2, shared by every batch). Each backend narrows the dtypes
// (see Backend.MatMul): the CPU writes only an F32 c; the CUDA backend takes
// a and b of one dtype, and an F32 c for F32 inputs.
func CheckMatMul(c, a, b *Tensor, transA, transB bool) MatMulShape {
	const op = "MatMul"
	for _, x := range [...]*Tensor{c, a, b} {
		if x.dtype != F32 && x.dtype != BF16 {
			check(false, op, "%v is neither F32 nor BF16", x)
		}
	}
	// The messages are formatted only on failure: MatMul runs thousands of
	// times a sampling step, and formatting the shapes each time was most of
	// a step's allocations.
	shapes := func() string { return c.String() + " = " + a.String() + " · " + b.String() }
	if !(a.Rank() == 2 || a.Rank() == 3) {
		check(false, op, "%s: a must be rank 2 or 3", shapes())
	}
	if !(b.Rank() == 2 || b.Rank() == a.Rank()) {
		check(false, op, "%s: b must be rank 2 or a's rank", shapes())
	}
	if c.Rank() != a.Rank() {
		check(false, op, "%s: c must have a's rank", shapes())
	}
	m, k := matDims(a, transA)
	kb, n := matDims(b, transB)
	if k != kb {
		check(false, op, "%s (transA=%t, transB=%t): inner dimensions %d and %d differ", shapes(), transA, transB, k, kb)
	}
	if !(c.Dim(-2) == m && c.Dim(-1) == n) {
		check(false, op, "%s (transA=%t, transB=%t): c must be [..., %d, %d]", shapes(), transA, transB, m, n)
	}
	batch := 1
	if a.Rank() == 3 {
		batch = a.Dim(0)
		if !(c.Dim(0) == batch && (b.Rank() == 2 || b.Dim(0) == batch)) {
			check(false, op, "%s: batch dimensions differ", shapes())
		}
	}
	return MatMulShape{Batch: batch, M: m, N: n, K: k}
}

// --- Optimizer ---

// CheckAdamW is AdamW's contract: param, grad, m and v are F32 of one shape,
// and p.Step ≥ 1 (bias correction divides by 1 − β^Step).
func CheckAdamW(param, grad, m, v *Tensor, p AdamWParams) {
	const op = "AdamW"
	checkF32(op, param, grad, m, v)
	for _, t := range []*Tensor{grad, m, v} {
		check(SameShape(t.shape, param.shape), op, "%v and param %v differ in shape", t, param)
	}
	check(p.Step >= 1, op, "Step = %d must be ≥ 1", p.Step)
}
