package main

import (
	"encoding/json"
	"fmt"
	"image/color"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/dreamrl/dream/worldmodel"
	"github.com/dreamrl/dream/worldmodel/loss"
)

// scalingPoint is one measurement of a sweep.
type scalingPoint struct {
	X       float64 `json:"x"`
	NsPerOp float64 `json:"ns_per_op"`
	Allocs  float64 `json:"allocs_per_op"`
}

// scalingSeries is one line of a sweep: a cost against one parameter with
// the others fixed.
type scalingSeries struct {
	Label  string         `json:"label"`
	Points []scalingPoint `json:"points"`
	// Slope is the least-squares slope of log time against log x over the
	// points with x > 0: the exponent p of time ∝ x^p (nil with fewer than
	// two such points).
	Slope *float64 `json:"slope,omitempty"`
}

// scalingSweep is a set of series against one parameter.
type scalingSweep struct {
	Name   string          `json:"name"`
	Title  string          `json:"title"`
	X      string          `json:"x"`
	Y      string          `json:"y"`
	Unit   float64         `json:"unit_ns"` // the y axis is ns/op divided by Unit
	Series []scalingSeries `json:"series"`
}

// scalingReport is what --scaling measures and writes.
type scalingReport struct {
	Sweeps []scalingSweep `json:"sweeps"`
	Files  []string       `json:"files"`
}

// logSlope fits log y = a + p log x and returns p, or nil with fewer than
// two points with x > 0.
func logSlope(pts []scalingPoint) *float64 {
	var n, sx, sy, sxx, sxy float64
	for _, p := range pts {
		if p.X <= 0 || p.NsPerOp <= 0 {
			continue
		}
		x, y := math.Log(p.X), math.Log(p.NsPerOp)
		n++
		sx += x
		sy += y
		sxx += x * x
		sxy += x * y
	}
	if n < 2 || n*sxx == sx*sx {
		return nil
	}
	p := (n*sxy - sx*sy) / (n*sxx - sx*sx)
	return &p
}

// nllRow times one forward and backward pass of the Gaussian NLL of B rows
// of dimension d and rank r in a gorgonia graph.
func nllRow(B, d, r int, budget time.Duration) (benchRow, error) {
	rng := rand.New(rand.NewPCG(uint64(d), uint64(r)))
	g := G.NewGraph()
	input := func(name string, rows, cols int, scale float64) *G.Node {
		data := make([]float32, rows*cols)
		for i := range data {
			data[i] = float32(scale * rng.NormFloat64())
		}
		t := tensor.New(tensor.WithBacking(data), tensor.WithShape(rows, cols))
		return G.NewMatrix(g, G.Float32, G.WithShape(rows, cols), G.WithName(name), G.WithValue(t))
	}
	target, mu, lv := input("target", B, d, 1), input("mu", B, d, 1), input("log_var", B, d, 0.3)
	wrt := G.Nodes{mu, lv}
	var factor *G.Node
	if r > 0 {
		factor = input("factor", B, d*r, 0.1)
		wrt = append(wrt, factor)
	}
	l, err := loss.GaussianNLL(target, mu, lv, factor, r, loss.NLLOptions{})
	if err != nil {
		return benchRow{}, err
	}
	if _, err := G.Grad(l, wrt...); err != nil {
		return benchRow{}, err
	}
	vm := G.NewTapeMachine(g)
	defer vm.Close()
	var runErr error
	row := measure(budget, func() {
		if err := vm.RunAll(); err != nil && runErr == nil {
			runErr = err
		}
		vm.Reset()
	})
	return row, runErr
}

// runScaling runs the sweeps and writes scaling.md, scaling.json and
// scaling.png into dir.
func runScaling(fx *benchFixture, dir string, budget time.Duration, quick bool) (*scalingReport, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("scaling: %w", err)
	}
	cfg := fx.cfg
	per := budget / 2
	batches, latents, ranks := []int{16, 32, 64, 128, 256, 512}, []int{16, 32, 64, 128}, []int{0, 1, 2, 4, 8, 16}
	nllDims, nllRanks := []int{16, 32, 64, 128, 256}, []int{0, 2, 8, 32}
	samples, horizons := []int{1, 2, 4, 8, 16}, []int{1, 3, 5, 10, 20}
	const sweepBatch, nllBatch = 64, 256
	if quick {
		batches, latents, ranks = []int{4, 8}, []int{8, 16}, []int{0, 2}
		nllDims, nllRanks = []int{8, 16}, []int{0, 2}
		samples, horizons = []int{1, 2}, []int{1, 2}
	}
	rep := &scalingReport{}
	trainSweep := func(name, title, x string, xs []int, set func(*worldmodel.Config, int), batch func(int) int) error {
		s := scalingSeries{Label: cfg.Model.Dynamics}
		for _, v := range xs {
			mc := cfg.Model
			set(&mc, v)
			row, err := fx.trainRow(mc, batch(v), per)
			if err != nil {
				return fmt.Errorf("scaling %s %d: %w", name, v, err)
			}
			s.Points = append(s.Points, scalingPoint{X: float64(v), NsPerOp: row.NsPerOp, Allocs: row.AllocsPerOp})
		}
		s.Slope = logSlope(s.Points)
		rep.Sweeps = append(rep.Sweeps, scalingSweep{Name: name, Title: title, X: x, Y: "ms per training step", Unit: 1e6, Series: []scalingSeries{s}})
		return nil
	}
	fixed := func(int) int { return sweepBatch }
	if err := trainSweep("train_batch", "training step against batch size", "batch size B", batches,
		func(*worldmodel.Config, int) {}, func(b int) int { return b }); err != nil {
		return nil, err
	}
	if err := trainSweep("train_latent", fmt.Sprintf("training step against latent size (B=%d)", sweepBatch), "latent size d", latents,
		func(c *worldmodel.Config, d int) { c.LatentDim = d }, fixed); err != nil {
		return nil, err
	}
	if err := trainSweep("train_rank", fmt.Sprintf("training step against covariance rank (B=%d, d=%d)", sweepBatch, cfg.Model.LatentDim), "rank r", ranks,
		func(c *worldmodel.Config, r int) { c.Dynamics, c.Rank = worldmodel.DynamicsGaussian, r }, fixed); err != nil {
		return nil, err
	}

	nll := scalingSweep{Name: "nll_rank", Title: fmt.Sprintf("Gaussian NLL forward+backward per row (B=%d)", nllBatch),
		X: "latent size d", Y: "µs per row", Unit: 1e3 * nllBatch}
	for _, r := range nllRanks {
		s := scalingSeries{Label: fmt.Sprintf("r=%d", r)}
		for _, d := range nllDims {
			if r > d {
				continue
			}
			row, err := nllRow(nllBatch, d, r, per/2)
			if err != nil {
				return nil, fmt.Errorf("scaling nll d=%d r=%d: %w", d, r, err)
			}
			s.Points = append(s.Points, scalingPoint{X: float64(d), NsPerOp: row.NsPerOp, Allocs: row.AllocsPerOp})
		}
		s.Slope = logSlope(s.Points)
		nll.Series = append(nll.Series, s)
	}
	rep.Sweeps = append(rep.Sweeps, nll)

	decisionSweep := func(name, title, x string, xs []int, set func(*plannerOverride, int)) error {
		s := scalingSeries{Label: cfg.Model.Dynamics}
		for _, v := range xs {
			c := cfg
			o := plannerOverride{samples: c.Planner.WithDefaults().Samples, horizon: c.Planner.WithDefaults().Horizon}
			set(&o, v)
			c.Planner.Samples, c.Planner.Horizon = o.samples, o.horizon
			if o.samples > 1 {
				c.PlanWith = "samples"
			}
			row, _, err := fx.decisionRow(c, per)
			if err != nil {
				return fmt.Errorf("scaling %s %d: %w", name, v, err)
			}
			s.Points = append(s.Points, scalingPoint{X: float64(v), NsPerOp: row.NsPerOp, Allocs: row.AllocsPerOp})
		}
		s.Slope = logSlope(s.Points)
		rep.Sweeps = append(rep.Sweeps, scalingSweep{Name: name, Title: title, X: x, Y: "ms per decision", Unit: 1e6, Series: []scalingSeries{s}})
		return nil
	}
	pd := cfg.Planner.WithDefaults()
	if err := decisionSweep("decision_samples", fmt.Sprintf("decision against samples K (N=%d, H=%d, I=%d)", pd.Candidates, pd.Horizon, pd.Iterations),
		"samples K", samples, func(o *plannerOverride, k int) { o.samples = k }); err != nil {
		return nil, err
	}
	if err := decisionSweep("decision_horizon", fmt.Sprintf("decision against horizon H (N=%d, K=%d, I=%d)", pd.Candidates, pd.Samples, pd.Iterations),
		"horizon H", horizons, func(o *plannerOverride, h int) { o.horizon = h }); err != nil {
		return nil, err
	}

	for _, f := range []struct {
		name  string
		write func(string) error
	}{
		{"scaling.md", func(p string) error { return os.WriteFile(p, []byte(scalingMarkdown(rep)), 0o644) }},
		{"scaling.json", func(p string) error {
			data, err := json.MarshalIndent(rep.Sweeps, "", "  ")
			if err != nil {
				return err
			}
			return os.WriteFile(p, append(data, '\n'), 0o644)
		}},
		{"scaling.png", func(p string) error { return scalingPlot(p, rep) }},
	} {
		p := filepath.Join(dir, f.name)
		if err := f.write(p); err != nil {
			return nil, fmt.Errorf("scaling: write %s: %w", p, err)
		}
		rep.Files = append(rep.Files, p)
	}
	return rep, nil
}

type plannerOverride struct{ samples, horizon int }

func slopeText(p *float64) string {
	if p == nil {
		return "–"
	}
	return fmt.Sprintf("%.2f", *p)
}

// scalingMarkdown formats the sweeps as Markdown tables.
func scalingMarkdown(rep *scalingReport) string {
	var b strings.Builder
	b.WriteString("# How the cost grows\n\nWritten by `dream bench --scaling`. Each time is the best of three rounds; the slope is the exponent p of a least-squares fit time ∝ x^p.\n")
	for _, sw := range rep.Sweeps {
		fmt.Fprintf(&b, "\n## %s\n\n| %s |", sw.Title, sw.X)
		for _, s := range sw.Series {
			fmt.Fprintf(&b, " %s: %s |", s.Label, sw.Y)
		}
		b.WriteString("\n|---|")
		for range sw.Series {
			b.WriteString("---|")
		}
		b.WriteString("\n")
		xs := map[float64]bool{}
		var order []float64
		for _, s := range sw.Series {
			for _, p := range s.Points {
				if !xs[p.X] {
					xs[p.X] = true
					order = append(order, p.X)
				}
			}
		}
		for _, x := range order {
			fmt.Fprintf(&b, "| %g |", x)
			for _, s := range sw.Series {
				cell := " – |"
				for _, p := range s.Points {
					if p.X == x {
						cell = fmt.Sprintf(" %.4g |", p.NsPerOp/sw.Unit)
					}
				}
				b.WriteString(cell)
			}
			b.WriteString("\n")
		}
		b.WriteString("| slope |")
		for _, s := range sw.Series {
			fmt.Fprintf(&b, " %s |", slopeText(s.Slope))
		}
		b.WriteString("\n")
	}
	return b.String()
}

// scalingPlot draws every sweep on log–log axes, tiled 2×3, as a PNG.
func scalingPlot(path string, rep *scalingReport) error {
	const cols = 3
	rows := (len(rep.Sweeps) + cols - 1) / cols
	plots := make([][]*plot.Plot, rows)
	for i := range plots {
		plots[i] = make([]*plot.Plot, cols)
	}
	for i, sw := range rep.Sweeps {
		p := plot.New()
		p.Title.Text = sw.Title
		p.X.Label.Text = sw.X
		p.Y.Label.Text = sw.Y
		p.X.Scale, p.Y.Scale = plot.LogScale{}, plot.LogScale{}
		p.X.Tick.Marker, p.Y.Tick.Marker = plot.LogTicks{Prec: -1}, plot.LogTicks{Prec: -1}
		p.Legend.Top, p.Legend.Left = true, true
		p.Add(plotter.NewGrid())
		for j, s := range sw.Series {
			var xy plotter.XYs
			for _, pt := range s.Points {
				if pt.X > 0 {
					xy = append(xy, plotter.XY{X: pt.X, Y: pt.NsPerOp / sw.Unit})
				}
			}
			if len(xy) == 0 {
				continue
			}
			line, points, err := plotter.NewLinePoints(xy)
			if err != nil {
				return err
			}
			c := color.NRGBAModel.Convert(plotutil.Color(j)).(color.NRGBA)
			line.Color, points.Color = c, c
			line.Width = vg.Points(1.5)
			points.Shape = draw.CircleGlyph{}
			points.Radius = vg.Points(2.5)
			p.Add(line, points)
			p.Legend.Add(fmt.Sprintf("%s (slope %s)", s.Label, slopeText(s.Slope)), line, points)
		}
		plots[i/cols][i%cols] = p
	}
	img := vgimg.New(vg.Length(cols)*5*vg.Inch, vg.Length(rows)*3.8*vg.Inch)
	dc := draw.New(img)
	canvases := plot.Align(plots, draw.Tiles{Rows: rows, Cols: cols, PadX: vg.Millimeter * 4, PadY: vg.Millimeter * 4,
		PadTop: vg.Millimeter * 2, PadBottom: vg.Millimeter * 2, PadLeft: vg.Millimeter * 2, PadRight: vg.Millimeter * 2}, dc)
	for i := range plots {
		for j, p := range plots[i] {
			if p != nil {
				p.Draw(canvases[i][j])
			}
		}
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
