package editflow_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dllmgo/dllm/editflow"
	"github.com/dllmgo/dllm/nn"
)

// setRates sets the rate head's biases (softplus of them are the rates at
// zero features) and shrinks its weights, so a random model edits often.
func setRates(m *editflow.Model, sub, del, ins float32) {
	set := func(p *nn.Param, v []float32) {
		copy(p.Value.F32(), v)
	}
	w := make([]float32, m.Heads.Rate.W.Value.Numel())
	for i, v := range m.Heads.Rate.W.Value.F32() {
		w[i] = v * 0.1
	}
	set(m.Heads.Rate.W, w)
	set(m.Heads.Rate.B, []float32{sub, del, ins})
}

var prompts = [][]int32{{1, 5, 6, 7}, {1, 8}, {9, 10, 11}} // the last without BOS

func TestSampleIsDeterministicForASeed(t *testing.T) {
	m := tinyModel(t, 3)
	setRates(m, 0, -1, 0.5)
	o := editflow.SampleOptions{BOS: 1, Tau: 0.05, MaskLength: 4, Temperature: 1, Seed: 11}
	a, err := m.Sample(prompts, o)
	require.NoError(t, err)
	b, err := m.Sample(prompts, o)
	require.NoError(t, err)
	require.Equal(t, a, b)
	o.Seed = 12
	c, err := m.Sample(prompts, o)
	require.NoError(t, err)
	require.NotEqual(t, a, c)
}

// Rows of different lengths batched together give what each gives alone.
func TestSampleRowsAreIndependentOfTheBatch(t *testing.T) {
	m := tinyModel(t, 4)
	setRates(m, 0.5, -0.5, 0.5)
	o := editflow.SampleOptions{BOS: 1, Tau: 0.05, MaskLength: 3, Temperature: 0.7, Seed: 5}
	all, err := m.Sample(prompts, o)
	require.NoError(t, err)
	lengths := map[int]bool{}
	for r, p := range prompts {
		alone := o
		alone.Seed = o.Seed
		one, err := sampleRow(m, p, alone, r)
		require.NoError(t, err)
		require.Equal(t, one, all[r], "row %d", r)
		lengths[len(all[r])] = true
	}
	require.Greater(t, len(lengths), 1, "the rows end at different lengths")
}

// sampleRow samples prompt p as row r of a batch whose other rows are
// copies of it (so its random stream is row r's).
func sampleRow(m *editflow.Model, p []int32, o editflow.SampleOptions, r int) ([]int32, error) {
	batch := make([][]int32, r+1)
	for i := range batch {
		batch[i] = p
	}
	out, err := m.Sample(batch, o)
	if err != nil {
		return nil, err
	}
	return out[r], nil
}

func TestSampleFreezesThePromptAndCapsTheLength(t *testing.T) {
	m := tinyModel(t, 5)
	setRates(m, 2, 1, 3)
	const maxLen = 9
	edited := 0
	o := editflow.SampleOptions{BOS: 1, Tau: 0.05, MaskLength: 2, Temperature: 1, Seed: 1, MaxLength: maxLen,
		OnStep: func(s editflow.Step) {
			rows := s.Rows
			for r, es := range s.Edits {
				plen := len(prompts[r])
				if r == 2 {
					plen++ // BOS was prepended
				}
				require.Equal(t, plen, s.PromptLens[r])
				for _, e := range es {
					edited++
					if e.Kind == editflow.Ins {
						require.GreaterOrEqual(t, e.Row, plen-1, "insertion inside the prompt")
					} else {
						require.GreaterOrEqual(t, e.Row, plen, "%v inside the prompt", e.Kind)
					}
				}
				require.LessOrEqual(t, len(editflow.Apply(rows[r], es)), maxLen)
			}
		}}
	out, err := m.Sample(prompts, o)
	require.NoError(t, err)
	require.Greater(t, edited, 20)
	for r, x := range out {
		plen := len(prompts[r]) + map[bool]int{true: 1}[r == 2]
		require.LessOrEqual(t, plen+len(x), maxLen)
	}
}

func TestOutputsOfTheHeads(t *testing.T) {
	m := tinyModel(t, 6)
	ids := []int32{1, 5, 3, 3, 1, 7, 0, 0}
	out := m.Outputs(ids, []int32{1, 1, 1, 1, 1, 1, 0, 0}, 2, 4)
	require.Equal(t, 24, out.V)
	require.Len(t, out.Rates, 8*3)
	for _, r := range out.Rates {
		require.Greater(t, r, float32(0))
	}
	// The token heads start as copies of the decoder: equal logits.
	require.Len(t, out.Sub, 8*24)
	require.Equal(t, out.Sub, out.Ins)
}
