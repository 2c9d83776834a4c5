package mdlm

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

// Dream's rankings: entropy ranks a peaked distribution above a flat one
// that has the same top probability; topk_margin is the gap between the two
// most probable tokens; both at the temperature's distribution.
func TestSpreadRankings(t *testing.T) {
	peaked := []float64{math.Log(0.5), math.Log(0.5), math.Log(1e-9)}
	flat := []float64{math.Log(0.5), math.Log(0.25), math.Log(0.25)}
	h := func(ps ...float64) float64 {
		s := 0.0
		for _, p := range ps {
			s += p * math.Log(p+1e-10)
		}
		return s
	}
	for _, tc := range []struct {
		name string
		l    []float64
		temp float64
		rank Remasking
		want float64
	}{
		{"entropy peaked", peaked, 0, EntropyRemasking, h(0.5, 0.5, 1e-9)},
		{"entropy flat", flat, 0, EntropyRemasking, h(0.5, 0.25, 0.25)},
		{"margin flat", flat, 0, MarginRemasking, 0.25},
		{"margin peaked", peaked, 0, MarginRemasking, 0},
		{"margin at T=0.5", flat, 0.5, MarginRemasking, (0.25 - 0.0625) / 0.375},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.InDelta(t, tc.want, spread(tc.l, tc.temp, tc.rank), 1e-7)
		})
	}
	require.Greater(t, spread(peaked, 0, EntropyRemasking), spread(flat, 0, EntropyRemasking))

	for name, want := range map[string]Remasking{"maskgit_plus": LowConfidence, "entropy": EntropyRemasking, "topk_margin": MarginRemasking} {
		got, err := ParseRemasking(name)
		require.NoError(t, err)
		require.Equal(t, want, got)
	}
	_, err := ParseRemasking("origin")
	require.Error(t, err)
}

// The block sampler runs with each ranking and is deterministic.
func TestGenerateWithDreamRankings(t *testing.T) {
	for _, rank := range []Remasking{EntropyRemasking, MarginRemasking} {
		m := &fakeModel{vocab: 8, fn: func(seq []int32, pos int) []float32 {
			out := make([]float32, 8)
			for v := range out {
				out[v] = float32((v*pos)%5) * 0.7
			}
			return out
		}}
		c := DefaultSamplerConfig(7, 6)
		c.MaxNewTokens, c.Steps, c.BlockSize, c.Remasking = 6, 3, 6, rank
		a, err := Generate(m, [][]int32{{1, 2}}, c, rand.New(rand.NewPCG(1, 2)))
		require.NoError(t, err)
		b, err := Generate(m, [][]int32{{1, 2}}, c, rand.New(rand.NewPCG(1, 2)))
		require.NoError(t, err)
		require.Equal(t, a, b)
		c.Threshold = 0.5
		_, err = Generate(m, [][]int32{{1, 2}}, c, rand.New(rand.NewPCG(1, 2)))
		require.ErrorContains(t, err, "threshold")
	}
}

// pickAll ranks by the chosen spread, with the argmax token either way.
func TestPickAllRanksBySpread(t *testing.T) {
	logits := []float64{0, 2, 1, 0.5, 3, 3.1}
	for _, rank := range []Remasking{EntropyRemasking, MarginRemasking} {
		got, err := pickAll(logits, 2, 3, 0, rank, nil)
		require.NoError(t, err)
		require.Equal(t, []choice{{1, spread(logits[:3], 0, rank)}, {2, spread(logits[3:], 0, rank)}}, got)
	}
}

// Top-k keeps the k largest (ties kept); top-p keeps the most probable
// tokens up to and including the first whose cumulative probability
// exceeds p; the confidence is then the probability among the kept.
func TestTruncation(t *testing.T) {
	inf := math.Inf(-1)
	l := []float64{math.Log(0.1), math.Log(0.5), math.Log(0.3), math.Log(0.1)}
	for _, tc := range []struct {
		name string
		tr   Truncation
		temp float64
		want []float64
	}{
		{"top-k 2", Truncation{TopK: 2}, 0, []float64{inf, l[1], l[2], inf}},
		{"top-k 3 keeps ties", Truncation{TopK: 3}, 0, l},
		{"top-p 0.45 keeps the first", Truncation{TopP: 0.45}, 0, []float64{inf, l[1], inf, inf}},
		{"top-p 0.7 keeps two", Truncation{TopP: 0.7}, 0, []float64{inf, l[1], l[2], inf}},
		{"top-p 0.85 drops the last tie", Truncation{TopP: 0.85}, 0, []float64{l[0], l[1], l[2], inf}},
		{"top-p 0.5 at T=2 keeps two", Truncation{TopP: 0.5}, 2, []float64{inf, l[1], l[2], inf}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, tc.tr.apply(l, tc.temp))
		})
	}
	got, err := pickAll(l, 1, 4, 0, LowConfidence, nil, Truncation{TopK: 2})
	require.NoError(t, err)
	require.InDelta(t, 0.5/0.8, got[0].conf, 1e-12)
	require.Equal(t, int32(1), got[0].tok)
}
