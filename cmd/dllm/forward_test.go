package main

import (
	"bytes"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dllmgo/dllm/modeldir"
	"github.com/dllmgo/dllm/tensor"
	"github.com/dllmgo/dllm/tensor/safetensors"
)

const fixture = "../../bert/testdata/hf_tiny_a"

// runCLI runs dllm with args and returns the exit status and both streams.
func runCLI(args ...string) (int, string, string) {
	var stdout, stderr bytes.Buffer
	code := run(args, &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

// maxRelErr compares two tensors of a safetensors file pair over the
// positions whose attention mask is 1 (rows of width values).
func maxRelErr(t *testing.T, got, want *safetensors.File, name string, mask []int64, width int) float64 {
	g, _, err := got.F32(name)
	require.NoError(t, err)
	w, _, err := want.F32(name)
	require.NoError(t, err)
	require.Len(t, g, len(w))
	var maxErr, maxAbs float64
	for i := range w {
		if mask != nil && mask[i/width] == 0 {
			continue
		}
		maxErr = math.Max(maxErr, math.Abs(float64(g[i]-w[i])))
		maxAbs = math.Max(maxAbs, math.Abs(float64(w[i])))
	}
	return maxErr / maxAbs
}

// TestForwardMatchesHuggingFace runs the parity tool on the transformers
// fixture, and again on a copy of the model that this project saved: what we
// write must load back to the same numbers (the reverse direction of the
// parity check).
func TestForwardMatchesHuggingFace(t *testing.T) {
	golden, err := safetensors.Open(filepath.Join(fixture, "golden.safetensors"))
	require.NoError(t, err)
	mask, _, err := golden.I64("attention_mask")
	require.NoError(t, err)

	// The batch file holds just the inputs, as a user would write it.
	batch := filepath.Join(t.TempDir(), "batch.safetensors")
	var in []safetensors.Tensor
	for _, name := range []string{"input_ids", "attention_mask", "labels"} {
		v, shape, err := golden.I64(name)
		require.NoError(t, err)
		in = append(in, safetensors.I64Tensor(name, shape, v))
	}
	require.NoError(t, safetensors.Write(batch, in, nil))

	resaved := t.TempDir()
	m, err := modeldir.LoadModel(fixture, tensor.CPU())
	require.NoError(t, err)
	require.NoError(t, m.Save(resaved))

	for _, dir := range []string{fixture, resaved} {
		out := filepath.Join(t.TempDir(), "out.safetensors")
		code, _, stderr := runCLI("forward", "--model", dir, "--batch", batch, "--out", out, "--grads")
		require.Equal(t, 0, code, stderr)
		got, err := safetensors.Open(out)
		require.NoError(t, err)
		require.Less(t, maxRelErr(t, got, golden, "logits", mask, 97), 1e-4)
		require.Less(t, maxRelErr(t, got, golden, "last_hidden_state", mask, 48), 1e-4)
		loss, _, _ := got.F32("loss")
		want, _, _ := golden.F32("loss")
		require.InDelta(t, want[0], loss[0], 1e-5)
		for _, p := range m.Params() {
			require.Less(t, maxRelErr(t, got, golden, "grad."+p.Name, nil, 1), 1e-3, p.Name)
		}
	}

	// Under bf16 autocast the logits move by bf16 rounding, not more.
	out := filepath.Join(t.TempDir(), "out.safetensors")
	code, _, stderr := runCLI("forward", "--model", fixture, "--batch", batch, "--out", out, "--precision", "bf16")
	require.Equal(t, 0, code, stderr)
	got, err := safetensors.Open(out)
	require.NoError(t, err)
	e := maxRelErr(t, got, golden, "logits", mask, 97)
	require.Less(t, e, 2e-2)
	require.Greater(t, e, 1e-5, "--precision bf16 changed nothing")

	// load(save(m)) is bit-identical.
	again, err := modeldir.LoadModel(resaved, tensor.CPU())
	require.NoError(t, err)
	for i, p := range m.Params() {
		require.Equal(t, p.Value.F32(), again.Params()[i].Value.F32(), p.Name)
	}
}

// position_ids 0..S-1 give the logits of no position_ids; shifted ones
// (left padding) give others; negative ones are bad input.
func TestForwardPositionIDs(t *testing.T) {
	dir := t.TempDir()
	const b, s = 2, 5
	ids := []int64{5, 6, 7, 8, 9, 10, 11, 12, 13, 14}
	run := func(pos []int64, dtype string) ([]float32, int, string) {
		batch := filepath.Join(t.TempDir(), "batch.safetensors")
		ts := []safetensors.Tensor{safetensors.I64Tensor("input_ids", []int{b, s}, ids)}
		switch dtype {
		case "I64":
			ts = append(ts, safetensors.I64Tensor("position_ids", []int{b, s}, pos))
		case "I32":
			p32 := make([]int32, len(pos))
			for i, p := range pos {
				p32[i] = int32(p)
			}
			ts = append(ts, safetensors.I32Tensor("position_ids", []int{b, s}, p32))
		}
		require.NoError(t, safetensors.Write(batch, ts, nil))
		out := filepath.Join(dir, dtype+"out.safetensors")
		os.Remove(out)
		code, _, stderr := runCLI("forward", "--model", fixture, "--batch", batch, "--out", out)
		if code != 0 {
			return nil, code, stderr
		}
		f, err := safetensors.Open(out)
		require.NoError(t, err)
		logits, _, err := f.F32("logits")
		require.NoError(t, err)
		return logits, code, stderr
	}
	plain, code, stderr := run(nil, "")
	require.Equal(t, 0, code, stderr)
	for _, dtype := range []string{"I64", "I32"} {
		same, code, stderr := run([]int64{0, 1, 2, 3, 4, 0, 1, 2, 3, 4}, dtype)
		require.Equal(t, 0, code, stderr)
		require.Equal(t, plain, same, dtype)
		moved, code, stderr := run([]int64{0, 1, 2, 3, 4, 1, 1, 0, 1, 2}, dtype)
		require.Equal(t, 0, code, stderr)
		require.Equal(t, plain[:len(plain)/2], moved[:len(plain)/2], "row 0 keeps its positions")
		require.NotEqual(t, plain[len(plain)/2:], moved[len(plain)/2:], "row 1 moved")
	}
	_, code, stderr = run([]int64{0, 1, 2, 3, 4, 0, -1, 2, 3, 4}, "I64")
	require.Equal(t, 2, code, stderr)
	require.Contains(t, stderr, "position_ids[6] = -1 is invalid")
	require.NotContains(t, strings.TrimSpace(stderr), "\n", "one line")
}

func TestForwardBadInput(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.safetensors")
	require.NoError(t, safetensors.Write(good, []safetensors.Tensor{
		safetensors.I64Tensor("input_ids", []int{1, 3}, []int64{1, 2, 3}),
	}, nil))
	outOfVocab := filepath.Join(dir, "oov.safetensors")
	require.NoError(t, safetensors.Write(outOfVocab, []safetensors.Tensor{
		safetensors.I64Tensor("input_ids", []int{1, 2}, []int64{1, 500}),
	}, nil))
	noLabels := good
	garbage := filepath.Join(dir, "garbage.safetensors")
	require.NoError(t, os.WriteFile(garbage, []byte("not a safetensors file at all"), 0o644))
	noWeights := t.TempDir()
	cfg, _ := os.ReadFile(filepath.Join(fixture, "config.json"))
	require.NoError(t, os.WriteFile(filepath.Join(noWeights, "config.json"), cfg, 0o644))

	out := filepath.Join(dir, "out.safetensors")
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"missing flags", []string{"forward"}, "required"},
		{"missing model", []string{"forward", "--model", filepath.Join(dir, "nope"), "--batch", good, "--out", out}, "nope"},
		{"model without weights", []string{"forward", "--model", noWeights, "--batch", good, "--out", out}, "model.safetensors"},
		{"missing batch", []string{"forward", "--model", fixture, "--batch", filepath.Join(dir, "none.safetensors"), "--out", out}, "none.safetensors"},
		{"corrupt batch", []string{"forward", "--model", fixture, "--batch", garbage, "--out", out}, "garbage.safetensors"},
		{"id outside vocabulary", []string{"forward", "--model", fixture, "--batch", outOfVocab, "--out", out}, "outside the vocabulary"},
		{"grads without labels", []string{"forward", "--model", fixture, "--batch", noLabels, "--out", out, "--grads"}, "labels"},
		{"unknown device", []string{"forward", "--model", fixture, "--batch", good, "--out", out, "--device", "tpu"}, "tpu"},
		{"unknown flag", []string{"forward", "--colour"}, "colour"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, _, stderr := runCLI(c.args...)
			require.Equal(t, 2, code, stderr)
			require.Contains(t, stderr, c.want)
			_, err := os.Stat(out)
			require.True(t, os.IsNotExist(err), "no output may be written")
		})
	}
}
