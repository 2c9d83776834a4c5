package bert_test

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dllmgo/dllm/bert"
	"github.com/dllmgo/dllm/nn"
	"github.com/dllmgo/dllm/tensor"
)

// TestLogitsFreesOnlyDeadActivations: Logits frees each layer's
// activations as it goes (nn.Tape.FreeScratch); with freed buffers poisoned
// with NaN and never reused, its logits equal bit for bit those of a forward
// pass that frees nothing, on a padded batch of three layers.
func TestLogitsFreesOnlyDeadActivations(t *testing.T) {
	cfg, err := bert.Preset("tiny")
	require.NoError(t, err)
	cfg.VocabSize, cfg.HiddenSize, cfg.IntermediateSize = testVocab, 32, 48
	cfg.NumLayers, cfg.NumHeads, cfg.LocalAttention = 3, 2, 8
	cfg.LayerTypes = bert.LayersEvery(3, 2)
	cfg.MaxPositions = 64
	cfg.PadTokenID, cfg.MaskTokenID = testPad, testMask
	cfg.InitializerRange = 0.5
	require.NoError(t, cfg.Validate())
	m := bert.New(cfg, tensor.CPU())
	m.Init(rand.New(rand.NewPCG(9, 10)))

	rng := rand.New(rand.NewPCG(3, 4))
	const batch, seq = 3, 20
	ids := make([]int32, batch*seq)
	keyMask := make([]int32, batch*seq)
	for i := range ids {
		ids[i] = int32(rng.IntN(testPad))
		if i%seq < seq-4*(i/seq) { // rows of 20, 16 and 12 real tokens
			keyMask[i] = 1
		} else {
			ids[i] = testPad
		}
	}
	rows := []int32{2, 19, 25, 30, 41, 50}

	in := bert.Input{
		IDs:     tensor.FromI32(ids, batch, seq),
		KeyMask: tensor.FromI32(keyMask, batch, seq),
		Rows:    tensor.FromI32(rows, len(rows)),
	}
	want := m.Forward(nn.NoGrad(m.Backend()), in).Logits.Value.F32()

	was := tensor.DebugPoisonFreed(true)
	defer tensor.DebugPoisonFreed(was)
	for range 2 {
		got, err := m.Logits(ids, batch, seq, keyMask, rows)
		require.NoError(t, err)
		require.Len(t, got, len(want))
		for i := range want {
			require.Equal(t, math.Float32bits(want[i]), math.Float32bits(got[i]), "logit %d: %v, want %v", i, got[i], want[i])
		}
	}
}
