package compare

import (
	"fmt"
	"image/color"
	"io"
	"math"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"

	"github.com/dreamrl/dream/internal/chart"
)

// Size of curves.png.
const (
	plotWidth  = 7 * vg.Inch
	plotHeight = 4.5 * vg.Inch
)

// PlotCurves draws the mean evaluation return of every arm against
// environment steps, each with its bootstrap confidence band as a
// translucent polygon, and writes the picture to w as a PNG (pure Go,
// headless).
func PlotCurves(w io.Writer, s *Summary) error {
	p := plot.New()
	seeds := 0
	for _, d := range s.Arms {
		seeds = max(seeds, len(d.Seeds))
	}
	p.Title.Text = fmt.Sprintf("%s: mean evaluation return, %s%% bootstrap band over %d seeds",
		s.Env, strconv.FormatFloat(100*s.Level, 'g', -1, 64), seeds)
	p.Title.Padding = vg.Points(6)
	p.X.Label.Text = "environment steps"
	p.Y.Label.Text = "evaluation return"
	p.Legend.Top = true
	p.Legend.Left = true
	p.Add(plotter.NewGrid())
	for i, d := range s.Arms {
		mean := make(plotter.XYs, 0, len(d.Curve))
		var upper, lower plotter.XYs
		for _, cp := range d.Curve {
			x := float64(cp.Steps)
			mean = append(mean, plotter.XY{X: x, Y: cp.Return.Mean})
			if !math.IsNaN(cp.Return.Lo) {
				upper = append(upper, plotter.XY{X: x, Y: cp.Return.Hi})
				lower = append(lower, plotter.XY{X: x, Y: cp.Return.Lo})
			}
		}
		if err := chart.AddBand(p, upper, lower, chart.Color(i)); err != nil {
			return fmt.Errorf("compare: plot %s: %w", d.Name, err)
		}
		line, points, err := chart.AddCurve(p, mean, i)
		if err != nil {
			return fmt.Errorf("compare: plot %s: %w", d.Name, err)
		}
		p.Legend.Add(fmt.Sprintf("%s (%d seeds)", d.Name, len(d.Seeds)), line, points)
	}
	if th := float64(s.Threshold); !math.IsNaN(th) && len(s.Arms) > 0 && len(s.Arms[0].Curve) > 0 {
		lo, hi := math.Inf(1), math.Inf(-1)
		for _, d := range s.Arms {
			for _, cp := range d.Curve {
				lo, hi = math.Min(lo, float64(cp.Steps)), math.Max(hi, float64(cp.Steps))
			}
		}
		line, err := plotter.NewLine(plotter.XYs{{X: lo, Y: th}, {X: hi, Y: th}})
		if err != nil {
			return fmt.Errorf("compare: plot threshold: %w", err)
		}
		line.Color = color.Gray{Y: 0x60}
		line.Dashes = []vg.Length{vg.Points(2), vg.Points(3)}
		p.Add(line)
		p.Legend.Add(fmt.Sprintf("threshold %.4g", th), line)
	}
	wt, err := p.WriterTo(plotWidth, plotHeight, "png")
	if err != nil {
		return fmt.Errorf("compare: plot: %w", err)
	}
	_, err = wt.WriteTo(w)
	return err
}
