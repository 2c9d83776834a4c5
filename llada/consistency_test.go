package llada

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dllmgo/dllm/chattemplate"
	"github.com/dllmgo/dllm/data"
	"github.com/dllmgo/dllm/lm"
	"github.com/dllmgo/dllm/nn"
	"github.com/dllmgo/dllm/tensor"
)

// gqaConfig is a second configuration, unlike the fixture's in everything
// the spec allows: 4 query heads on 2 key/value heads, the head tied to
// wte, embeddings wider than the vocabulary, a q/k/v bias, scaled
// embeddings and logits, another rope_theta and eps.
func gqaConfig() Config {
	c := released(32, 4, 2, 2, 48, 64)
	c.VocabSize, c.EmbeddingSize = 37, ptr(40)
	c.WeightTying, c.IncludeQKVBias, c.InputEmbNorm, c.ScaleLogits = true, true, true, true
	c.RopeTheta, c.RMSNormEps = 10000, 1e-6
	c.MaskTokenID, c.EOSTokenID, c.PadTokenID = 36, 35, 35
	return c
}

// randomModel is a model of c with random weights: projections N(0, 0.3²),
// norm weights around one.
func randomModel(t *testing.T, c Config, seed uint64) *Model {
	t.Helper()
	require.NoError(t, c.Validate())
	m := New(c, tensor.CPU())
	rng := rand.New(rand.NewPCG(seed, 1))
	for _, p := range m.Params() {
		v := p.Value.F32()
		for i := range v {
			v[i] = float32(rng.NormFloat64() * 0.3)
			if strings.HasSuffix(p.Name, "norm.weight") || strings.HasSuffix(p.Name, "ln_f.weight") {
				v[i] += 1
			}
		}
	}
	return m
}

// paddedBatch is rows of the given lengths right-padded with pad to the
// longest, with random ids below vocab, and its key mask.
func paddedBatch(rng *rand.Rand, lengths []int, seq, vocab int, pad int32) (ids, mask []int32) {
	for _, l := range lengths {
		for s := range seq {
			if s < l {
				ids, mask = append(ids, int32(rng.IntN(vocab))), append(mask, 1)
			} else {
				ids, mask = append(ids, pad), append(mask, 0)
			}
		}
	}
	return ids, mask
}

func allRows(n int) []int32 {
	r := make([]int32, n)
	for i := range r {
		r[i] = int32(i)
	}
	return r
}

// realRows keeps the rows (of width w) where mask is 1.
func realRows(v []float32, w int, mask []int32) []float32 {
	var out []float32
	for i, k := range mask {
		if k == 1 {
			out = append(out, v[i*w:(i+1)*w]...)
		}
	}
	return out
}

func maxRel(got, want []float32) float64 {
	var e, a float64
	for i := range want {
		e = math.Max(e, math.Abs(float64(got[i]-want[i])))
		a = math.Max(a, math.Abs(float64(want[i])))
	}
	return e / a
}

// TestGQAEqualsRepeatedHeads: grouped-query attention is multi-head
// attention whose key/value heads are repeated, query head j using key
// head ⌊j·nkv/nh⌋. The GQA model and an MHA model with k_proj and v_proj
// rows (and biases) copied so give the same logits on a padded batch.
func TestGQAEqualsRepeatedHeads(t *testing.T) {
	gc := gqaConfig()
	g := randomModel(t, gc, 1)
	mc := gc
	mc.NKVHeads = ptr(gc.NHeads)
	m := New(mc, tensor.CPU())
	d, nh, nkv := gc.HeadDim(), gc.NHeads, gc.KVHeads()
	src := map[string]*nn.Param{}
	for _, p := range g.Params() {
		src[p.Name] = p
	}
	for _, p := range m.Params() {
		from := src[p.Name].Value.F32()
		to := p.Value.F32()
		if !strings.Contains(p.Name, "k_proj") && !strings.Contains(p.Name, "v_proj") {
			copy(to, from)
			continue
		}
		row := len(to) / (nh * d) // D for a weight, 1 for a bias
		for j := range nh {
			kv := j * nkv / nh
			copy(to[j*d*row:(j+1)*d*row], from[kv*d*row:(kv+1)*d*row])
		}
	}
	rng := rand.New(rand.NewPCG(2, 3))
	ids, mask := paddedBatch(rng, []int{9, 5, 2}, 9, gc.VocabSize, int32(gc.PadTokenID))
	want, err := m.Logits(ids, 3, 9, mask, allRows(len(ids)))
	require.NoError(t, err)
	got, err := g.Logits(ids, 3, 9, mask, allRows(len(ids)))
	require.NoError(t, err)
	require.Less(t, maxRel(realRows(got, 40, mask), realRows(want, 40, mask)), 1e-5)
}

// TestPaddingIsInvisible: a row's real positions give the same logits in a
// batch of right-padded rows as alone, unpadded (positions start at 0 in
// every row, padded keys are hidden).
func TestPaddingIsInvisible(t *testing.T) {
	m := randomModel(t, gqaConfig(), 4)
	rng := rand.New(rand.NewPCG(5, 6))
	lengths := []int{7, 4, 1}
	ids, mask := paddedBatch(rng, lengths, 7, m.Config.VocabSize, int32(m.Config.PadTokenID))
	batch, err := m.Logits(ids, 3, 7, mask, allRows(len(ids)))
	require.NoError(t, err)
	v := m.VocabSize()
	for b, l := range lengths {
		alone, err := m.Logits(ids[b*7:b*7+l], 1, l, nil, allRows(l))
		require.NoError(t, err)
		require.Less(t, maxRel(batch[b*7*v:(b*7+l)*v], alone), 1e-5, "row %d", b)
	}

	// Left padding: positions stay 0..S−1, so a row's real tokens sit at
	// later positions than alone; rotary scores depend on differences only,
	// so the logits agree to rounding.
	var left, leftMask []int32
	for b, l := range lengths {
		row := ids[b*7 : b*7+l]
		for range 7 - l {
			left, leftMask = append(left, int32(m.Config.PadTokenID)), append(leftMask, 0)
		}
		left, leftMask = append(left, row...), append(leftMask, make([]int32, l)...)
		for i := range l {
			leftMask[len(leftMask)-l+i] = 1
		}
	}
	lb, err := m.Logits(left, 3, 7, leftMask, allRows(len(left)))
	require.NoError(t, err)
	for b, l := range lengths {
		alone, err := m.Logits(ids[b*7:b*7+l], 1, l, nil, allRows(l))
		require.NoError(t, err)
		require.Less(t, maxRel(lb[(b*7+7-l)*v:(b+1)*7*v], alone), 1e-4, "left-padded row %d", b)
	}
}

// TestTiedScaledHead: with weight_tying the logits are ln_f's output times
// wteᵀ, with scale_logits divided by √d_model; all embedding_size of them.
func TestTiedScaledHead(t *testing.T) {
	m := randomModel(t, gqaConfig(), 7)
	require.Nil(t, m.Head)
	rng := rand.New(rand.NewPCG(8, 9))
	ids, _ := paddedBatch(rng, []int{5, 5}, 5, m.Config.VocabSize, 0)
	out := m.Forward(nn.NoGrad(tensor.CPU()), lm.Input{IDs: tensor.FromI32(ids, 2, 5)})
	h, wte := out.Hidden.Value.F32(), m.Embed.Weight.Value.F32()
	d, e := m.Config.DModel, m.VocabSize()
	require.Equal(t, []int{10, e}, out.Logits.Shape())
	want := make([]float32, 10*e)
	for r := range 10 {
		for v := range e {
			s := 0.0
			for k := range d {
				s += float64(h[r*d+k]) * float64(wte[v*d+k])
			}
			want[r*e+v] = float32(s / math.Sqrt(float64(d)))
		}
	}
	require.Less(t, maxRel(out.Logits.Value.F32(), want), 1e-5)
}

// TestInputEmbNorm: input_emb_norm multiplies the embeddings by √d_model,
// which is the model without it whose wte is scaled so (untied head).
func TestInputEmbNorm(t *testing.T) {
	c := gqaConfig()
	c.WeightTying = false
	a := randomModel(t, c, 10)
	c.InputEmbNorm = false
	b := randomModel(t, c, 10)
	scale := float32(math.Sqrt(float64(c.DModel)))
	for i, v := range a.Embed.Weight.Value.F32() {
		b.Embed.Weight.Value.F32()[i] = v * scale
	}
	ids := []int32{3, 1, 4, 1, 5, 9, 2, 6}
	la, err := a.Logits(ids, 1, 8, nil, allRows(8))
	require.NoError(t, err)
	lb, err := b.Logits(ids, 1, 8, nil, allRows(8))
	require.NoError(t, err)
	require.Less(t, maxRel(la, lb), 1e-5)
}

// TestGradients checks every parameter's gradient of a small GQA model
// with a tied head (which gets both the embedding's and the head's part)
// and biases against finite differences, on a padded batch.
func TestGradients(t *testing.T) {
	c := released(8, 2, 1, 1, 6, 16)
	c.VocabSize, c.EmbeddingSize, c.WeightTying, c.IncludeQKVBias = 11, ptr(12), true, true
	c.MaskTokenID, c.EOSTokenID, c.PadTokenID = 10, 9, 9
	m := randomModel(t, c, 11)
	rng := rand.New(rand.NewPCG(12, 13))
	ids, mask := paddedBatch(rng, []int{4, 3}, 4, c.VocabSize, 9)
	var inputs []*nn.Var
	for _, p := range m.Params() {
		inputs = append(inputs, p.Var)
	}
	require.NoError(t, nn.GradCheck(inputs, func(tp *nn.Tape) *nn.Var {
		return m.Forward(tp, lm.Input{IDs: tensor.FromI32(ids, 2, 4), KeyMask: tensor.FromI32(mask, 2, 4)}).Logits
	}, 1e-2, 2e-2, 14))
}

// TestSaveLoad: a saved model loads back with the same config and weights,
// bit for bit in F32 and rounded to bfloat16 with SaveBF16.
func TestSaveLoad(t *testing.T) {
	m := randomModel(t, gqaConfig(), 15)
	for _, bf16 := range []bool{false, true} {
		dir := filepath.Join(t.TempDir(), "m")
		m.SaveBF16 = bf16
		require.NoError(t, m.Save(dir))
		back, err := Load(dir, tensor.CPU())
		require.NoError(t, err)
		require.JSONEq(t, `"llada"`, string(back.Config.Extra["model_type"]))
		back.Config.Extra = nil // model_type, architectures, auto_map: written by MarshalJSON
		require.Equal(t, m.Config, back.Config)
		for i, p := range m.Params() {
			q := back.Params()[i]
			require.Equal(t, p.Name, q.Name)
			want := p.Value.F32()
			if bf16 {
				for j, x := range want {
					require.InDelta(t, x, q.Value.F32()[j], math.Abs(float64(x))/128+1e-30, "%s[%d]", p.Name, j)
				}
			} else {
				require.Equal(t, want, q.Value.F32(), p.Name)
			}
		}
	}
}

// TestBlockCacheFirstStep: the block cache's first step (BeginBlock) gives
// the logits Logits gives, and a cached step on unchanged ids gives them
// again (nothing outside the blocks changed, so the cache is exact).
func TestBlockCacheFirstStep(t *testing.T) {
	m := randomModel(t, gqaConfig(), 16)
	rng := rand.New(rand.NewPCG(17, 18))
	ids, mask := paddedBatch(rng, []int{10, 8}, 10, m.Config.VocabSize, int32(m.Config.PadTokenID))
	starts, width := []int{4, 2}, 3
	var rows []int32
	for b, s := range starts {
		for k := range width {
			rows = append(rows, int32(b*10+s+k))
		}
	}
	want, err := m.Logits(ids, 2, 10, mask, rows)
	require.NoError(t, err)
	cache, first, err := m.BeginBlock(ids, 2, 10, mask, starts, width, rows)
	require.NoError(t, err)
	defer cache.Release()
	require.Less(t, maxRel(first, want), 1e-6)
	step, err := cache.Logits(ids, rows)
	require.NoError(t, err)
	require.Less(t, maxRel(step, want), 1e-5)
}

// TestFreshAndInit: a preset sized to a tokenizer takes its vocabulary
// (embeddings rounded up to a multiple of 8), its length and its special
// ids; Init draws the projections at init_std (the residual outputs
// smaller) and sets the norms to one.
func TestFreshAndInit(t *testing.T) {
	mdl, err := Family.New("tiny", lm.Fresh{VocabSize: 301, MaxPositions: 700,
		Specials: &lm.Specials{Pad: lm.NoToken, Mask: 300, EOS: 2, BOS: 1, Unk: lm.NoToken, CLS: lm.NoToken, SEP: lm.NoToken}}, tensor.CPU())
	require.NoError(t, err)
	m := mdl.(*Model)
	require.Equal(t, 301, m.Config.VocabSize)
	require.Equal(t, 304, m.VocabSize())
	require.Equal(t, 700, m.Spec().MaxPositions)
	require.Equal(t, lm.Spec{Family: "llada", ModelType: "llada", MaxPositions: 700, MaskID: 300, PadID: 2, BOSID: lm.NoToken, EOSID: 2}, m.Spec())
	require.False(t, m.Spec().ShiftLogits)

	m.Init(rand.New(rand.NewPCG(40, 41)))
	std := func(v []float32) float64 {
		s := 0.0
		for _, x := range v {
			s += float64(x) * float64(x)
		}
		return math.Sqrt(s / float64(len(v)))
	}
	blk := m.Blocks[0]
	require.InDelta(t, 0.02, std(blk.Q.W.Value.F32()), 0.002)
	require.InDelta(t, 0.02, std(m.Embed.Weight.Value.F32()), 0.002)
	require.InDelta(t, 0.02/math.Sqrt(2*float64(m.Config.NLayers)), std(blk.Down.W.Value.F32()), 0.002)
	for _, v := range [][]float32{blk.AttnNorm.Params()[0].Value.F32(), m.Final.Weight.Value.F32()} {
		for _, x := range v {
			require.Equal(t, float32(1), x)
		}
	}
}

// TestChatTemplate renders LLaDA-8B-Instruct's own chat template (its
// tokenizer_config.json's chat_template and special tokens, copied into
// testdata) as the folder's template is rendered (package chattemplate):
// Llama 3's format, the BOS once, content trimmed, and the generation prompt
// closing every rendering, asked for or not, as the released text does.
func TestChatTemplate(t *testing.T) {
	js, err := os.ReadFile(filepath.Join("testdata", "instruct_tokenizer_config.json"))
	require.NoError(t, err)
	var tc struct {
		ChatTemplate string `json:"chat_template"`
		BOS          string `json:"bos_token"`
	}
	require.NoError(t, json.Unmarshal(js, &tc))
	require.Equal(t, "<|startoftext|>", tc.BOS)
	chat, err := chattemplate.Parse(tc.ChatTemplate, map[string]any{"bos_token": tc.BOS})
	require.NoError(t, err)
	got, err := chat.Render([]data.Message{
		{Role: data.RoleSystem, Content: "Be brief. "},
		{Role: data.RoleUser, Content: " Hi?"},
		{Role: data.RoleAssistant, Content: "Hello."},
		{Role: data.RoleUser, Content: "Bye"},
	}, true)
	require.NoError(t, err)
	require.Equal(t, "<|startoftext|><|start_header_id|>system<|end_header_id|>\n\nBe brief.<|eot_id|>"+
		"<|start_header_id|>user<|end_header_id|>\n\nHi?<|eot_id|>"+
		"<|start_header_id|>assistant<|end_header_id|>\n\nHello.<|eot_id|>"+
		"<|start_header_id|>user<|end_header_id|>\n\nBye<|eot_id|>"+
		"<|start_header_id|>assistant<|end_header_id|>\n\n", got)
	again, err := chat.Render([]data.Message{{Role: data.RoleUser, Content: "Bye"}}, false)
	require.NoError(t, err)
	require.Equal(t, "<|startoftext|><|start_header_id|>user<|end_header_id|>\n\nBye<|eot_id|>"+
		"<|start_header_id|>assistant<|end_header_id|>\n\n", again, "the released template always ends so")
	require.Equal(t, "<|eot_id|>", chat.EndOfTurn())
}
