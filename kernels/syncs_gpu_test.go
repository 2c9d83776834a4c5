package kernels

import (
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dllmgo/dllm/bert"
	"github.com/dllmgo/dllm/data"
	"github.com/dllmgo/dllm/kernels/cu"
	"github.com/dllmgo/dllm/mdlm"
	"github.com/dllmgo/dllm/train"
)

// TestGPUStepSyncs counts the host's waits for the device during training
// steps. Each wait drains the GPU's queue, so a step must make a small
// constant number of them (the uploads of the batch, the loss, the global
// gradient norm), not one per parameter or per layer: a model three times as
// deep makes exactly as many.
func TestGPUStepSyncs(t *testing.T) {
	g := requireGPU(t)
	perStep := func(layers int) int64 {
		cfg := smallModelConfig(t)
		cfg.NumLayers, cfg.LayerTypes = layers, bert.LayersEvery(layers, 3)
		require.NoError(t, cfg.Validate())
		m := bert.New(cfg, g)
		m.Init(rand.New(rand.NewPCG(1, 2)))
		rng := rand.New(rand.NewPCG(3, 4))
		const rows, seq = 2, 24
		b := data.Batch{B: rows, S: seq, InputIDs: make([]int32, rows*seq), Labels: make([]int32, rows*seq), PromptLens: make([]int, rows)}
		for i := range b.InputIDs {
			b.InputIDs[i] = int32(4 + rng.IntN(cfg.VocabSize-4))
			b.Labels[i] = b.InputIDs[i]
		}
		opts := train.Defaults()
		opts.Objective = mdlm.NewObjective(mdlm.ObjectiveOptions{MaskID: int32(cfg.MaskTokenID)})
		opts.Steps, opts.Seed = 10, 7
		tr, err := train.New(m, func(int) []data.Batch { return []data.Batch{b} }, nil, opts, train.Hooks{})
		require.NoError(t, err)
		_, err = tr.Step() // compiles the kernels, fills the caches
		require.NoError(t, err)
		start := cu.Syncs()
		const steps = 1
		for range steps {
			_, err := tr.Step()
			require.NoError(t, err)
		}
		return (cu.Syncs() - start) / steps
	}
	shallow, deep := perStep(1), perStep(3)
	t.Logf("device waits per training step: %d with 1 layer, %d with 3", shallow, deep)
	require.Equal(t, shallow, deep, "waits per step grow with depth")
	require.LessOrEqual(t, deep, int64(8), "a step waits for the device too often")
}
