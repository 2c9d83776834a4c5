package train

import (
	"bytes"
	"errors"
	"fmt"
	"image/color"
	"io"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"

	"github.com/dllmgo/dllm/internal/atomicfile"
)

// Series is one curve of PlotSeries: Y against X, and optionally a band
// from Lo to Hi around it (the spread over seeds, say). Lo and Hi are
// either both empty or as long as X.
type Series struct {
	Name      string
	X, Y      []float64
	Lo, Hi    []float64
	NoMarkers bool
}

// Panel is one plot of a figure: its title, axis labels and curves.
type Panel struct {
	Title, XLabel, YLabel string
	Series                []Series
}

// seriesColors are told apart in print and by most colour-blind readers
// (Okabe and Ito's palette).
var seriesColors = []color.RGBA{
	{0, 114, 178, 255}, {213, 94, 0, 255}, {0, 158, 115, 255}, {204, 121, 167, 255},
	{230, 159, 0, 255}, {86, 180, 233, 255}, {0, 0, 0, 255}, {240, 228, 66, 255},
}

// bandColor is c at a quarter opacity. color.RGBA is premultiplied by its
// alpha, so the translucent colour must be an NRGBA.
func bandColor(c color.RGBA) color.Color { return color.NRGBA{c.R, c.G, c.B, 60} }

func (s Series) check() error {
	switch {
	case len(s.X) != len(s.Y):
		return fmt.Errorf("series %q: %d x values, %d y values", s.Name, len(s.X), len(s.Y))
	case len(s.Lo) != len(s.Hi) || (len(s.Lo) != 0 && len(s.Lo) != len(s.X)):
		return fmt.Errorf("series %q: a band of %d/%d values for %d points", s.Name, len(s.Lo), len(s.Hi), len(s.X))
	}
	return nil
}

// draw makes one panel's plot: every series as a line (with markers unless
// NoMarkers), its band as a translucent polygon of the same colour.
func (p Panel) draw() (*plot.Plot, error) {
	pl := plot.New()
	pl.Title.Text = p.Title
	pl.X.Label.Text = p.XLabel
	pl.Y.Label.Text = p.YLabel
	pl.Add(plotter.NewGrid())
	for i, s := range p.Series {
		if err := s.check(); err != nil {
			return nil, err
		}
		if len(s.X) == 0 {
			continue
		}
		c := seriesColors[i%len(seriesColors)]
		if len(s.Lo) > 0 {
			band := make(plotter.XYs, 0, 2*len(s.X))
			for k := range s.X {
				band = append(band, plotter.XY{X: s.X[k], Y: s.Hi[k]})
			}
			for k := len(s.X) - 1; k >= 0; k-- {
				band = append(band, plotter.XY{X: s.X[k], Y: s.Lo[k]})
			}
			poly, err := plotter.NewPolygon(band)
			if err != nil {
				return nil, err
			}
			poly.Color = bandColor(c)
			poly.LineStyle.Width = 0
			pl.Add(poly)
		}
		xy := make(plotter.XYs, len(s.X))
		for k := range s.X {
			xy[k] = plotter.XY{X: s.X[k], Y: s.Y[k]}
		}
		line, pts, err := plotter.NewLinePoints(xy)
		if err != nil {
			return nil, err
		}
		line.Color, line.Width = c, vg.Points(1.5)
		pl.Add(line)
		if !s.NoMarkers {
			pts.Color = c
			pl.Add(pts)
		}
		pl.Legend.Add(s.Name, line)
	}
	pl.Legend.Top = true
	return pl, nil
}

// PlotPanels draws panels side by side into one PNG at path (atomically),
// each panel width by height inches.
func PlotPanels(path string, width, height float64, panels ...Panel) error {
	if len(panels) == 0 {
		return errors.New("plot: no panels")
	}
	plots := make([][]*plot.Plot, 1)
	for _, p := range panels {
		pl, err := p.draw()
		if err != nil {
			return err
		}
		plots[0] = append(plots[0], pl)
	}
	png, err := tilePNG(plots, vg.Length(width)*vg.Inch, vg.Length(height)*vg.Inch)
	if err != nil {
		return err
	}
	return atomicfile.Write(path, 0o644, func(w io.Writer) error {
		_, err := w.Write(png)
		return err
	})
}

// tilePNG renders a grid of plots of one size each into PNG bytes, their
// axes aligned (plot.Align).
func tilePNG(plots [][]*plot.Plot, w, h vg.Length) ([]byte, error) {
	rows, cols := len(plots), len(plots[0])
	img := vgimg.New(vg.Length(cols)*w, vg.Length(rows)*h)
	dc := draw.New(img)
	tiles := draw.Tiles{Rows: rows, Cols: cols, PadX: vg.Millimeter * 4, PadY: vg.Millimeter * 4,
		PadTop: vg.Millimeter * 2, PadBottom: vg.Millimeter * 2, PadLeft: vg.Millimeter * 2, PadRight: vg.Millimeter * 2}
	canvases := plot.Align(plots, tiles, dc)
	for r := range rows {
		for c := range cols {
			plots[r][c].Draw(canvases[r][c])
		}
	}
	var buf bytes.Buffer
	if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(&buf); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
