package train

import (
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// PlotPanels draws panels side by side into a PNG of their size; a series
// that does not line up is an error.
func TestPlotPanels(t *testing.T) {
	path := filepath.Join(t.TempDir(), "fig.png")
	s := Series{Name: "a", X: []float64{0, 1, 2, 3}, Y: []float64{4, 3, 2.5, 2.2},
		Lo: []float64{3.5, 2.5, 2.2, 2}, Hi: []float64{4.5, 3.4, 2.9, 2.5}}
	u := Series{Name: "b", X: []float64{0, 1, 2, 3}, Y: []float64{5, 3.5, 3, 2.8}}
	require.NoError(t, PlotPanels(path, 4, 3, Panel{Title: "t", XLabel: "x", YLabel: "y", Series: []Series{s, u}},
		Panel{Title: "u", Series: []Series{s}}))
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	img, err := png.Decode(f)
	require.NoError(t, err)
	require.Equal(t, image.Pt(2*4*96, 3*96), img.Bounds().Size())

	s.Lo = s.Lo[:2]
	require.ErrorContains(t, PlotPanels(path, 4, 3, Panel{Series: []Series{s}}), `series "a"`)
}

// A band is its series' colour, translucent: as a premultiplied colour no
// channel exceeds the alpha (an RGBA built from the opaque channels and a
// low alpha is not a colour, and came out as stripes of other colours),
// and un-premultiplied it is the series' hue.
func TestBandColor(t *testing.T) {
	for _, c := range seriesColors {
		r, g, b, a := bandColor(c).RGBA()
		require.True(t, r <= a && g <= a && b <= a, "%v", c)
		require.Less(t, a, uint32(0xffff))
		n := color.NRGBAModel.Convert(bandColor(c)).(color.NRGBA)
		require.InDelta(t, float64(c.R), float64(n.R), 3)
		require.InDelta(t, float64(c.G), float64(n.G), 3)
		require.InDelta(t, float64(c.B), float64(n.B), 3)
	}
}
