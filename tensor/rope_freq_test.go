package tensor_test

import (
	"math"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dllmgo/dllm/tensor"
)

// exactInvFreq is the frequency table in float64 throughout, with the
// Llama-3 rescaling written as the formula reads (RoPELlama3's comment).
func exactInvFreq(p tensor.RoPEParams, d int) (inv []float64, band []string) {
	r := p.RotarySize(d)
	for k := range r / 2 {
		w := math.Pow(p.Theta, -2*float64(k)/float64(r))
		b := "none"
		if l := p.Llama3; l.Factor != 0 {
			L := float64(l.OriginalMaxPositions)
			wl := 2 * math.Pi / w
			switch {
			case wl > L/l.LowFreqFactor:
				w, b = w/l.Factor, "slowed"
			case wl < L/l.HighFreqFactor:
				b = "kept"
			default:
				s := (L/wl - l.LowFreqFactor) / (l.HighFreqFactor - l.LowFreqFactor)
				w, b = (1-s)*w/l.Factor+s*w, "blended"
			}
		}
		inv, band = append(inv, w), append(band, b)
	}
	return inv, band
}

// InvFreq's float32 steps stay within float32 rounding of the exact
// formula, for plain, partial and Llama-3 scaled frequencies.
func TestRoPEInvFreqMatchesTheFormula(t *testing.T) {
	llama31 := tensor.RoPELlama3{Factor: 8, LowFreqFactor: 1, HighFreqFactor: 4, OriginalMaxPositions: 8192}
	for _, c := range []struct {
		name string
		p    tensor.RoPEParams
		d    int
		want map[string]int // how many frequencies fall into each band
	}{
		{"default d = 64", tensor.RoPEParams{Theta: 10000}, 64, map[string]int{"none": 32}},
		{"partial 16 of 64 uses 16 as its size", tensor.RoPEParams{Theta: 10000, RotaryDim: 16}, 64, map[string]int{"none": 8}},
		{"Llama 3.1, d = 64, θ = 500000", tensor.RoPEParams{Theta: 500000, Llama3: llama31}, 64,
			map[string]int{"kept": 15, "blended": 3, "slowed": 14}},
		{"Llama 3.1, d = 128, θ = 500000", tensor.RoPEParams{Theta: 500000, Llama3: llama31}, 128,
			map[string]int{"kept": 29, "blended": 6, "slowed": 29}},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := c.p.InvFreq(c.d)
			want, band := exactInvFreq(c.p, c.d)
			require.Len(t, got, len(want))
			for k := range want {
				require.InDelta(t, want[k], float64(got[k]), 4e-7*want[k], "k = %d (%s)", k, band[k])
			}
			count := map[string]int{}
			for _, b := range band {
				count[b]++
			}
			require.Equal(t, c.want, count)
		})
	}
}

// The three bands on a table small enough to work out by hand: θ = 16,
// r = 4 give ω = 1 and 1/4, wavelengths 2π and 8π.
func TestRoPELlama3Bands(t *testing.T) {
	l := tensor.RoPELlama3{Factor: 4, LowFreqFactor: 1, HighFreqFactor: 2, OriginalMaxPositions: 25}
	p := tensor.RoPEParams{Theta: 16, RotaryDim: 4, Llama3: l}
	inv := p.InvFreq(4)
	// L = 25: 8π ≈ 25.13 > L/low = 25 is slowed; 2π < L/high = 12.5 is kept.
	require.InDelta(t, 0.25/4, float64(inv[1]), 1e-8)
	require.InDelta(t, 1, float64(inv[0]), 1e-8)
	// L = 50: 8π lies in [25, 50] and blends with s = (50/8π − 1)/(2 − 1).
	p.Llama3.OriginalMaxPositions = 50
	s := 50/(8*math.Pi) - 1
	require.InDelta(t, (1-s)*0.25/4+s*0.25, float64(p.InvFreq(4)[1]), 1e-7)
	require.InDelta(t, 1, float64(p.InvFreq(4)[0]), 1e-8)
}
