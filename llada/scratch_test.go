package llada

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dllmgo/dllm/lm"
	"github.com/dllmgo/dllm/nn"
	"github.com/dllmgo/dllm/tensor"
)

// TestLogitsFreesOnlyDeadActivations: Logits frees each block's activations
// as it goes (nn.Tape.FreeScratch); with freed buffers poisoned with NaN and
// never reused, its logits equal bit for bit those of a forward pass that
// frees nothing, on a padded batch.
func TestLogitsFreesOnlyDeadActivations(t *testing.T) {
	c := gqaConfig()
	m := randomModel(t, c, 5)
	rng := rand.New(rand.NewPCG(6, 7))
	const seq = 9
	ids, mask := paddedBatch(rng, []int{9, 6, 4}, seq, c.VocabSize, int32(c.PadTokenID))
	rows := []int32{0, 5, 10, 14, 19, 21}
	in := lm.Input{
		IDs:     tensor.FromI32(ids, 3, seq),
		KeyMask: tensor.FromI32(mask, 3, seq),
		Rows:    tensor.FromI32(rows, len(rows)),
	}
	want := m.Forward(nn.NoGrad(tensor.CPU()), in).Logits.Value.F32()

	was := tensor.DebugPoisonFreed(true)
	defer tensor.DebugPoisonFreed(was)
	for range 2 {
		got, err := m.Logits(ids, 3, seq, mask, rows)
		require.NoError(t, err)
		require.Len(t, got, len(want))
		for i := range want {
			require.Equal(t, math.Float32bits(want[i]), math.Float32bits(got[i]), "logit %d: %v, want %v", i, got[i], want[i])
		}
	}
}
