// Package chart holds the drawing shared by dream's learning-curve
// pictures (gonum/plot, pure Go, headless): one colour and dash pattern
// per series, a mean line with a dot at each point, and its interval as a
// translucent band.
package chart

import (
	"fmt"
	"image/color"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// BandAlpha is the opacity of an interval band: light enough that the
// bands of several series stay readable where they overlap.
const BandAlpha = 0x48

// Color returns the colour of series i (gonum's plotutil palette, which
// repeats after seven).
func Color(i int) color.NRGBA {
	return color.NRGBAModel.Convert(plotutil.Color(i)).(color.NRGBA)
}

// AddBand adds to p the region between upper and lower (the same steps,
// in order) filled with c at BandAlpha and no outline. With fewer than
// two points there is no region and it adds nothing.
func AddBand(p *plot.Plot, upper, lower plotter.XYs, c color.NRGBA) error {
	if len(upper) < 2 {
		return nil
	}
	ring := append(plotter.XYs{}, upper...)
	for k := len(lower) - 1; k >= 0; k-- {
		ring = append(ring, lower[k])
	}
	band, err := plotter.NewPolygon(ring)
	if err != nil {
		return fmt.Errorf("chart: band: %w", err)
	}
	band.Color = color.NRGBA{R: c.R, G: c.G, B: c.B, A: BandAlpha}
	band.LineStyle.Width = 0
	p.Add(band)
	return nil
}

// Line returns the line style of series i: its colour and dash pattern,
// width points wide.
func Line(i int, width vg.Length) draw.LineStyle {
	return draw.LineStyle{Color: Color(i), Width: width, Dashes: plotutil.Dashes(i)}
}

// Dot returns the style of the dots of series i.
func Dot(i int) draw.GlyphStyle {
	return draw.GlyphStyle{Color: Color(i), Shape: draw.CircleGlyph{}, Radius: vg.Points(2.5)}
}

// AddCurve adds to p the line through xys of series i, 2 points wide in
// the series' colour and dash pattern, with a dot at each point, and
// returns the line and the dots for a legend entry.
func AddCurve(p *plot.Plot, xys plotter.XYs, i int) (*plotter.Line, *plotter.Scatter, error) {
	line, points, err := plotter.NewLinePoints(xys)
	if err != nil {
		return nil, nil, fmt.Errorf("chart: curve: %w", err)
	}
	line.LineStyle = Line(i, vg.Points(2))
	points.GlyphStyle = Dot(i)
	p.Add(line, points)
	return line, points, nil
}

// AddLine adds to p the line through xys of series i, without dots (for
// series of many points), width points wide, and returns it for a
// legend entry.
func AddLine(p *plot.Plot, xys plotter.XYs, i int, width vg.Length) (*plotter.Line, error) {
	line, err := plotter.NewLine(xys)
	if err != nil {
		return nil, fmt.Errorf("chart: line: %w", err)
	}
	line.LineStyle = Line(i, width)
	p.Add(line)
	return line, nil
}
