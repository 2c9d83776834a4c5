package recipe

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dllmgo/dllm/data/tokenizer"
	"github.com/dllmgo/dllm/modeldir"
	"github.com/dllmgo/dllm/tensor"
	"github.com/dllmgo/dllm/train"
)

func TestSFTTrainer(t *testing.T) {
	tok, err := tokenizer.Load(filepath.Join(modelDir, modeldir.TokenizerFile))
	require.NoError(t, err)
	convs := conversations(t, 40)
	b, err := FreshBundle(modeldir.DefaultFamily(), "tiny", tok, 64, 1, tensor.CPU())
	require.NoError(t, err)
	require.Equal(t, int32(4), b.MaskID)

	cases := []struct {
		name  string
		opts  func() train.Options
		steps int
	}{
		{"the recipe's epochs", train.Defaults, SFTEpochs * 3}, // 36 rows in batches of 16
		{"given epochs", func() train.Options { o := train.Defaults(); o.Epochs = 2; return o }, 2 * 3},
		{"given steps", func() train.Options { o := train.Defaults(); o.Steps = 5; return o }, 5},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tr, d, err := SFTTrainer(b, convs, Run{Split: Split{MaxLen: 64, HeldOut: 0.1, Seed: 7}, BatchSize: 16, Options: c.opts()})
			require.NoError(t, err)
			require.Len(t, d.Train, 36)
			require.Equal(t, c.steps, tr.TotalSteps())
			require.Equal(t, d.Generation, b.Generation, "the bundle carries the generation defaults")
		})
	}
	// A nil objective is MDLM with the bundle's mask: a step learns.
	tr, _, err := SFTTrainer(b, convs, Run{Split: Split{MaxLen: 64, HeldOut: 0.1, Seed: 7}, BatchSize: 16, Options: train.Defaults()})
	require.NoError(t, err)
	loss, err := tr.Step()
	require.NoError(t, err)
	require.Positive(t, loss)

	_, _, err = SFTTrainer(b, convs, Run{Split: Split{MaxLen: 4, Seed: 7}, BatchSize: 16, Options: train.Defaults()})
	require.ErrorContains(t, err, "longer than 4 tokens")
}
