package picture

import (
	"fmt"
	"image"
	"image/color"
	"math"
	"strconv"

	"golang.org/x/image/font"
)

// ReturnDist is the distribution of one first action's return as the
// planner saw it: a sample of equally weighted outcomes (K sampled
// futures, or their K·M quantile atoms with a distributional value),
// with the summary a strip of the picture draws.
type ReturnDist struct {
	// Action labels the first action ("→", "+0.50").
	Action string
	// Outcomes is the sample, each outcome drawn as a tick; empty when
	// the planner scored no plan that began with Action.
	Outcomes []float64
	// P10, P50 and P90 are the sample's 10%, 50% and 90% quantiles, and
	// Mean its mean.
	P10, P50, P90, Mean float64
	// Risk is the value of the planner's risk measure on the sample: the
	// score the planner compared.
	Risk float64
	// Chosen marks the action the agent took.
	Chosen bool
}

// Colours of the return strips, 0xRRGGBB (see rgb).
const (
	colBox  = 0x3f6a94 // the 10–90% box
	colRisk = 0xff8c32 // the risk measure's value
)

// Geometry of the return strips, in pixels.
const (
	minStrip    = 168 // the narrowest strip
	stripPitch  = lineH + 3
	actionChars = 14 // the longest action label drawn
)

// returnsTitle is the line above the strips.
func (s Scene) returnsTitle() string {
	n := 0
	for _, d := range s.Returns {
		n = max(n, len(d.Outcomes))
	}
	return fmt.Sprintf("return of each first action as the planner saw it (%d outcomes)", n)
}

// returnsLegend is the legend under the strips: a swatch and a word for
// each mark.
func (s Scene) returnsLegend() []legendItem {
	risk := s.RiskName
	if risk == "" {
		risk = "risk"
	}
	return []legendItem{
		{rgb(colDim), "outcomes"},
		{rgb(colBox), "10-90%"},
		{rgb(colText), "median"},
		{rgb(colAction), "mean"},
		{rgb(colRisk), risk},
		{rgb(colCurrent), "taken"},
	}
}

type legendItem struct {
	c    color.RGBA
	text string
}

// legendWidth is the width of a legend of items.
func legendWidth(items []legendItem) int {
	w := 0
	for i, it := range items {
		if i > 0 {
			w += pad
		}
		w += 6 + 3 + textWidth(it.text)
	}
	return w
}

// FormatReturn prints a return as the strips' labels do: three decimals.
func FormatReturn(v float64) string { return strconv.FormatFloat(v, 'f', 3, 64) }

func (d ReturnDist) label() string {
	return fitText(d.Action, actionChars*charW)
}

// valueText is what is printed after a strip: the risk measure's value.
func (d ReturnDist) valueText() string {
	if len(d.Outcomes) == 0 {
		return "not sampled"
	}
	return FormatReturn(d.Risk)
}

// returnRange is the interval the strips share: the smallest and
// largest finite value among the outcomes and their marks, widened when
// it is a point.
func (s Scene) returnRange() (lo, hi float64) {
	lo, hi = math.Inf(1), math.Inf(-1)
	see := func(v float64) {
		if !math.IsInf(v, 0) && !math.IsNaN(v) {
			lo, hi = math.Min(lo, v), math.Max(hi, v)
		}
	}
	for _, d := range s.Returns {
		if len(d.Outcomes) == 0 {
			continue
		}
		for _, v := range d.Outcomes {
			see(v)
		}
		for _, v := range []float64{d.P10, d.P50, d.P90, d.Mean, d.Risk} {
			see(v)
		}
	}
	switch {
	case lo > hi: // nothing finite
		return -1, 1
	case lo == hi:
		w := math.Max(0.5, math.Abs(lo)/10)
		return lo - w, hi + w
	}
	return lo, hi
}

// drawReturns draws the return panel of the scene at the layout's place:
//
//	title    "return of each first action as the planner saw it (N outcomes)"
//	strips   one per first action, labelled with it, on one scale: a tick
//	         per outcome along the top, a box from the 10% to the 90%
//	         quantile, the median and the mean, and the risk measure's
//	         value as an orange line, printed after the strip; the action
//	         taken has its label and outline in the current frame's colour
//	axis     the two ends of the scale, and 0 with a faint line where it
//	         lies inside
//	legend   the marks and the risk measure's name
func drawReturns(img *image.RGBA, face font.Face, s Scene, l layout) {
	drawText(img, face, pad, l.distY, rgb(colText), s.returnsTitle())
	lo, hi := s.returnRange()
	x0, w := l.gridX, l.stripW
	xOf := func(v float64) int {
		t := (v - lo) / (hi - lo)
		if math.IsNaN(t) {
			t = 0
		}
		t = math.Max(0, math.Min(1, t))
		return x0 + 1 + int(math.Round(t*float64(w-3)))
	}
	top := l.distY + lineH + 2
	bottom := top + len(s.Returns)*stripPitch
	if lo < 0 && hi > 0 {
		fill(img, image.Rect(xOf(0), top, xOf(0)+1, bottom-3), rgb(colBorder))
	}
	vline := func(x, y0, y1, width int, c color.RGBA) {
		fill(img, image.Rect(x-width/2, y0, x-width/2+width, y1), c)
	}
	for i, d := range s.Returns {
		y := top + i*stripPitch
		r := image.Rect(x0, y, x0+w, y+lineH)
		labelC, border := rgb(colText), rgb(colBorder)
		if d.Chosen {
			labelC, border = rgb(colCurrent), rgb(colCurrent)
		}
		lab := d.label()
		drawText(img, face, l.gridX-pad-textWidth(lab), y, labelC, lab)
		if len(d.Outcomes) == 0 {
			placeholder(img, face, r, "")
		} else {
			fill(img, r.Inset(1), rgb(colTrack))
			if lo < 0 && hi > 0 {
				vline(xOf(0), y+1, y+lineH-1, 1, rgb(colBorder))
			}
			for _, v := range d.Outcomes {
				vline(xOf(v), y+2, y+5, 1, rgb(colDim))
			}
			b0, b1 := xOf(d.P10), xOf(d.P90)
			fill(img, image.Rect(b0, y+6, b1+1, y+lineH-2), rgb(colBox))
			vline(xOf(d.P50), y+5, y+lineH-1, 1, rgb(colText))
			mx := xOf(d.Mean)
			fill(img, image.Rect(mx-1, y+7, mx+2, y+10), rgb(colAction))
			vline(xOf(d.Risk), y+1, y+lineH-1, 2, rgb(colRisk))
			outline(img, r, border)
		}
		valueC := rgb(colRisk)
		if len(d.Outcomes) == 0 {
			valueC = rgb(colDim)
		}
		drawText(img, face, x0+w+pad, y, valueC, d.valueText())
	}
	// The axis: the ends of the shared scale.
	ay := bottom
	los, his := FormatReturn(lo), FormatReturn(hi)
	drawText(img, face, x0, ay, rgb(colDim), los)
	drawText(img, face, x0+w-textWidth(his), ay, rgb(colDim), his)
	if lo < 0 && hi > 0 {
		if zx := xOf(0) - charW/2; zx > x0+textWidth(los)+charW && zx+2*charW < x0+w-textWidth(his) {
			drawText(img, face, zx, ay, rgb(colDim), "0")
		}
	}
	// The legend.
	x, ly := pad, ay+lineH
	for _, it := range s.returnsLegend() {
		fill(img, image.Rect(x, ly+3, x+6, ly+lineH-3), it.c)
		x += 6 + 3
		drawText(img, face, x, ly, rgb(colDim), it.text)
		x += textWidth(it.text) + pad
	}
}

// returnsHeight is the height of the return panel without its top
// margin: title, strips, axis and legend.
func (s Scene) returnsHeight() int {
	return lineH + 2 + len(s.Returns)*stripPitch + 2*lineH
}
