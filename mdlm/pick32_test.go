package mdlm

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

// pickArgmax on float32 rows picks pick's token on their float64 widening
// (ties to the lowest id, suppressed tokens, rows of the vocabulary's size)
// with a confidence within 1e-9 relative; and it fails as pick does.
func TestPickArgmaxMatchesPick(t *testing.T) {
	rng := rand.New(rand.NewPCG(41, 42))
	for _, vocab := range []int{1, 2, 7, 97, 50368} {
		for trial := range 5 {
			l := make([]float32, vocab)
			for i := range l {
				l[i] = float32(rng.NormFloat64() * 3)
			}
			if vocab > 2 && trial%2 == 1 {
				// A tie for the top, and a suppressed token.
				top := slicesMax(l)
				l[vocab-1], l[vocab/2] = top, top
				l[0] = float32(math.Inf(-1))
			}
			w := make([]float64, vocab)
			for i, x := range l {
				w[i] = float64(x)
			}
			wantTok, wantConf, err := pick(w, 0, nil)
			require.NoError(t, err)
			tok, conf, err := pickArgmax(l)
			require.NoError(t, err)
			require.Equal(t, wantTok, tok, "vocab %d trial %d", vocab, trial)
			require.InDelta(t, wantConf, conf, 1e-9*wantConf)
		}
	}
	inf, nan := float32(math.Inf(1)), float32(math.NaN())
	for _, l := range [][]float32{{1, nan, 2}, {float32(math.Inf(-1)), float32(math.Inf(-1))}, {1, inf}} {
		w := []float64{float64(l[0]), float64(l[1])}
		if len(l) > 2 {
			w = append(w, float64(l[2]))
		}
		_, _, want := pick(w, 0, nil)
		_, _, got := pickArgmax(l)
		require.Error(t, got)
		require.Equal(t, want.Error(), got.Error())
	}
}

func slicesMax(l []float32) float32 {
	m := l[0]
	for _, x := range l {
		m = max(m, x)
	}
	return m
}

// pickRows takes the float32 path only where it picks the same tokens: at
// temperature 0 its choices equal pickAll's on the widened rows (confidence
// within 1e-9); with a temperature, truncation or the entropy ranking they
// are pickAll's exactly, since those run in float64.
func TestPickRowsFloat32(t *testing.T) {
	rng := rand.New(rand.NewPCG(43, 44))
	const n, vocab = 9, 301
	l32 := make([]float32, n*vocab)
	l64 := make([]float64, n*vocab)
	for i := range l32 {
		l32[i] = float32(rng.NormFloat64() * 2)
		l64[i] = float64(l32[i])
	}
	seeds := make([][2]uint64, n)
	for i := range seeds {
		seeds[i] = [2]uint64{rng.Uint64(), rng.Uint64()}
	}
	rows := logitRows{vocab: vocab, f32: l32}
	for _, c := range []struct {
		temp  float64
		rank  Remasking
		trunc []Truncation
		exact bool
	}{
		{0, LowConfidence, nil, false},
		{0, RandomRemasking, nil, true},
		{0.7, LowConfidence, nil, true},
		{0, EntropyRemasking, nil, true},
		{0, LowConfidence, []Truncation{{TopK: 5}}, true},
	} {
		want, err := pickAll(l64, n, vocab, c.temp, c.rank, seeds, c.trunc...)
		require.NoError(t, err)
		got, err := pickRows(rows, n, c.temp, c.rank, seeds, c.trunc...)
		require.NoError(t, err)
		for i := range want {
			require.Equal(t, want[i].tok, got[i].tok)
			if c.exact {
				require.Equal(t, want[i].conf, got[i].conf)
			} else {
				require.InDelta(t, want[i].conf, got[i].conf, 1e-9*want[i].conf)
			}
		}
	}
}
