package bd3lm_test

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dllmgo/dllm/bd3lm"
	"github.com/dllmgo/dllm/bert"
	"github.com/dllmgo/dllm/data"
	"github.com/dllmgo/dllm/lladamoe"
	"github.com/dllmgo/dllm/lm"
	"github.com/dllmgo/dllm/mdlm"
	"github.com/dllmgo/dllm/nn"
	"github.com/dllmgo/dllm/tensor"
)

const (
	testVocab = 40
	testPad   = testVocab - 2
	testMask  = testVocab - 1
	testEOS   = testVocab - 3
)

// newTestModel is a random ModernBERT of width 32 with a global layer and a
// sliding one whose window (4 each side) is shorter than the inputs, so
// that the positions the window measures in matter.
func newTestModel(t *testing.T) *bert.Model {
	t.Helper()
	cfg, err := bert.Preset("tiny")
	require.NoError(t, err)
	cfg.VocabSize, cfg.HiddenSize, cfg.IntermediateSize = testVocab, 32, 48
	cfg.NumLayers, cfg.NumHeads, cfg.LocalAttention = 2, 2, 8
	cfg.LayerTypes = bert.LayersEvery(2, 2)
	cfg.MaxPositions = 64
	cfg.PadTokenID, cfg.MaskTokenID = testPad, testMask
	cfg.InitializerRange = 0.5
	require.NoError(t, cfg.Validate())
	m := bert.New(cfg, tensor.CPU())
	m.Init(rand.New(rand.NewPCG(7, 8)))
	return m
}

func randomBatch(rng *rand.Rand, b, s int) data.Batch {
	ids := make([]int32, b*s)
	for i := range ids {
		ids[i] = int32(rng.IntN(testEOS))
	}
	return data.Batch{B: b, S: s, InputIDs: ids}
}

// The loss equals a direct computation that never builds the 2L input: the
// logits of noisy block j come from a forward pass over the clean blocks
// before it followed by block j itself, block-causally, at the ordinary
// positions 0, 1, 2, ... That is what the two halves with positions 0..L−1
// twice and the block-diffusion mask must amount to. On ModernBERT (sliding
// windows, measured in positions) and LLaDA (grouped-query attention).
func TestLossMatchesBlockwiseForward(t *testing.T) {
	t.Run("modernbert", func(t *testing.T) { testLossMatchesBlockwiseForward(t, newTestModel(t)) })
	t.Run("llada", func(t *testing.T) { testLossMatchesBlockwiseForward(t, newTestLLaDA(t)) })
	t.Run("lladamoe", func(t *testing.T) {
		cfg, err := lladamoe.Preset(lladamoe.LLaDAMoE, "tiny")
		require.NoError(t, err)
		ids := []int{testPad, testMask, testEOS}
		cfg.VocabSize, cfg.PadTokenID, cfg.MaskTokenID, cfg.EOSTokenID = testVocab, &ids[0], &ids[1], &ids[2]
		cfg.InitializerRange = 0.5
		require.NoError(t, cfg.Validate())
		m := lladamoe.New(cfg, tensor.CPU())
		m.Init(rand.New(rand.NewPCG(7, 8)))
		testLossMatchesBlockwiseForward(t, m)
	})
}

func testLossMatchesBlockwiseForward(t *testing.T, m lm.Model) {
	cases := []struct {
		name       string
		l, bs      int
		perBlock   bool
		promptLens []int
	}{
		{"blocks of 3, short last block", 10, 3, false, nil},
		{"blocks of 4 with prompts", 12, 4, false, []int{3, 0}},
		{"a time per block", 9, 2, true, nil},
	}
	be := tensor.CPU()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := randomBatch(rand.New(rand.NewPCG(1, uint64(c.l))), 2, c.l)
			b.PromptLens = c.promptLens
			o := bd3lm.NewObjective(bd3lm.Options{MDLM: mdlm.ObjectiveOptions{MaskID: testMask}, BlockSize: c.bs, PerBlock: c.perBlock})
			in, err := o.Prepare(b, false, rand.New(rand.NewPCG(5, 6)))
			require.NoError(t, err)
			require.NotNil(t, in)
			loss, err := o.Loss(nn.NoGrad(be), m, b, rand.New(rand.NewPCG(5, 6)), 0.5)
			require.NoError(t, err)

			want := 0.0
			for i, row := range in.Rows {
				r, s := int(row)/(2*c.l), int(row)%(2*c.l)
				require.Less(t, s, c.l, "a loss row in the clean half")
				noisy := in.IDs[r*2*c.l : r*2*c.l+c.l]
				j := s / c.bs
				end := min((j+1)*c.bs, c.l)
				seq := append(append([]int32(nil), b.InputIDs[r*c.l:r*c.l+j*c.bs]...), noisy[j*c.bs:end]...)
				n := len(seq)
				allow := make([]bool, n*n)
				for q := range n {
					for k := range n {
						allow[q*n+k] = k/c.bs <= q/c.bs
					}
				}
				out := m.Forward(nn.NoGrad(be), lm.Input{
					IDs:  be.FromHost(tensor.FromI32(seq, 1, n)),
					Mask: &lm.AttentionMask{Allow: allow, Rows: 1},
				})
				v := testVocab
				logits := out.Logits.Value.F32()[s*v : (s+1)*v]
				want += 0.5 * in.Weights[i] * mdlm.CrossEntropy(logits, in.Targets[i])
				require.Equal(t, in.Targets[i], b.InputIDs[r*c.l+s])
				require.Equal(t, int32(testMask), noisy[s])
			}
			got := float64(loss.Value.F32()[0])
			require.InDelta(t, want, got, 1e-4*math.Abs(want))
		})
	}
}

// With a time per block, every masked token of a block has its block's
// weight, and the blocks of a row differ.
func TestPerBlockTimes(t *testing.T) {
	b := randomBatch(rand.New(rand.NewPCG(2, 3)), 3, 32)
	o := bd3lm.NewObjective(bd3lm.Options{MDLM: mdlm.ObjectiveOptions{MaskID: testMask}, BlockSize: 8, PerBlock: true})
	in, err := o.Prepare(b, false, rand.New(rand.NewPCG(4, 4)))
	require.NoError(t, err)
	weights := map[[2]int]float64{}
	distinct := map[float64]bool{}
	for i, row := range in.Rows {
		r, s := int(row)/64, int(row)%64
		key := [2]int{r, s / 8}
		if w, ok := weights[key]; ok {
			require.Equal(t, w, in.Weights[i], "row %d block %d", r, s/8)
		}
		weights[key] = in.Weights[i]
		distinct[in.Weights[i]] = true
	}
	require.Greater(t, len(distinct), 3)
}

func TestPadToBlocks(t *testing.T) {
	const p, e, x = testPad, testEOS, data.IgnoreIndex
	cases := []struct {
		name       string
		ids        []int32
		wantIDs    []int32
		wantLabels []int32
	}{
		{"answer extended with EOS to its block's end", []int32{5, 6, 7, p, p, p, p, p}, []int32{5, 6, 7, e, p, p, p, p}, []int32{5, 6, 7, e, x, x, x, x}},
		{"a whole block is left alone, the padding after it unsupervised", []int32{5, 6, 7, e, p, p, p, p}, []int32{5, 6, 7, e, p, p, p, p}, []int32{5, 6, 7, e, x, x, x, x}},
		{"rows lengthened to whole blocks", []int32{5, 6, 7, 8, 9, p}, []int32{5, 6, 7, 8, 9, e, e, e}, []int32{5, 6, 7, 8, 9, e, e, e}},
		{"a full row is extended into the longer rows", []int32{5, 6, 7, 8, 9, 1}, []int32{5, 6, 7, 8, 9, 1, e, e}, []int32{5, 6, 7, 8, 9, 1, e, e}},
		{"the added length is unsupervised pad", []int32{5, 6, p, p, p, p}, []int32{5, 6, e, e, p, p, p, p}, []int32{5, 6, e, e, x, x, x, x}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := data.Batch{B: 1, S: len(c.ids), InputIDs: c.ids}
			got := bd3lm.PadToBlocks(b, 4, testEOS, testPad)
			require.Equal(t, c.wantIDs, got.InputIDs)
			require.Equal(t, c.wantLabels, got.Labels)
		})
	}
}

// The gradient of the loss with respect to the weights, through the masked
// attention of both halves, matches finite differences.
func TestLossGradient(t *testing.T) {
	m := newTestModel(t)
	b := randomBatch(rand.New(rand.NewPCG(8, 8)), 2, 7)
	o := bd3lm.NewObjective(bd3lm.Options{MDLM: mdlm.ObjectiveOptions{MaskID: testMask}, BlockSize: 3})
	var inputs []*nn.Var
	for _, p := range m.Params() {
		if p.Name == "model.layers.1.attn_norm.weight" || p.Name == "model.layers.0.mlp_norm.weight" {
			inputs = append(inputs, p.Var)
		}
	}
	require.Len(t, inputs, 2)
	require.NoError(t, nn.GradCheck(inputs, func(tp *nn.Tape) *nn.Var {
		loss, err := o.Loss(tp, m, b, rand.New(rand.NewPCG(1, 1)), 1)
		require.NoError(t, err)
		return loss
	}, 1e-2, 3e-2, 4))
}

// With one block as long as the rows, the noisy half sees exactly itself:
// BD3LM is MDLM (the same draws, the same loss), whatever the clean half.
func TestOneBlockIsMDLM(t *testing.T) {
	m := newTestModel(t)
	b := randomBatch(rand.New(rand.NewPCG(6, 6)), 3, 12)
	opts := mdlm.ObjectiveOptions{MaskID: testMask}
	tp := nn.NoGrad(tensor.CPU())
	want, err := mdlm.NewObjective(opts).Loss(tp, m, b, rand.New(rand.NewPCG(2, 2)), 1)
	require.NoError(t, err)
	got, err := bd3lm.NewObjective(bd3lm.Options{MDLM: opts, BlockSize: 12}).Loss(tp, m, b, rand.New(rand.NewPCG(2, 2)), 1)
	require.NoError(t, err)
	require.InDelta(t, want.Value.F32()[0], got.Value.F32()[0], 1e-5)
}
