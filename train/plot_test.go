package train

import (
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"gonum.org/v1/plot"
)

// TestStepTicksAreWholeNumbers: loss.png's step axis is labelled 250, not
// 250.00, and a short run's axis has no labels at fractional steps.
func TestStepTicksAreWholeNumbers(t *testing.T) {
	for _, r := range [][2]float64{{0, 1000}, {1, 5}, {1, 2}, {0, 3}, {250, 1250}, {10, 60}, {1, 40000}} {
		labels := 0
		for _, tk := range (stepTicks{}).Ticks(r[0], r[1]) {
			if tk.Label == "" {
				continue
			}
			labels++
			v, err := strconv.Atoi(tk.Label)
			if assert.NoError(t, err, "range %v: label %q", r, tk.Label) {
				assert.Equal(t, tk.Value, float64(v), "range %v", r)
			}
		}
		assert.Positive(t, labels, "range %v has no labelled tick", r)
	}
	// What the default ticks write, for contrast: fractions where a step
	// cannot be.
	fractional := false
	for _, tk := range (plot.DefaultTicks{}).Ticks(1, 2) {
		if _, err := strconv.Atoi(tk.Label); tk.Label != "" && err != nil {
			fractional = true
		}
	}
	assert.True(t, fractional, "the default ticks label fractional steps")
}
