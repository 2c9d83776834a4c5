package modeldir

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dllmgo/dllm/data"
	"github.com/dllmgo/dllm/lm"
	"github.com/dllmgo/dllm/mdlm"
	"github.com/dllmgo/dllm/nn"
	"github.com/dllmgo/dllm/tensor"
	"github.com/dllmgo/dllm/tensor/safetensors"
)

// legacyDir is a model folder written by `dllm sft` at commit a608523, the
// last main before modeldir, with the logits `dllm forward` gave on
// batch.safetensors and the answers `dllm generate` gave (expected.json).
const legacyDir = "testdata/legacy-a608523"

type legacyExpected struct {
	Generate []struct {
		Prompt      string  `json:"prompt"`
		Seed        uint64  `json:"seed"`
		Temperature float64 `json:"temperature"`
		Answer      string  `json:"answer"`
	} `json:"generate"`
}

func TestLegacyFolderSameLogits(t *testing.T) {
	b, err := Open(filepath.Join(legacyDir, "model"), tensor.CPU())
	require.NoError(t, err)
	require.Equal(t, "modernbert", b.Model.Spec().Family)

	f, err := safetensors.Open(filepath.Join(legacyDir, "batch.safetensors"))
	require.NoError(t, err)
	ids, shape, err := f.I32("input_ids")
	require.NoError(t, err)
	want, err := safetensors.Open(filepath.Join(legacyDir, "logits.safetensors"))
	require.NoError(t, err)
	wantLogits, wantShape, err := want.F32("logits")
	require.NoError(t, err)
	require.Equal(t, []int{shape[0], shape[1], b.Model.VocabSize()}, wantShape)

	be := b.Model.Backend()
	out := b.Model.Forward(nn.NoGrad(be), lm.Input{IDs: be.FromHost(tensor.FromI32(ids, shape...))})
	got := out.Logits.Value.ToCPU().F32()
	require.Len(t, got, len(wantLogits))
	for i := range got {
		require.InDelta(t, wantLogits[i], got[i], 1e-5, "logit %d", i)
	}
}

func TestLegacyFolderSameAnswers(t *testing.T) {
	js, err := os.ReadFile(filepath.Join(legacyDir, "expected.json"))
	require.NoError(t, err)
	var exp legacyExpected
	require.NoError(t, json.Unmarshal(js, &exp))
	require.NotEmpty(t, exp.Generate)

	b, err := Open(filepath.Join(legacyDir, "model"), tensor.CPU())
	require.NoError(t, err)
	for _, g := range exp.Generate {
		prompt, err := b.Prompt([]data.Message{{Role: data.RoleUser, Content: g.Prompt}})
		require.NoError(t, err)
		c := b.SamplerConfig()
		c.Temperature = g.Temperature
		out, err := mdlm.Generate(b.Model, [][]int32{prompt}, c, mdlm.NewRand(g.Seed))
		require.NoError(t, err)
		require.Equal(t, g.Answer, strings.TrimSpace(b.Decode(out.Samples[0].Answer)), "prompt %q", g.Prompt)
	}
}
