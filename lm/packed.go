package lm

import "github.com/dllmgo/dllm/tensor"

// KeepPacked marks every weight matrix of m to be kept by its backend in the
// layout its matrix product reads (tensor.KeepPacked): call it once a model
// is loaded for sampling or serving. On the CPU each matrix is packed by the
// first product that reads it and reused by every later one, results
// unchanged bit for bit; this costs one more F32 copy of each matrix used
// that way (PackedBytes says how much once a forward pass has run). The
// optimizer's step drops the copies of the weights it changes; weights
// written any other way need DropPacked.
func KeepPacked(m Model) {
	for _, p := range m.Params() {
		tensor.KeepPacked(p.Value)
	}
}

// DropPacked frees the packed copies of m's weights (their values changed
// outside the backend's ops); they are packed again on next use.
func DropPacked(m Model) {
	for _, p := range m.Params() {
		p.Value.DropPacked()
	}
}

// Unpack removes KeepPacked's marks from m's weights and frees the copies.
func Unpack(m Model) {
	for _, p := range m.Params() {
		p.Value.Unpack()
	}
}

// PackedBytes is the memory the packed copies of m's weights hold now,
// each counted once.
func PackedBytes(m Model) int {
	seen := map[*tensor.Tensor]bool{}
	n := 0
	for _, p := range m.Params() {
		for _, t := range []*tensor.Tensor{p.Value, p.Value.Base()} {
			if t != nil && !seen[t] {
				seen[t] = true
				n += t.PackedBytes()
			}
		}
	}
	return n
}
