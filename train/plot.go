package train

import (
	"bytes"
	"image/color"
	"io"
	"math"
	"path/filepath"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"

	"github.com/dllmgo/dllm/internal/atomicfile"
)

// PlotLoss draws the training loss (a moving average, since single
// diffusion steps are noisy: each draws its own noise level) and the
// held-out loss against the step, into dir/loss.png.
func PlotLoss(dir string, trainLoss, evalLoss []Point) error {
	if len(trainLoss) == 0 {
		return nil
	}
	p := plot.New()
	p.Title.Text = "diffusion loss"
	p.X.Label.Text = "step"
	p.X.Tick.Marker = stepTicks{}
	p.Y.Label.Text = "loss"
	p.Add(plotter.NewGrid())

	smooth := movingAverage(trainLoss, max(len(trainLoss)/50, 1))
	tl, err := plotter.NewLine(points(smooth))
	if err != nil {
		return err
	}
	tl.Color = color.RGBA{R: 30, G: 100, B: 200, A: 255}
	tl.Width = vg.Points(1.5)
	p.Add(tl)
	p.Legend.Add("train (moving average)", tl)
	if len(evalLoss) > 0 {
		el, pts, err := plotter.NewLinePoints(points(evalLoss))
		if err != nil {
			return err
		}
		el.Color = color.RGBA{R: 220, G: 80, B: 30, A: 255}
		pts.Color = el.Color
		p.Add(el, pts)
		p.Legend.Add("held-out", el)
	}
	p.Legend.Top = true
	p.Legend.XOffs, p.Legend.YOffs = -vg.Points(6), -vg.Points(4)
	// A margin on the right and at the top: gonum draws to the image's
	// edge, where the last held-out point and the legend were cut.
	img := vgimg.New(8*vg.Inch, 5*vg.Inch)
	p.Draw(draw.Crop(draw.New(img), 0, -vg.Points(14), 0, -vg.Points(4)))
	var buf bytes.Buffer
	if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(&buf); err != nil {
		return err
	}
	return atomicfile.Write(filepath.Join(dir, "loss.png"), 0o644, func(w io.Writer) error {
		_, err := w.Write(buf.Bytes())
		return err
	})
}

// stepTicks labels the step axis with whole numbers ("250", not
// "250.00"): gonum's default ticks, with labels written as integers and
// labels at fractional steps dropped (a tick without a label is a minor
// one).
type stepTicks struct{}

func (stepTicks) Ticks(lo, hi float64) []plot.Tick {
	ticks := plot.DefaultTicks{}.Ticks(lo, hi)
	for i, t := range ticks {
		if t.Label == "" {
			continue
		}
		if t.Value == math.Trunc(t.Value) {
			ticks[i].Label = strconv.FormatInt(int64(t.Value), 10)
		} else {
			ticks[i].Label = ""
		}
	}
	return ticks
}

func points(ps []Point) plotter.XYs {
	xy := make(plotter.XYs, len(ps))
	for i, p := range ps {
		xy[i].X, xy[i].Y = float64(p.Step), p.Loss
	}
	return xy
}

// movingAverage smooths over a trailing window of k points.
func movingAverage(ps []Point, k int) []Point {
	out := make([]Point, len(ps))
	var sum float64
	for i, p := range ps {
		sum += p.Loss
		if i >= k {
			sum -= ps[i-k].Loss
		}
		out[i] = Point{p.Step, sum / float64(min(i+1, k))}
	}
	return out
}
