package picture

import (
	"image"
	"path/filepath"
	"slices"
	"testing"
)

// dist summarises outcomes as the Imaginer does, with the quantiles
// interpolated between order statistics (type 7) and the risk given.
func dist(action string, risk float64, chosen bool, outcomes ...float64) ReturnDist {
	o := slices.Clone(outcomes)
	slices.Sort(o)
	q := func(p float64) float64 {
		x := p * float64(len(o)-1)
		i := int(x)
		if i >= len(o)-1 {
			return o[len(o)-1]
		}
		return o[i] + (x-float64(i))*(o[i+1]-o[i])
	}
	mean := 0.0
	for _, v := range o {
		mean += v
	}
	return ReturnDist{Action: action, Outcomes: o, P10: q(0.1), P50: q(0.5), P90: q(0.9), Mean: mean / float64(len(o)), Risk: risk, Chosen: chosen}
}

// returnsScene is gaussianScene with the returns of its four first
// actions under cvar:0.25: ↓ is safe and taken, → has the better mean
// and a bad tail, ↑ was not scored.
func returnsScene() Scene {
	s := gaussianScene()
	s.RiskName = "cvar:0.25"
	s.Returns = []ReturnDist{
		dist("←", 0.21, false, 0.2, 0.22, 0.25, 0.3, 0.31, 0.33, 0.35, 0.4),
		dist("↓", 0.52, true, 0.5, 0.54, 0.55, 0.58, 0.6, 0.61, 0.62, 0.66),
		dist("→", -0.55, false, -0.6, -0.5, 0.9, 0.95, 1, 1, 1.05, 1.1),
		{Action: "↑"},
	}
	return s
}

// TestComposeReturns checks the return panel: one strip per first
// action where the layout puts it, the risk measure's mark at its value
// on the shared scale, the taken action outlined, the picture widened
// for a short horizon; and the golden picture of returnsScene
// (testdata/golden/picture-gaussian-returns.png, -update rewrites it).
func TestComposeReturns(t *testing.T) {
	const cell = 48
	s := returnsScene()
	img := Compose(s, cell)
	checkGolden(t, filepath.Join(goldenDir, "picture-gaussian-returns.png"), img)

	l := newLayout(s, cell)
	plain := newLayout(gaussianScene(), cell)
	if !l.dist || plain.dist {
		t.Fatalf("return panel %v with returns, %v without", l.dist, plain.dist)
	}
	if want := plain.h + s.returnsHeight() + pad; l.h != want {
		t.Errorf("height %d, want %d: the panel's %d more", l.h, want, s.returnsHeight()+pad)
	}
	lo, hi := s.returnRange()
	if lo != -0.6 || hi != 1.1 {
		t.Fatalf("scale [%g, %g], want [−0.6, 1.1]", lo, hi)
	}
	top := l.distY + lineH + 2
	xOf := func(v float64) int { return l.gridX + 1 + int((v-lo)/(hi-lo)*float64(l.stripW-3)+0.5) }
	for i, d := range s.Returns {
		y := top + i*stripPitch
		edge := img.RGBAAt(l.gridX, y+lineH/2)
		if len(d.Outcomes) == 0 {
			if edge == rgb(colCurrent) || img.RGBAAt(xOf(d.Risk), y+lineH/2) == rgb(colRisk) {
				t.Errorf("%s: an unscored action drawn as scored", d.Action)
			}
			continue
		}
		if got := img.RGBAAt(xOf(d.Risk), y+2); got != rgb(colRisk) {
			t.Errorf("%s: pixel %v at its risk value %g, want the risk colour", d.Action, got, d.Risk)
		}
		if got := img.RGBAAt((xOf(d.P10)+xOf(d.P90))/2, y+lineH-3); got != rgb(colBox) && got != rgb(colText) && got != rgb(colAction) && got != rgb(colRisk) {
			t.Errorf("%s: pixel %v inside its 10-90%% box", d.Action, got)
		}
		if want := map[bool]uint32{true: colCurrent, false: colBorder}[d.Chosen]; edge != rgb(want) {
			t.Errorf("%s: outline %v, want %06x (chosen %v)", d.Action, edge, want, d.Chosen)
		}
	}

	// One step: the strips keep their minimum width.
	short := returnsScene()
	short.Real, short.Actions, short.Sigma = short.Real[:1], short.Actions[:1], nil
	for k := range short.Futures {
		short.Futures[k] = short.Futures[k][:1]
	}
	ls := newLayout(short, 16)
	if ls.stripW != minStrip || ls.w < ls.gridX+minStrip {
		t.Errorf("H = 1: strip %d, picture %d wide, want a %d-pixel strip inside", ls.stripW, ls.w, minStrip)
	}
	if got := Compose(short, 16).Rect; got != image.Rect(0, 0, ls.w, ls.h) {
		t.Errorf("H = 1: picture %v, layout %d×%d", got, ls.w, ls.h)
	}
}

func TestReturnRange(t *testing.T) {
	inf := func(s int) float64 { return float64(s) * 1e308 * 10 }
	cases := []struct {
		name   string
		dists  []ReturnDist
		lo, hi float64
	}{
		{"none scored", []ReturnDist{{Action: "a"}}, -1, 1},
		{"one point", []ReturnDist{dist("a", 2, true, 2, 2)}, 1.5, 2.5},
		{"large point", []ReturnDist{dist("a", 20, true, 20)}, 18, 22},
		{"−Inf left out", []ReturnDist{dist("a", inf(-1), true, inf(-1), 1, 3)}, 1, 3},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := Scene{Returns: c.dists}
			if lo, hi := s.returnRange(); lo != c.lo || hi != c.hi {
				t.Errorf("range [%g, %g], want [%g, %g]", lo, hi, c.lo, c.hi)
			}
		})
	}
}
