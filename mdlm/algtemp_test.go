package mdlm

import (
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestRankForRevealAlgTemp checks Dream's alg_temp: the first position a
// step reveals is a draw from softmax(confidence/alg_temp), and the second
// is drawn from the rest (without replacement). With alg_temp 0 the ranking
// is plain confidence order.
func TestRankForRevealAlgTemp(t *testing.T) {
	pos := []int{3, 7, 9, 12}
	picks := []choice{{tok: 1, conf: 0.10}, {tok: 2, conf: 0.45}, {tok: 3, conf: 0.90}, {tok: 4, conf: 0.30}}
	const tau = 0.25
	z := 0.0
	for _, p := range picks {
		z += math.Exp(p.conf / tau)
	}
	rng := NewRand(42)
	const trials = 20000
	first := map[int]int{}
	secondGivenThird := map[int]int{} // second pick when position 9 came first
	nThird := 0
	for range trials {
		c := rankForReveal(pos, picks, tau, rng)
		require.Len(t, c, len(pos))
		first[c[0].pos]++
		if c[0].pos == 9 {
			nThird++
			secondGivenThird[c[1].pos]++
		}
	}
	for i, p := range pos {
		want := math.Exp(picks[i].conf/tau) / z
		got := float64(first[p]) / trials
		sigma := math.Sqrt(want * (1 - want) / trials) // binomial standard error
		assert.InDelta(t, want, got, 4*sigma, "first pick at %d", p)
	}
	// Without replacement: given 9 first, the second is softmax over the rest.
	zRest := z - math.Exp(picks[2].conf/tau)
	for i, p := range pos {
		if p == 9 {
			assert.Zero(t, secondGivenThird[p])
			continue
		}
		want := math.Exp(picks[i].conf/tau) / zRest
		got := float64(secondGivenThird[p]) / float64(nThird)
		sigma := math.Sqrt(want * (1 - want) / float64(nThird))
		assert.InDelta(t, want, got, 4*sigma, "second pick at %d", p)
	}
	// alg_temp 0: confidence order, no randomness drawn.
	c := rankForReveal(pos, picks, 0, nil)
	assert.Equal(t, []int{9, 7, 12, 3}, []int{c[0].pos, c[1].pos, c[2].pos, c[3].pos})
}

func TestAlgTempValidated(t *testing.T) {
	for _, v := range []float64{-0.1, math.NaN(), math.Inf(1)} {
		c := DefaultSamplerConfig(5, 6)
		c.AlgTemp = v
		_, err := c.withDefaults(10)
		assert.Error(t, err, "alg_temp %v", v)
	}
}
