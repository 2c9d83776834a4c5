package tensor

import "math"

// Cross-entropy over the vocabulary, one row per supervised token. The
// log-sum-exp subtracts the row maximum and sums the float32 exponentials
// (cpu_math32.go) in float64;
// the backward recomputes softmax from the saved log-sum-exp instead of
// storing an [N, V] matrix of probabilities.

// ceTarget returns row i's target, or -1 for an ignored row, checking range.
func ceTarget(op string, t []int32, i, v int, ignore int32) int {
	if t[i] == ignore {
		return -1
	}
	if t[i] < 0 || int(t[i]) >= v { // test first: check's arguments would be boxed on every row
		check(false, op, "target %d of row %d is outside [0, %d) and is not the ignore index %d", t[i], i, v, ignore)
	}
	return int(t[i])
}

func (cpuBackend) CrossEntropy(loss, lse, logits, targets, weights *Tensor, ignoreIndex int32) {
	const op = "CrossEntropy"
	n, v := CheckCrossEntropy(loss, lse, logits, targets, weights)
	x, t, ls := logits.F32(), targets.I32(), loss.F32()
	var ws, lses []float32
	if weights != nil {
		ws = weights.F32()
	}
	if lse != nil {
		lses = lse.F32()
	}
	for i := range n {
		ceTarget(op, t, i, v, ignoreIndex)
	}
	parallelFor(n, rowGrain(v), func(lo, hi int) {
		scratch := make([]float32, v)
		for i := lo; i < hi; i++ {
			row := x[i*v : (i+1)*v]
			l := logSumExp(row, scratch)
			if lses != nil {
				lses[i] = float32(l)
			}
			tg := ceTarget(op, t, i, v, ignoreIndex)
			if tg < 0 {
				ls[i] = 0
				continue
			}
			w := 1.0
			if ws != nil {
				w = float64(ws[i])
			}
			ls[i] = float32(w * (l - float64(row[tg])))
		}
	})
}

// logSumExp is log Σ exp(x) with the maximum subtracted first, the float32
// exponentials summed in float64; scratch (len(x) floats) receives them.
func logSumExp(x, scratch []float32) float64 {
	m := maxF32(x)
	if math.IsInf(float64(m), 0) {
		return float64(m) // all −Inf (or some +Inf): the sum is exp(m)
	}
	return float64(m) + math.Log(expSum32(scratch, x, m))
}

func (cpuBackend) CrossEntropyBackward(dlogits, logits, lse, targets, weights *Tensor, scale float32, ignoreIndex int32) {
	crossEntropyBackward(dlogits, logits, lse, targets, weights, scale, ignoreIndex, false)
}

// CrossEntropyBackwardTo is CrossEntropyBackward writing dlogits instead of
// adding into it (GradWriter): the values of adding into zeros, ignored rows
// and rows of weight 0 set to 0.
func (cpuBackend) CrossEntropyBackwardTo(dlogits, logits, lse, targets, weights *Tensor, scale float32, ignoreIndex int32) {
	crossEntropyBackward(dlogits, logits, lse, targets, weights, scale, ignoreIndex, true)
}

// crossEntropyBackward adds (or with write, sets) the cross-entropy's
// gradient.
func crossEntropyBackward(dlogits, logits, lse, targets, weights *Tensor, scale float32, ignoreIndex int32, write bool) {
	const op = "CrossEntropyBackward"
	n, v := CheckCrossEntropyBackward(dlogits, logits, lse, targets, weights)
	x, t, g, ls := logits.F32(), targets.I32(), dlogits.F32(), lse.F32()
	var ws []float32
	if weights != nil {
		ws = weights.F32()
	}
	for i := range n {
		ceTarget(op, t, i, v, ignoreIndex)
	}
	parallelFor(n, rowGrain(v), func(lo, hi int) {
		for i := lo; i < hi; i++ {
			tg := ceTarget(op, t, i, v, ignoreIndex)
			a := float64(scale)
			if tg >= 0 && ws != nil {
				a *= float64(ws[i])
			}
			if tg < 0 || a == 0 {
				if write {
					clear(g[i*v : (i+1)*v])
				}
				continue
			}
			row, grow, l := x[i*v:(i+1)*v], g[i*v:(i+1)*v], ls[i]
			// p = e^(x − lse) in float32; the target's element takes
			// a·(p − 1) in one rounding, so it is redone from its old value
			// after the row-wide pass.
			old := float32(0)
			if !write {
				old = grow[tg]
			}
			addExp32(grow, row, l, float32(a), write)
			grow[tg] = float32(float64(old) + a*(float64(expF32(row[tg]-l))-1))
		}
	})
}
