package tensor

import (
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
)

// The scalar kernels against the standard library's float64 functions.
func TestScalarMath(t *testing.T) {
	// worst returns the largest error relative to max(|want|, floor).
	worst := func(lo, hi, floor float64, n int, got, want func(float64) float64) (float64, float64) {
		w, at := 0.0, 0.0
		for i := range n {
			x := lo + (hi-lo)*float64(i)/float64(n-1)
			g, r := got(x), want(x)
			e := math.Abs(g-r) / math.Max(math.Abs(r), floor)
			if e > w {
				w, at = e, x
			}
		}
		return w, at
	}
	for _, c := range []struct {
		name      string
		lo, hi    float64
		floor     float64
		got, want func(float64) float64
		tol       float64
	}{
		{"expF64", -708, 709, 0, expF64, math.Exp, 1e-9},
	} {
		w, at := worst(c.lo, c.hi, c.floor, 200001, c.got, c.want)
		assert.Less(t, w, c.tol, "%s: relative error %g at %g", c.name, w, at)
	}
	assert.True(t, math.IsNaN(expF64(math.NaN())))
	assert.Equal(t, 0.0, expF64(math.Inf(-1)))
	assert.True(t, math.IsInf(expF64(math.Inf(1)), 1))
	assert.Equal(t, 0.0, expF64(-1000))
}
