package bert_test

import (
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dllmgo/dllm/lm"
	"github.com/dllmgo/dllm/nn"
	"github.com/dllmgo/dllm/tensor"
)

// A pattern that says what a key mask says (query q of row r sees key k iff
// k is a real token of row r) gives the logits of the key mask itself, on
// the global layer and the sliding one alike.
func TestForwardAttentionMaskMatchesKeyMask(t *testing.T) {
	m := newMaskTestModel(t)
	rng := rand.New(rand.NewPCG(3, 4))
	const batch, seq = 2, 12
	lens := []int{12, 7}
	ids := make([]int32, batch*seq)
	keys := make([]int32, batch*seq)
	allow := make([]bool, batch*seq*seq)
	for r := range batch {
		for s := range seq {
			ids[r*seq+s] = int32(rng.IntN(testPad))
			if s < lens[r] {
				keys[r*seq+s] = 1
				for q := range seq {
					allow[(r*seq+q)*seq+s] = true
				}
			}
		}
	}
	be := tensor.CPU()
	in := lm.Input{IDs: be.FromHost(tensor.FromI32(ids, batch, seq))}
	withMask := in
	withMask.Mask = &lm.AttentionMask{Allow: allow, Rows: batch}
	in.KeyMask = be.FromHost(tensor.FromI32(keys, batch, seq))
	want := m.Forward(nn.NoGrad(be), in).Logits.Value.F32()
	got := m.Forward(nn.NoGrad(be), withMask).Logits.Value.F32()
	v := m.VocabSize()
	for r := range batch {
		for s := range lens[r] {
			i := (r*seq + s) * v
			require.InDeltaSlice(t, want[i:i+v], got[i:i+v], 1e-4, "row %d position %d", r, s)
		}
	}
}
