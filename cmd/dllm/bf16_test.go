package main

import (
	"math/rand/v2"
	"path/filepath"
	"testing"

	"github.com/dllmgo/dllm/llada"
	"github.com/dllmgo/dllm/lm"
	"github.com/dllmgo/dllm/nn"
	"github.com/dllmgo/dllm/tensor"
	"github.com/dllmgo/dllm/tensor/safetensors"
	"github.com/stretchr/testify/require"
)

// `dllm forward --precision bf16` on a BF16 folder keeps the weights in
// BF16 (modeldir.Options.BF16Weights) and gives bit for bit the logits of
// the float32-widened model under bf16 autocast.
func TestForwardBF16Weights(t *testing.T) {
	cfg, err := llada.Preset("tiny")
	require.NoError(t, err)
	m := llada.New(cfg, tensor.CPU())
	m.Init(rand.New(rand.NewPCG(41, 4)))
	m.SaveBF16 = true
	dir := filepath.Join(t.TempDir(), "m")
	require.NoError(t, m.Save(dir))

	const b, s = 2, 6
	rng := rand.New(rand.NewPCG(42, 4))
	ids := make([]int64, b*s)
	ids32 := make([]int32, b*s)
	for i := range ids {
		ids32[i] = int32(rng.IntN(cfg.VocabSize))
		ids[i] = int64(ids32[i])
	}
	batch := filepath.Join(t.TempDir(), "batch.safetensors")
	require.NoError(t, safetensors.Write(batch, []safetensors.Tensor{safetensors.I64Tensor("input_ids", []int{b, s}, ids)}, nil))
	out := filepath.Join(t.TempDir(), "out.safetensors")
	code, _, stderr := runCLI("forward", "--model", dir, "--batch", batch, "--out", out, "--precision", "bf16")
	require.Equal(t, 0, code, stderr)
	got, err := safetensors.Open(out)
	require.NoError(t, err)
	logits, _, err := got.F32("logits")
	require.NoError(t, err)

	wide, err := llada.Load(dir, tensor.CPU())
	require.NoError(t, err)
	tp := nn.NoGrad(tensor.CPU())
	tp.Precision = nn.PrecisionBF16
	want := wide.Forward(tp, lm.Input{IDs: tensor.FromI32(ids32, b, s)}).Logits.Value.F32()
	require.Equal(t, want, logits)
}
