package mdlm

import (
	"fmt"
	"math"
)

// CrossEntropy returns -log softmax(logits)[target] in float64.
func CrossEntropy(logits []float32, target int32) float64 {
	return logSumExp32(logits) - float64(logits[target])
}

// LossFromLogits returns Σ_i weights[i]·CE(row i, targets[i]) in float64,
// where logits holds len(targets) rows of equal length, row-major: the value
// the training loss takes for the logits of Corruption.Rows.
func LossFromLogits(logits []float32, targets []int32, weights []float64) (float64, error) {
	n := len(targets)
	if len(weights) != n {
		return 0, fmt.Errorf("mdlm: %d weights for %d targets", len(weights), n)
	}
	if n == 0 {
		if len(logits) != 0 {
			return 0, fmt.Errorf("mdlm: %d logits for no targets", len(logits))
		}
		return 0, nil
	}
	if len(logits)%n != 0 || len(logits) == 0 {
		return 0, fmt.Errorf("mdlm: %d logits do not split into %d rows", len(logits), n)
	}
	v := len(logits) / n
	loss := 0.0
	for i, t := range targets {
		if t < 0 || int(t) >= v {
			return 0, fmt.Errorf("mdlm: target %d outside vocabulary of %d", t, v)
		}
		loss += weights[i] * CrossEntropy(logits[i*v:(i+1)*v], t)
	}
	return loss, nil
}

func logSumExp32(x []float32) float64 {
	m := math.Inf(-1)
	for _, v := range x {
		if float64(v) > m {
			m = float64(v)
		}
	}
	if math.IsInf(m, -1) {
		return m
	}
	s := 0.0
	for _, v := range x {
		s += math.Exp(float64(v) - m)
	}
	return m + math.Log(s)
}

// logSumExp is the float64 version; -Inf entries (suppressed tokens) add 0.
func logSumExp(x []float64) float64 {
	m := math.Inf(-1)
	for _, v := range x {
		if v > m {
			m = v
		}
	}
	if math.IsInf(m, -1) {
		return m
	}
	s := 0.0
	for _, v := range x {
		s += math.Exp(v - m)
	}
	return m + math.Log(s)
}
