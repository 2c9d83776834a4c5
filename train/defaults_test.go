package train

import (
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dllmgo/dllm/bert"
	"github.com/dllmgo/dllm/data"
	"github.com/dllmgo/dllm/mdlm"
	"github.com/dllmgo/dllm/tensor"
)

func TestDefaults(t *testing.T) {
	d := Defaults()
	require.Equal(t, DefaultLR, d.LR)
	require.Equal(t, "cosine", d.Schedule)
	require.Positive(t, d.WarmupRatio)
	require.Positive(t, d.Clip)
	require.Positive(t, d.WeightDecay)
	require.Nil(t, d.Objective)

	task := copyTask{vocab: 20, n: 3, mask: 0, pad: 1, sep: 2, base: 3}
	cfg, err := bert.Preset("tiny")
	require.NoError(t, err)
	cfg.VocabSize, cfg.HiddenSize, cfg.IntermediateSize, cfg.NumLayers = task.vocab, 32, 48, 2
	cfg.LayerTypes = bert.LayersEvery(2, 3)
	m := bert.New(cfg, tensor.CPU())
	m.Init(rand.New(rand.NewPCG(1, 1)))
	batches := func(int) []data.Batch { return []data.Batch{task.batch(rand.New(rand.NewPCG(1, 2)), 4)} }
	obj := mdlm.NewObjective(mdlm.ObjectiveOptions{MaskID: task.mask})

	cases := []struct {
		name string
		opts Options
		err  string
	}{
		{"defaults", Defaults(), "no objective"},
		{"zero options but the objective", Options{}, ""},
		{"only the learning rate", Options{LR: 3e-3}, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			o := c.opts
			if c.err == "" {
				o.Objective = obj
			}
			tr, err := New(m, batches, nil, o, Hooks{})
			if c.err != "" {
				require.ErrorContains(t, err, c.err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, 1, tr.TotalSteps())
			_, err = tr.Step()
			require.NoError(t, err)
		})
	}
}
