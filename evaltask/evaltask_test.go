package evaltask

import (
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dllmgo/dllm/mdlm"
)

func TestExtractNumber(t *testing.T) {
	for _, c := range []struct {
		text, want string
		ok         bool
	}{
		{"She has 3 apples and buys 5 more. #### 8", "8", true},
		{"#### 1,234", "1234", true},
		{"The total is $1,234.50.", "1234.50", true},
		{"So the answer is 72.", "72", true},
		{"It drops to -15 degrees.", "-15", true},
		{"#### -3.5", "-3.5", true},
		{"He pays $18 a day, so 7 days cost $126.", "126", true},
		{"#### 42\nthen rambles about 7 more", "42", true}, // after ####, not the last number
		{"first #### 3 then #### 5", "5", true},            // the last ####
		{"#### no number here, but 9 later", "9", true},    // "####" without a number: the last number
		{"1,000,000 people", "1000000", true},
		{"lists 1,2,3", "3", true}, // not a thousands group
		{"no digits at all.", "", false},
		{"−7 with a unicode minus", "-7", true},
	} {
		got, ok := ExtractNumber(c.text)
		require.Equal(t, c.ok, ok, c.text)
		require.Equal(t, c.want, got, c.text)
	}
}

func TestSameNumber(t *testing.T) {
	require.True(t, SameNumber("72", "72.00"))
	require.True(t, SameNumber("-0.5", "-.5"))
	require.False(t, SameNumber("72", "720"))
	require.False(t, SameNumber("-3", "3"))
}

func TestMean(t *testing.T) {
	s := Mean([]float64{1, 0, 1, 1})
	require.Equal(t, 4, s.N)
	require.InDelta(t, 0.75, s.Value, 1e-12)
	require.InDelta(t, 0.25, s.StdErr, 1e-12) // s² = 0.25, /4, √
	require.Equal(t, Score{Value: 1, N: 1}, Mean([]float64{1}))
}

// twoTokenDenoiser is a model of two-token continuations after a one-token
// prompt, the four chain-rule factors of which are known exactly:
//
//	option A = "New York" (ids 1, 2): each half alone is unlikely,
//	  −log p = 2.0, but each is near certain given the other, −log p = 0.1;
//	option B = ids 3, 4: independent, −log p = 1.1 each with or without
//	  the other.
//
// Both orders of the chain rule agree (A: 2.0 + 0.1, B: 1.1 + 1.1), so the
// model is a consistent joint with log p(A) = −2.1 > log p(B) = −2.2: A
// is the right pick. For L = 2 the ELBO with uniform k ∈ {1, 2} is
// ½[(L/1)·CE(k=1) + (L/2)·CE(k=2)] = ½[2·0.1 + 4.0] = 2.1 for A and
// ½[2·1.1 + 2.2] = 2.2 for B: exactly −log p, the right pick. Without the
// L/k weight it is ½[0.1 + 4.0] = 2.05 for A and ½[1.1 + 2.2] = 1.65 for
// B: B, the wrong pick.
type twoTokenDenoiser struct{}

const (
	tdVocab = 6
	tdMask  = 5
)

func (twoTokenDenoiser) VocabSize() int { return tdVocab }

func (twoTokenDenoiser) Logits(ids []int32, batch, seqLen int, _, rows []int32) ([]float32, error) {
	out := make([]float32, 0, len(rows)*tdVocab)
	for _, flat := range rows {
		r, s := int(flat)/seqLen, int(flat)%seqLen
		other := ids[r*seqLen+3-s] // positions 1 and 2 are the continuation
		p := map[int]float64{}
		switch {
		case other == tdMask && s == 1:
			p[1], p[3] = math.Exp(-2), math.Exp(-1.1)
		case other == tdMask && s == 2:
			p[2], p[4] = math.Exp(-2), math.Exp(-1.1)
		case other == 2:
			p[1] = math.Exp(-0.1)
		case other == 1:
			p[2] = math.Exp(-0.1)
		case other == 4:
			p[3] = math.Exp(-1.1)
		case other == 3:
			p[4] = math.Exp(-1.1)
		}
		rest := 1.0
		for _, v := range p {
			rest -= v
		}
		for id := range tdVocab {
			v, ok := p[id]
			if !ok {
				v = rest / float64(tdVocab-len(p))
			}
			out = append(out, float32(math.Log(v)))
		}
	}
	return out, nil
}

// The choice scorer picks the more likely option by the weighted ELBO, and
// the same scorer with the 1/t weight dropped picks the other one: a
// scorer that lost its weight fails this test.
func TestChoiceNeedsTheELBOWeight(t *testing.T) {
	item := choiceIDs{contexts: [][]int32{{0}, {0}}, conts: [][]int32{{1, 2}, {3, 4}}, texts: []string{"New York", "ab cd"}, answer: 0}
	// Two samples per batch: one with k = 1 and one with k = 2, so the
	// estimate is exact (either single mask costs the same).
	e := Env{MCSamples: 8, BatchSize: 2}
	scores, err := ScoreOptions(twoTokenDenoiser{}, item.contexts, item.conts,
		mdlm.LikelihoodOptions{Samples: 8, BatchSize: 2, MaskID: tdMask}, 0, 0)
	require.NoError(t, err)
	require.InDelta(t, -2.1, scores[0], 1e-5)
	require.InDelta(t, -2.2, scores[1], 1e-5)
	res, err := e.choose(twoTokenDenoiser{}, tdMask, []choiceIDs{item})
	require.NoError(t, err)
	acc, _ := res.Metric("accuracy")
	require.Equal(t, 1.0, acc.Value, "the ELBO picks the likelier option")

	e.Likelihood.Weighting = mdlm.WeightUniform
	scores, err = ScoreOptions(twoTokenDenoiser{}, item.contexts, item.conts,
		mdlm.LikelihoodOptions{Samples: 8, BatchSize: 2, MaskID: tdMask, Weighting: mdlm.WeightUniform}, 0, 0)
	require.NoError(t, err)
	require.InDelta(t, -2.05, scores[0], 1e-5)
	require.InDelta(t, -1.65, scores[1], 1e-5)
	res, err = e.choose(twoTokenDenoiser{}, tdMask, []choiceIDs{item})
	require.NoError(t, err)
	acc, _ = res.Metric("accuracy")
	require.Equal(t, 0.0, acc.Value, "without 1/t the scorer picks the wrong option")
}

func TestLoaders(t *testing.T) {
	lam, err := LoadLambada(filepath.Join("testdata", "lambada.jsonl"))
	require.NoError(t, err)
	require.NotEmpty(t, lam)
	require.Equal(t, "lantern", lam[0].Target)
	require.NotContains(t, lam[0].Context, "lantern")
	g, err := LoadGSM8K(filepath.Join("testdata", "gsm8k.jsonl"))
	require.NoError(t, err)
	require.NotEmpty(t, g)
	require.Equal(t, "1250", g[1].Answer)
	ch, err := LoadChoice(filepath.Join("testdata", "choice.jsonl"))
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(ch), 3)
	for _, it := range ch {
		require.Len(t, it.Contexts, len(it.Continuations))
		require.Less(t, it.Answer, len(it.Continuations))
	}

	dir := t.TempDir()
	for _, c := range []struct {
		load func(string) error
		line string
		want string
	}{
		{func(p string) error { _, err := LoadGSM8K(p); return err }, `{"question": "q", "answer": "no final"}`, `"answer" has no "#### N"`},
		{func(p string) error { _, err := LoadGSM8K(p); return err }, `{"question": "q"`, "not a JSON object"},
		{func(p string) error { _, err := LoadLambada(p); return err }, `{"text": "oneword"}`, "no word before its last one"},
		{func(p string) error { _, err := LoadChoice(p); return err }, `{"context": "c", "choices": ["a", "b"], "answer": 2}`, "index 2 outside the 2 options"},
		{func(p string) error { _, err := LoadChoice(p); return err }, `{"context": "c", "choices": ["a", "b"], "answer": "C"}`, "letter A..B"},
		{func(p string) error { _, err := LoadChoice(p); return err }, `{"context": "c", "choices": ["a"], "answer": 0}`, "at least 2"},
	} {
		p := filepath.Join(dir, "bad.jsonl")
		require.NoError(t, os.WriteFile(p, []byte("\n"+c.line+"\n"), 0o644))
		err := c.load(p)
		require.Error(t, err)
		require.Contains(t, err.Error(), c.want)
		require.Contains(t, err.Error(), "bad.jsonl:2")
	}
}

func TestFirstWord(t *testing.T) {
	require.Equal(t, "lantern", FirstWord("  lantern. And then"))
	require.Equal(t, "don't", FirstWord("\"don't\" he said"))
	require.Equal(t, "", FirstWord("  "))
}
