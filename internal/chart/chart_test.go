package chart

import (
	"image/color"
	"testing"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

func TestAddBand(t *testing.T) {
	tests := []struct {
		name         string
		upper, lower plotter.XYs
		filled       bool
	}{
		{"no points", nil, nil, false},
		{"one point", plotter.XYs{{X: 0.5, Y: 1}}, plotter.XYs{{X: 0.5, Y: -1}}, false},
		{"two points", plotter.XYs{{X: 0, Y: 1}, {X: 1, Y: 1}}, plotter.XYs{{X: 0, Y: -1}, {X: 1, Y: -1}}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := plot.New()
			p.HideAxes()
			p.X.Min, p.X.Max, p.Y.Min, p.Y.Max = 0, 1, -1, 1
			if err := AddBand(p, tt.upper, tt.lower, Color(0)); err != nil {
				t.Fatal(err)
			}
			c := vgimg.New(vg.Points(100), vg.Points(100))
			p.Draw(draw.New(c))
			b := c.Image().Bounds()
			centre := color.NRGBAModel.Convert(c.Image().At(b.Dx()/2, b.Dy()/2)).(color.NRGBA)
			white := centre == color.NRGBA{R: 0xff, G: 0xff, B: 0xff, A: 0xff}
			if white == tt.filled {
				t.Errorf("centre pixel %v, filled by the band: %v, want %v", centre, !white, tt.filled)
			}
		})
	}
}
