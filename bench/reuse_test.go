package bench

import (
	"math"
	"testing"

	"github.com/dllmgo/dllm/bert"
	"github.com/dllmgo/dllm/nn"
	"github.com/dllmgo/dllm/tensor"
	"github.com/stretchr/testify/require"
)

// trainRun is what a few training steps leave behind, as raw float bits.
type trainRun struct {
	losses  []uint32
	weights [][]uint32
	logits  []uint32
}

func bitsOf(xs []float32) []uint32 {
	b := make([]uint32, len(xs))
	for i, x := range xs {
		b[i] = math.Float32bits(x)
	}
	return b
}

// runTraining trains a fresh tiny workload for steps steps in precision p
// and records the losses, the weights, and the logits of a forward pass
// after training.
func runTraining(t *testing.T, p nn.Precision, steps int) trainRun {
	cfg, err := bert.Preset("tiny")
	require.NoError(t, err)
	cfg.VocabSize, cfg.PadTokenID = 512, 3
	w, err := NewWorkload(cfg, tensor.CPU(), 2, 64, 11)
	require.NoError(t, err)
	w.Precision = p
	var r trainRun
	for range steps {
		// TrainStep frees gradients and activations as its backward pass goes.
		r.losses = append(r.losses, math.Float32bits(w.TrainStep(3e-3)))
	}
	for _, p := range w.params {
		r.weights = append(r.weights, bitsOf(p.Value.F32()))
	}
	r.logits = bitsOf(w.Forward().F32())
	return r
}

// TestTrainingReadsNoFreedMemory trains twice from the same seed: once with
// the CPU backend recycling freed buffers as usual, once with
// tensor.DebugPoisonFreed, where nothing is reused and every freed buffer
// turns to NaN, which is the plain allocate-every-tensor path plus a trap
// for reads after Free. The losses, weights and logits must agree bit for
// bit: a step that read a buffer after it was freed (and maybe handed to
// another tensor) would differ or go NaN.
func TestTrainingReadsNoFreedMemory(t *testing.T) {
	for _, p := range []nn.Precision{nn.PrecisionF32, nn.PrecisionBF16} {
		t.Run(p.String(), func(t *testing.T) {
			reused := runTraining(t, p, 3)
			was := tensor.DebugPoisonFreed(true)
			plain := runTraining(t, p, 3)
			tensor.DebugPoisonFreed(was)

			for i, l := range plain.losses {
				require.False(t, math.IsNaN(float64(math.Float32frombits(l))), "step %d: loss NaN", i)
			}
			require.Equal(t, plain.losses, reused.losses, "losses")
			require.Equal(t, len(plain.weights), len(reused.weights))
			for i := range plain.weights {
				require.Equal(t, plain.weights[i], reused.weights[i], "parameter %d", i)
			}
			require.Equal(t, plain.logits, reused.logits, "logits after training")
		})
	}
}
