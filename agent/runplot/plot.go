package runplot

import (
	"errors"
	"fmt"
	"io"
	"math"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"

	"github.com/dreamrl/dream/internal/chart"
)

// Default size of the picture, in pixels.
const (
	DefaultWidth  = 1200
	DefaultHeight = 800
)

const (
	// dpi converts pixels to gonum/plot lengths (vgimg's default).
	dpi = vgimg.DefaultDPI
	// logSpan is the ratio max/min of a loss panel's positive values
	// from which it gets a logarithmic axis: two decades.
	logSpan = 100
	// lossCols is the number of loss panels side by side.
	lossCols = 3
)

// ErrNothing reports runs with no value to draw: none has logged a row
// yet.
var ErrNothing = errors.New("nothing to draw: no run has logged a row yet")

// panel is a metrics.csv column drawn in a small panel of its own.
type panel struct {
	column, title string
}

// lossPanels are the columns drawn under the evaluation, in reading
// order: the world model's prediction loss and collapse guard, the heads'
// losses, and the spread of the embeddings (near zero: collapse). A panel
// is left out when no run has a non-zero value in its column (a log
// without the column, a model without a guard).
func lossPanels() []panel {
	return []panel{
		{"prediction", "prediction loss"},
		{"guard", "collapse guard loss"},
		{"reward", "reward loss"},
		{"cont", "continuation loss"},
		{"value", "value loss"},
		{"embed_std", "embedding std (0: collapse)"},
	}
}

// Draw draws runs against environment steps and writes the picture to w
// as a PNG of width × height pixels: on top the evaluation return with
// its 95% interval as a band (where any run has evaluated) and the
// success rate with its interval (where any run has one); under them one
// small panel per main loss, on a logarithmic axis where its values span
// two decades or more. Each run has one colour and dash pattern in every
// panel, named in the legend by its Label; a run without evaluations is
// named "(no evaluation yet)". Every panel shares the step axis. It
// returns an error wrapping ErrNothing if no run has a value to draw.
func Draw(w io.Writer, runs []Run, width, height int) error {
	if width < 1 || height < 1 {
		return fmt.Errorf("runplot: size %d×%d pixels (want both positive)", width, height)
	}
	env := ""
	if len(runs) > 0 {
		env = runs[0].EnvName() + ": "
	}
	var top []*plot.Plot
	ret, err := curvePanel(runs, env+"evaluation return", "eval_return", "eval_return_lo", "eval_return_hi")
	if err != nil {
		return err
	}
	if ret != nil {
		top = append(top, ret)
	}
	succ, err := curvePanel(runs, "success rate", "success", "success_lo", "success_hi")
	if err != nil {
		return err
	}
	if succ != nil {
		succ.Y.Min, succ.Y.Max = 0, 1
		top = append(top, succ)
	}
	var losses []*plot.Plot
	for _, pn := range lossPanels() {
		p, err := lossPanel(runs, pn)
		if err != nil {
			return err
		}
		if p != nil {
			losses = append(losses, p)
		}
	}
	all := append(append([]*plot.Plot{}, top...), losses...)
	if len(all) == 0 {
		return fmt.Errorf("runplot: %w", ErrNothing)
	}
	addLegend(all[0], runs, ret != nil)
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, p := range all {
		lo, hi = math.Min(lo, p.X.Min), math.Max(hi, p.X.Max)
	}
	for _, p := range all {
		p.X.Min, p.X.Max = lo, hi
	}

	c := vgimg.NewWith(vgimg.UseWH(pixels(width), pixels(height)), vgimg.UseDPI(dpi))
	dc := draw.New(c)
	lossRows := (len(losses) + lossCols - 1) / lossCols
	topShare := 0.45
	switch {
	case len(top) == 0:
		topShare = 0
	case lossRows == 0:
		topShare = 1
	case lossRows == 1:
		topShare = 0.6
	}
	split := dc.Min.Y + vg.Length(1-topShare)*(dc.Max.Y-dc.Min.Y)
	if len(top) > 0 {
		tc := draw.Crop(dc, 0, 0, split-dc.Min.Y, 0)
		drawGrid([][]*plot.Plot{top}, tc)
	}
	if lossRows > 0 {
		grid := make([][]*plot.Plot, lossRows)
		cols := min(len(losses), lossCols)
		for j := range grid {
			grid[j] = make([]*plot.Plot, cols)
		}
		for k, p := range losses {
			grid[k/cols][k%cols] = p
			if k+cols >= len(losses) {
				p.X.Label.Text = "environment steps"
			}
		}
		bc := draw.Crop(dc, 0, 0, 0, split-dc.Max.Y)
		drawGrid(grid, bc)
	}
	if _, err := (vgimg.PngCanvas{Canvas: c}).WriteTo(w); err != nil {
		return fmt.Errorf("runplot: write: %w", err)
	}
	return nil
}

// pixels converts a number of pixels to a length at dpi.
func pixels(n int) vg.Length {
	return vg.Length(n) * vg.Inch / dpi
}

// drawGrid draws plots (nil for an empty cell) in a grid on dc, their
// axes aligned.
func drawGrid(plots [][]*plot.Plot, dc draw.Canvas) {
	pad := vg.Points(8)
	t := draw.Tiles{Rows: len(plots), Cols: len(plots[0]), PadX: 2 * pad, PadY: 2 * pad,
		PadTop: pad, PadBottom: pad, PadLeft: pad, PadRight: pad}
	canvases := plot.Align(plots, t, dc)
	for j, row := range plots {
		for i, p := range row {
			if p != nil {
				p.Draw(canvases[j][i])
			}
		}
	}
}

// newPanel returns an empty panel with a title, a grid and the step axis.
func newPanel(title string, small bool) *plot.Plot {
	p := plot.New()
	p.Title.Text = title
	p.Title.Padding = vg.Points(4)
	p.X.Label.Text = "environment steps"
	if small {
		p.Title.TextStyle.Font.Size = vg.Points(10)
		for _, a := range []*plot.Axis{&p.X, &p.Y} {
			a.Label.TextStyle.Font.Size = vg.Points(9)
			a.Tick.Label.Font.Size = vg.Points(8)
		}
		p.X.Label.Text = ""
	}
	p.Add(plotter.NewGrid())
	return p
}

// curvePanel draws column of the evaluation rows of every run, with the
// band between columns lo and hi where the rows have them; nil if no run
// has a value in column.
func curvePanel(runs []Run, title, column, lo, hi string) (*plot.Plot, error) {
	var p *plot.Plot
	banded := false
	for i, r := range runs {
		mean := r.Metrics.Series(KindEval, column)
		if len(mean) == 0 {
			continue
		}
		if p == nil {
			p = newPanel(title, false)
		}
		var upper, lower plotter.XYs
		for _, row := range r.Metrics.Rows {
			l, okl := row.Value(lo)
			h, okh := row.Value(hi)
			_, ok := row.Value(column)
			if row.Kind == KindEval && ok && okl && okh {
				upper = append(upper, plotter.XY{X: float64(row.Steps), Y: h})
				lower = append(lower, plotter.XY{X: float64(row.Steps), Y: l})
			}
		}
		banded = banded || len(upper) >= 2
		if err := chart.AddBand(p, upper, lower, chart.Color(i)); err != nil {
			return nil, fmt.Errorf("runplot: %s %s: %w", r.Dir, column, err)
		}
		if _, _, err := chart.AddCurve(p, mean, i); err != nil {
			return nil, fmt.Errorf("runplot: %s %s: %w", r.Dir, column, err)
		}
	}
	if p != nil && banded {
		p.Title.Text += ", 95% interval"
	}
	return p, nil
}

// lossPanel draws column pn of every row of every run, on a logarithmic
// axis where its values are positive and span logSpan or more; nil if no
// run has a non-zero value in it.
func lossPanel(runs []Run, pn panel) (*plot.Plot, error) {
	series := make([]plotter.XYs, len(runs))
	lo, hi, nonZero := math.Inf(1), math.Inf(-1), false
	for i, r := range runs {
		series[i] = r.Metrics.Series("", pn.column)
		for _, xy := range series[i] {
			lo, hi = math.Min(lo, xy.Y), math.Max(hi, xy.Y)
			nonZero = nonZero || xy.Y != 0
		}
	}
	if !nonZero {
		return nil, nil
	}
	p := newPanel(pn.title, true)
	if lo > 0 && hi/lo >= logSpan {
		p.Y.Scale = plot.LogScale{}
		p.Y.Tick.Marker = plot.LogTicks{Prec: -1}
		p.Title.Text += " (log scale)"
	}
	for i, xys := range series {
		if len(xys) == 0 {
			continue
		}
		if _, err := chart.AddLine(p, xys, i, vg.Points(1.5)); err != nil {
			return nil, fmt.Errorf("runplot: %s %s: %w", runs[i].Dir, pn.column, err)
		}
	}
	return p, nil
}

// addLegend names every run on p: by its line and dots where p is the
// evaluation panel (withDots), by its line otherwise; a run without an
// evaluation is marked so and shown by its line.
func addLegend(p *plot.Plot, runs []Run, withDots bool) {
	p.Legend.Top = true
	p.Legend.Left = withDots
	p.Legend.TextStyle.Font.Size = vg.Points(10)
	for i, r := range runs {
		thumbs := []plot.Thumbnailer{&plotter.Line{LineStyle: chart.Line(i, vg.Points(2))}}
		label := r.Label
		switch {
		case r.Metrics.Evaluations() == 0:
			label += " (no evaluation yet)"
		case withDots:
			thumbs = append(thumbs, &plotter.Scatter{GlyphStyle: chart.Dot(i)})
		}
		p.Legend.Add(label, thumbs...)
	}
}
