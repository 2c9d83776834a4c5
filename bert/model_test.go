package bert

import (
	"math"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dllmgo/dllm/nn"
	"github.com/dllmgo/dllm/tensor"
	"github.com/dllmgo/dllm/tensor/safetensors"
)

// golden is one Hugging Face forward/backward pass recorded by transformers.
type golden struct {
	ids, mask, labels []int64
	b, s              int
	logits, hidden    []float32
	loss              float32
	grads             map[string][]float32
}

func readGolden(t *testing.T, path string) golden {
	t.Helper()
	f, err := safetensors.Open(path)
	require.NoError(t, err)
	var g golden
	var shape []int
	g.ids, shape, err = f.I64("input_ids")
	require.NoError(t, err)
	g.b, g.s = shape[0], shape[1]
	g.mask, _, err = f.I64("attention_mask")
	require.NoError(t, err)
	g.labels, _, err = f.I64("labels")
	require.NoError(t, err)
	g.logits, _, err = f.F32("logits")
	require.NoError(t, err)
	g.hidden, _, err = f.F32("last_hidden_state")
	require.NoError(t, err)
	loss, _, err := f.F32("loss")
	require.NoError(t, err)
	g.loss = loss[0]
	g.grads = map[string][]float32{}
	for _, n := range f.Names() {
		if name, ok := cutGrad(n); ok {
			g.grads[name], _, err = f.F32(n)
			require.NoError(t, err)
		}
	}
	return g
}

// fixtureBatch is a golden file's batch as the model takes it: int32 ids,
// key mask and targets, which positions are real tokens, and the loss
// weights of Hugging Face's mean over the supervised tokens.
type fixtureBatch struct {
	ids, mask, targets []int32
	keep               []bool
	weights            []float32
}

func (g golden) batch() fixtureBatch {
	n := g.b * g.s
	fb := fixtureBatch{ids: make([]int32, n), mask: make([]int32, n), targets: make([]int32, n), keep: make([]bool, n)}
	count := 0
	for i := range fb.ids {
		fb.ids[i], fb.mask[i], fb.targets[i] = int32(g.ids[i]), int32(g.mask[i]), int32(g.labels[i])
		fb.keep[i] = g.mask[i] == 1
		if g.labels[i] != -100 {
			count++
		}
	}
	fb.weights = make([]float32, n)
	for i := range fb.weights {
		fb.weights[i] = 1 / float32(count)
	}
	return fb
}

// loadFixture loads the model of a fixture folder with one of its configs.
func loadFixture(t *testing.T, dir, configName string) *Model {
	t.Helper()
	cfg, err := LoadConfig(filepath.Join(dir, configName))
	require.NoError(t, err)
	src, err := safetensors.Open(filepath.Join(dir, "model.safetensors"))
	require.NoError(t, err)
	m := New(cfg, tensor.CPU())
	require.NoError(t, m.LoadWeights(src))
	return m
}

func cutGrad(n string) (string, bool) {
	const p = "grad."
	if len(n) > len(p) && n[:len(p)] == p {
		return n[len(p):], true
	}
	return "", false
}

// relErrRows is max|got−want| / max|want| over the rows where keep is true;
// each row has width values.
func relErrRows(got, want []float32, width int, keep []bool) float64 {
	var maxErr, maxAbs float64
	for r := range keep {
		if !keep[r] {
			continue
		}
		for j := r * width; j < (r+1)*width; j++ {
			maxErr = math.Max(maxErr, math.Abs(float64(got[j])-float64(want[j])))
			maxAbs = math.Max(maxAbs, math.Abs(float64(want[j])))
		}
	}
	return maxErr / maxAbs
}

func relErr(got, want []float32) float64 {
	keep := make([]bool, len(want))
	for i := range keep {
		keep[i] = true
	}
	return relErrRows(got, want, 1, keep)
}

// TestHuggingFaceParity runs the fixture that transformers produced through
// our model, with both config spellings: logits and hidden states to 1e-4
// relative at real tokens, the loss to 1e-5, every gradient to 1e-3.
func TestHuggingFaceParity(t *testing.T) {
	dir := filepath.Join("testdata", "hf_tiny_a")
	g := readGolden(t, filepath.Join(dir, "golden.safetensors"))
	for _, configName := range []string{"config.json", "config.legacy.json"} {
		t.Run(configName, func(t *testing.T) {
			m := loadFixture(t, dir, configName)
			n := g.b * g.s
			fb := g.batch()
			ids, mask, targets, keep, weights := fb.ids, fb.mask, fb.targets, fb.keep, fb.weights
			tp := nn.NewTape(tensor.CPU())
			out := m.Forward(tp, Input{
				IDs:     tensor.FromI32(ids, g.b, g.s),
				KeyMask: tensor.FromI32(mask, g.b, g.s),
			})
			loss := tp.CrossEntropy(out.Logits, tensor.FromI32(targets, n), tensor.FromF32(weights, n), -100)
			tp.Backward(loss)

			le := relErrRows(out.Logits.Value.F32(), g.logits, m.Config.VocabSize, keep)
			he := relErrRows(out.Hidden.Value.F32(), g.hidden, m.Config.HiddenSize, keep)
			t.Logf("relative error: logits %.2e, hidden %.2e; loss %.7f vs %.7f", le, he, loss.Value.F32()[0], g.loss)
			require.Less(t, le, 1e-4, "logits")
			require.Less(t, he, 1e-4, "hidden")
			require.InDelta(t, g.loss, loss.Value.F32()[0], 1e-5, "loss")
			worst := 0.0
			for _, p := range m.Params() {
				want, ok := g.grads[p.Name]
				require.True(t, ok, "golden has no gradient for %s", p.Name)
				require.NotNil(t, p.Grad, "no gradient for %s", p.Name)
				ge := relErr(p.Grad.F32(), want)
				worst = max(worst, ge)
				require.Less(t, ge, 1e-3, "gradient of %s", p.Name)
			}
			t.Logf("worst gradient relative error %.2e", worst)
		})
	}
}
