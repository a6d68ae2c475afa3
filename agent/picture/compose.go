package picture

import (
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"math"
	"strconv"

	"golang.org/x/image/font"
)

// Scene is what one picture of imagined futures shows: the real current
// frame, the plan the agent made from it, K futures the world model
// imagined along that plan (decoded by its probe decoder) with their
// uncertainty, once known the real frames that followed, and the
// distribution of each first action's return as the planner saw it.
//
// Index h of Real, Actions, Futures[k] and Sigma[k] is the step t+h+1
// that follows the current step t.
type Scene struct {
	// Env and Dynamics name the environment and the dynamics head
	// ("gaussian", "deterministic"); Step is the current step t of the
	// episode.
	Env, Dynamics string
	Step          int
	// Current is the real frame at step t (any size; scaled with
	// nearest-neighbour sampling).
	Current *image.RGBA
	// Real holds the real frames that followed, as far as they are known;
	// it may be shorter than the horizon, or nil.
	Real []*image.RGBA
	// RealEnded reports that the episode ended after the frames in Real,
	// so that no more will follow.
	RealEnded bool
	// Actions labels the planned action of each step ("←", "+1.25").
	Actions []string
	// Futures holds K rows of imagined frames, one per step.
	Futures [][]*image.RGBA
	// Sigma holds the uncertainty of each imagined step (K rows, as
	// Futures), drawn as a bar under the frame on one scale shared by the
	// whole picture; nil draws no bars.
	Sigma [][]float64
	// SigmaName says what Sigma measures, for the legend; empty means
	// "σ".
	SigmaName string
	// PredReturn is the return the model predicts for the plan;
	// RealReturn the real return of the steps realised so far, shown when
	// RealKnown.
	PredReturn, RealReturn float64
	RealKnown              bool
	// Returns holds the distribution of the return of each candidate
	// first action as the planner saw it, drawn as one strip per action
	// on one scale shared by the strips; nil draws none.
	Returns []ReturnDist
	// RiskName names the planner's risk measure ("cvar:0.1"), whose value
	// each strip marks; empty means "risk".
	RiskName string
}

// Colours of a picture, 0xRRGGBB (see rgb).
const (
	colBackground  = 0x181a20
	colText        = 0xe8e8ec
	colDim         = 0x969ca8
	colBorder      = 0x4e5462
	colCurrent     = 0xfad250
	colPlaceholder = 0x262932
	colHatch       = 0x323642
	colTrack       = 0x30343e
	colAction      = 0x82c8ff
	colGreen       = 0x2ecc40
	colYellow      = 0xfad228
	colRed         = 0xe63c32
)

// rgb is the opaque colour 0xRRGGBB.
func rgb(c uint32) color.RGBA { return color.RGBA{uint8(c >> 16), uint8(c >> 8), uint8(c), 255} }

// Layout constants, in pixels.
const (
	pad       = 8 // margin around the picture and between its parts
	minCell   = 8 // the smallest tile Compose draws
	legendBar = 120
)

// UncertaintyColor maps t ∈ [0, 1] (uncertainty over the picture's
// largest) to a colour from green (0) through yellow (½) to red (1);
// values outside [0, 1] are clamped.
func UncertaintyColor(t float64) color.RGBA {
	if math.IsNaN(t) || t < 0 {
		t = 0
	}
	t = math.Min(t, 1)
	lerp := func(a, b color.RGBA, u float64) color.RGBA {
		mix := func(x, y uint8) uint8 { return uint8(math.Round(float64(x) + u*(float64(y)-float64(x)))) }
		return color.RGBA{mix(a.R, b.R), mix(a.G, b.G), mix(a.B, b.B), 255}
	}
	green, yellow, red := rgb(colGreen), rgb(colYellow), rgb(colRed)
	if t < 0.5 {
		return lerp(green, yellow, 2*t)
	}
	return lerp(yellow, red, 2*t-1)
}

// FormatSigma prints an uncertainty value as the bars' labels do: three
// significant digits.
func FormatSigma(v float64) string { return strconv.FormatFloat(v, 'g', 3, 64) }

// layout holds the geometry of one composed picture.
type layout struct {
	cell, gap, big    int
	horizon, samples  int
	labelW            int
	gridX, gridY      int // top-left of the column headings
	realY, actY, rowY int // top of the real row, the action row, the first sample row
	rowH, barH        int
	bars              bool
	// The return panel: whether there is one, the top of its title, and
	// the width of its strips.
	dist          bool
	distY, stripW int
	w, h          int
}

func (s Scene) horizon() int {
	n := max(len(s.Real), len(s.Actions))
	for _, f := range s.Futures {
		n = max(n, len(f))
	}
	for _, f := range s.Sigma {
		n = max(n, len(f))
	}
	return n
}

func (s Scene) rowLabel(k int) string {
	if len(s.Futures) == 1 && s.Dynamics == "deterministic" {
		return "mean"
	}
	return fmt.Sprintf("sample %d", k+1)
}

func (s Scene) header() [2]string {
	real := "real ?"
	if s.RealKnown {
		real = "real " + strconv.FormatFloat(s.RealReturn, 'f', 3, 64)
	}
	return [2]string{
		fmt.Sprintf("%s · %s dynamics · step %d", s.Env, s.Dynamics, s.Step),
		fmt.Sprintf("return over the plan: predicted %s · %s", strconv.FormatFloat(s.PredReturn, 'f', 3, 64), real),
	}
}

// legend returns the legend's text and the labels of the two ends of its
// colour scale; ends are empty when every uncertainty is zero (a
// deterministic model), which the text then says instead of a scale.
func (s Scene) legend(maxSigma float64) (text, lo, hi string) {
	name := s.SigmaName
	if name == "" {
		name = "σ"
	}
	if maxSigma == 0 {
		return "uncertainty (" + name + "): none predicted", "", ""
	}
	return "uncertainty (" + name + ", one scale):", "0", FormatSigma(maxSigma)
}

func (s Scene) maxSigma() float64 {
	m := 0.0
	for _, row := range s.Sigma {
		for _, v := range row {
			if v > m && !math.IsInf(v, 1) {
				m = v
			}
		}
	}
	return m
}

func newLayout(s Scene, cell int) layout {
	l := layout{cell: cell, gap: max(2, cell/16), big: 2 * cell, horizon: max(s.horizon(), 1), samples: len(s.Futures)}
	l.bars = s.Sigma != nil
	l.barH = max(3, cell/12)
	for k := 0; k < l.samples; k++ {
		l.labelW = max(l.labelW, textWidth(s.rowLabel(k)))
	}
	for _, d := range s.Returns {
		l.labelW = max(l.labelW, textWidth(d.label()))
	}
	l.labelW = max(l.labelW, textWidth("real"), textWidth("plan")) + pad
	l.gridX = pad + l.big + pad + l.labelW
	l.gridY = pad + 2*lineH + pad
	l.realY = l.gridY + lineH + 2
	l.actY = l.realY + cell + l.gap
	l.rowY = l.actY + lineH + l.gap
	l.rowH = cell + l.gap
	if l.bars {
		l.rowH += 2 + l.barH + 1 + lineH
	}
	bottom := max(l.rowY+l.samples*l.rowH, l.realY+l.big+pad)
	l.w = l.gridX + l.horizon*(cell+l.gap) - l.gap + pad
	for _, line := range s.header() {
		l.w = max(l.w, 2*pad+textWidth(line))
	}
	l.h = bottom + pad
	if l.dist = len(s.Returns) > 0; l.dist {
		l.stripW = max(l.horizon*(cell+l.gap)-l.gap, minStrip)
		valueW := 0
		for _, d := range s.Returns {
			valueW = max(valueW, textWidth(d.valueText()))
		}
		l.w = max(l.w, l.gridX+l.stripW+pad+valueW+pad,
			2*pad+textWidth(s.returnsTitle()), 2*pad+legendWidth(s.returnsLegend()))
		l.distY = l.h
		l.h += s.returnsHeight() + pad
	}
	if l.bars {
		text, lo, hi := s.legend(s.maxSigma())
		lw := textWidth(text)
		if lo != "" {
			lw += pad + textWidth(lo) + 4 + legendBar + 4 + textWidth(hi)
		}
		l.w = max(l.w, 2*pad+lw)
		l.h += lineH + pad
	}
	return l
}

// col is the left edge of the tile of step h.
func (l layout) col(h int) int { return l.gridX + h*(l.cell+l.gap) }

// Compose draws the scene as one picture with tiles of cell×cell pixels:
//
//	header   env · dynamics · step t; predicted vs real return of the plan
//	left     the real current frame at twice the cell size
//	grid     columns t+1 … t+H; rows "real" (the frames that followed,
//	         a hatched "?" tile while unknown, "end" after the episode
//	         ended), "plan" (the action labels), then one row per imagined
//	         future ("sample k", or "mean" for one deterministic future)
//	         with a bar under each frame whose length and colour (green
//	         low → red high) give the step's uncertainty on one scale
//	         shared by all bars, its value printed beneath
//	returns  with Returns, a strip per first action: the distribution of
//	         its return as the planner saw it (see drawReturns)
//	legend   the colour scale from 0 to the largest uncertainty shown
//
// The output depends on the scene alone. Compose panics if cell < 8.
func Compose(s Scene, cell int) *image.RGBA {
	if cell < minCell {
		panic(fmt.Sprintf("picture: cell %d is below %d", cell, minCell))
	}
	l := newLayout(s, cell)
	face := newFace()
	img := image.NewRGBA(image.Rect(0, 0, l.w, l.h))
	fill(img, img.Rect, rgb(colBackground))

	hdr := s.header()
	drawText(img, face, pad, pad, rgb(colText), hdr[0])
	drawText(img, face, pad, pad+lineH, rgb(colDim), hdr[1])

	// The current frame.
	drawText(img, face, pad, l.gridY, rgb(colCurrent), fitText(fmt.Sprintf("now t=%d", s.Step), l.big))
	cur := image.Rect(pad, l.realY, pad+l.big, l.realY+l.big)
	tile(img, cur, s.Current, rgb(colCurrent))

	// Row labels (right-aligned against the grid) and column headings.
	label := func(y int, c color.RGBA, s string) {
		drawText(img, face, l.gridX-pad-textWidth(s), y, c, s)
	}
	label(l.realY+(cell-lineH)/2, rgb(colText), "real")
	label(l.actY, rgb(colAction), "plan")
	for h := 0; h < l.horizon; h++ {
		x := l.col(h)
		head := fitText(fmt.Sprintf("t+%d", h+1), cell)
		drawText(img, face, x+(cell-textWidth(head))/2, l.gridY, rgb(colDim), head)
	}

	// Real frames that followed.
	for h := 0; h < l.horizon; h++ {
		r := image.Rect(l.col(h), l.realY, l.col(h)+cell, l.realY+cell)
		if h < len(s.Real) && s.Real[h] != nil {
			tile(img, r, s.Real[h], rgb(colBorder))
			continue
		}
		mark := "?"
		if s.RealEnded {
			mark = "end"
		}
		placeholder(img, face, r, mark)
	}

	// The plan.
	for h, a := range s.Actions {
		if h >= l.horizon {
			break
		}
		a = fitText(a, cell)
		drawText(img, face, l.col(h)+(cell-textWidth(a))/2, l.actY, rgb(colAction), a)
	}

	// Imagined futures and their uncertainty.
	maxSigma := s.maxSigma()
	for k, row := range s.Futures {
		y := l.rowY + k*l.rowH
		label(y+(cell-lineH)/2, rgb(colText), s.rowLabel(k))
		for h := 0; h < l.horizon; h++ {
			r := image.Rect(l.col(h), y, l.col(h)+cell, y+cell)
			if h < len(row) && row[h] != nil {
				tile(img, r, row[h], rgb(colBorder))
			} else {
				placeholder(img, face, r, "")
			}
			if !l.bars || k >= len(s.Sigma) || h >= len(s.Sigma[k]) {
				continue
			}
			v := s.Sigma[k][h]
			by := y + cell + 2
			bar(img, image.Rect(r.Min.X, by, r.Max.X, by+l.barH), v, maxSigma)
			label := fitText(FormatSigma(v), cell)
			drawText(img, face, r.Min.X+(cell-textWidth(label))/2, by+l.barH+1, rgb(colDim), label)
		}
	}

	if l.dist {
		drawReturns(img, face, s, l)
	}

	if l.bars {
		text, lo, hi := s.legend(maxSigma)
		y := l.h - pad - lineH
		x := pad
		drawText(img, face, x, y, rgb(colDim), text)
		if lo == "" {
			return img
		}
		x += textWidth(text) + pad
		drawText(img, face, x, y, rgb(colDim), lo)
		x += textWidth(lo) + 4
		for i := 0; i < legendBar; i++ {
			fill(img, image.Rect(x+i, y+2, x+i+1, y+lineH-2), UncertaintyColor(float64(i)/float64(legendBar-1)))
		}
		x += legendBar + 4
		drawText(img, face, x, y, rgb(colDim), hi)
	}
	return img
}

// bar draws an uncertainty bar: a track, filled from the left in
// proportion v/maxV with the colour of that proportion.
func bar(img *image.RGBA, r image.Rectangle, v, maxV float64) {
	fill(img, r, rgb(colTrack))
	t := 0.0
	if maxV > 0 && v > 0 {
		t = math.Min(v/maxV, 1)
	}
	w := int(math.Round(t * float64(r.Dx())))
	if v > 0 && w == 0 {
		w = 1 // a positive value is never drawn as nothing
	}
	fill(img, image.Rect(r.Min.X, r.Min.Y, r.Min.X+w, r.Max.Y), UncertaintyColor(t))
}

// placeholder draws a hatched tile with a centred mark.
func placeholder(img *image.RGBA, face font.Face, r image.Rectangle, mark string) {
	fill(img, r, rgb(colPlaceholder))
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			if (x-r.Min.X+y-r.Min.Y)%8 == 0 {
				img.SetRGBA(x, y, rgb(colHatch))
			}
		}
	}
	outline(img, r, rgb(colBorder))
	if mark != "" {
		mark = fitText(mark, r.Dx())
		drawText(img, face, r.Min.X+(r.Dx()-textWidth(mark))/2, r.Min.Y+(r.Dy()-lineH)/2, rgb(colDim), mark)
	}
}

// tile draws frame into r, scaled to fit with its aspect ratio kept and
// centred, and outlines r. A nil frame draws a placeholder.
func tile(img *image.RGBA, r image.Rectangle, frame *image.RGBA, border color.RGBA) {
	fill(img, r, color.RGBA{0, 0, 0, 255})
	if frame != nil && !frame.Rect.Empty() {
		fw, fh := frame.Rect.Dx(), frame.Rect.Dy()
		w, h := r.Dx(), r.Dy()
		if fw*h > fh*w { // wider than the tile
			h = max(1, fh*w/fw)
		} else {
			w = max(1, fw*h/fh)
		}
		x0, y0 := r.Min.X+(r.Dx()-w)/2, r.Min.Y+(r.Dy()-h)/2
		ScaleNearest(img, image.Rect(x0, y0, x0+w, y0+h), frame)
	}
	outline(img, r, border)
}

// ScaleNearest draws src into the rectangle r of dst, scaled with
// nearest-neighbour sampling: destination pixel (x, y) takes source pixel
//
//	(⌊(x − r.Min.X + ½)·W/w⌋, ⌊(y − r.Min.Y + ½)·H/h⌋)
//
// of the W×H source, for a w×h rectangle r. Alpha is copied as is.
func ScaleNearest(dst *image.RGBA, r image.Rectangle, src *image.RGBA) {
	r = r.Intersect(dst.Rect)
	w, h := r.Dx(), r.Dy()
	sw, sh := src.Rect.Dx(), src.Rect.Dy()
	if w <= 0 || h <= 0 || sw == 0 || sh == 0 {
		return
	}
	for y := 0; y < h; y++ {
		sy := src.Rect.Min.Y + (2*y+1)*sh/(2*h)
		srow := src.Pix[src.PixOffset(src.Rect.Min.X, sy):]
		drow := dst.Pix[dst.PixOffset(r.Min.X, r.Min.Y+y):]
		for x := 0; x < w; x++ {
			sx := (2*x + 1) * sw / (2 * w)
			copy(drow[4*x:4*x+4], srow[4*sx:4*sx+4])
		}
	}
}

// fill paints r (clipped to img) with c.
func fill(img *image.RGBA, r image.Rectangle, c color.RGBA) {
	draw.Draw(img, r, image.NewUniform(c), image.Point{}, draw.Src)
}

// outline draws a one-pixel border just inside r.
func outline(img *image.RGBA, r image.Rectangle, c color.RGBA) {
	fill(img, image.Rect(r.Min.X, r.Min.Y, r.Max.X, r.Min.Y+1), c)
	fill(img, image.Rect(r.Min.X, r.Max.Y-1, r.Max.X, r.Max.Y), c)
	fill(img, image.Rect(r.Min.X, r.Min.Y, r.Min.X+1, r.Max.Y), c)
	fill(img, image.Rect(r.Max.X-1, r.Min.Y, r.Max.X, r.Max.Y), c)
}
