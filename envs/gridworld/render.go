package gridworld

import (
	"image"
	"image/color"
)

// Cells at least this many pixels wide and high get a one-pixel grid line
// on their top and left edges.
const gridLineMinCell = 12

// Cells at least this many pixels on each side show the agent as a disc;
// smaller ones are filled whole, so that the agent stays visible.
const discMinCell = 6

// discRadius is the agent disc's radius as a fraction of the cell's side.
const discRadius = 0.36

// background caches what Render needs for one frame size: the static
// picture (the tiles) and the agent's disc. pix holds w·h RGBA pixels with
// stride 4w; xs[c] and ys[r] are the first pixel column of grid column c
// and the first pixel row of grid row r (xs[Cols] = w, ys[Rows] = h). Cells
// differ in size by at most one pixel, so discs holds one mask per cell
// size met.
type background struct {
	w, h   int
	pix    []uint8
	xs, ys []int
	discs  []disc
}

// disc is the agent's mask for a cw×ch cell: mask[y·cw + x] is one of
// maskNone, maskFill or maskRim.
type disc struct {
	cw, ch int
	mask   []uint8
}

const (
	maskNone = iota
	maskFill
	maskRim
)

// newDisc computes the mask of a disc of radius discRadius·side centred in
// a cw×ch cell (an ellipse when the cell is not square). Points beyond the
// inner radius, one and a half pixels in from the edge, form the rim, which
// only discs wide enough to keep a filled centre get.
func newDisc(cw, ch int) disc {
	d := disc{cw: cw, ch: ch, mask: make([]uint8, cw*ch)}
	cx, cy := float64(cw)/2, float64(ch)/2
	rx, ry := discRadius*float64(cw), discRadius*float64(ch)
	inner := 2.0
	if rx >= 6 {
		inner = (1 - 1.5/rx) * (1 - 1.5/rx)
	}
	for y := range ch {
		dy := (float64(y) + 0.5 - cy) / ry
		for x := range cw {
			dx := (float64(x) + 0.5 - cx) / rx
			switch r := dx*dx + dy*dy; {
			case r > 1:
			case r > inner:
				d.mask[y*cw+x] = maskRim
			default:
				d.mask[y*cw+x] = maskFill
			}
		}
	}
	return d
}

// tileColor is the opaque colour of tile t.
func tileColor(t Tile) color.RGBA {
	switch t {
	case Start:
		return color.RGBA{240, 228, 190, 255}
	case Wall:
		return color.RGBA{118, 118, 122, 255}
	case Hole:
		return color.RGBA{22, 32, 72, 255}
	case Goal:
		return color.RGBA{56, 168, 78, 255}
	case Ice:
		return color.RGBA{178, 232, 244, 255}
	}
	return color.RGBA{236, 236, 228, 255}
}

// agentColor and agentRim draw the agent: a red-orange disc with a darker
// rim where the disc is large enough to show one.
func agentColor() color.RGBA { return color.RGBA{232, 78, 30, 255} }
func agentRim() color.RGBA   { return color.RGBA{150, 40, 14, 255} }

// windTint is the colour that floor in the windiest column leans toward.
func windTint() color.RGBA { return color.RGBA{176, 198, 228, 255} }

// mix returns (1−f)·a + f·b, opaque.
func mix(a, b color.RGBA, f float64) color.RGBA {
	l := func(x, y uint8) uint8 { return uint8(float64(x)*(1-f) + float64(y)*f + 0.5) }
	return color.RGBA{l(a.R, b.R), l(a.G, b.G), l(a.B, b.B), 255}
}

// cellEdges returns e[i] = ⌈i·pixels/cells⌉ for i = 0 … cells: pixel p
// shows cell ⌊p·cells/pixels⌋, so cell i covers pixels e[i] … e[i+1]−1
// (none when cells are smaller than pixels and no pixel maps to it).
func cellEdges(cells, pixels int) []int {
	e := make([]int, cells+1)
	for i := range e {
		e[i] = (i*pixels + cells - 1) / cells
	}
	return e
}

// draw renders the tiles of m at w×h.
func (bg *background) draw(m *Map, w, h int) {
	bg.w, bg.h = w, h
	bg.pix = make([]uint8, 4*w*h)
	bg.xs, bg.ys = cellEdges(m.Cols, w), cellEdges(m.Rows, h)
	bg.discs = bg.discs[:0]
	for r := range m.Rows {
		for c := range m.Cols {
			cw, ch := bg.xs[c+1]-bg.xs[c], bg.ys[r+1]-bg.ys[r]
			if cw < discMinCell || ch < discMinCell || bg.disc(cw, ch) != nil {
				continue
			}
			bg.discs = append(bg.discs, newDisc(cw, ch))
		}
	}
	maxWind := 0
	for _, v := range m.Wind {
		maxWind = max(maxWind, v, -v)
	}
	lines := w >= gridLineMinCell*m.Cols && h >= gridLineMinCell*m.Rows
	i := 0
	for y := 0; y < h; y++ {
		r := y * m.Rows / h
		for x := 0; x < w; x++ {
			c := x * m.Cols / w
			t := m.At(r, c)
			col := tileColor(t)
			if maxWind > 0 && (t == Floor || t == Start) {
				col = mix(col, windTint(), 0.8*float64(abs(m.Wind[c]))/float64(maxWind))
			}
			if lines && (x == bg.xs[c] || y == bg.ys[r]) {
				col = mix(col, color.RGBA{0, 0, 0, 255}, 0.14)
			}
			bg.pix[i], bg.pix[i+1], bg.pix[i+2], bg.pix[i+3] = col.R, col.G, col.B, 255
			i += 4
		}
	}
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

// Render draws the grid and the agent into dst, scaled to dst's bounds:
// each pixel shows the cell under its top-left corner (so grids larger
// than the frame work too), and the agent is a red-orange disc, or its
// whole cell (at least one pixel) where cells are small. The tiles are
// drawn once per frame size and copied afterwards, so a Render at an
// unchanged size allocates nothing. All colours are opaque.
func (e *Env) Render(dst *image.RGBA) {
	b := dst.Bounds()
	w, h := b.Dx(), b.Dy()
	if w <= 0 || h <= 0 {
		return
	}
	bg := &e.canvas
	if bg.w != w || bg.h != h || bg.pix == nil {
		bg.draw(e.m, w, h)
	}
	row := 4 * w
	if dst.Stride == row {
		copy(dst.Pix[:row*h], bg.pix)
	} else {
		for y := 0; y < h; y++ {
			copy(dst.Pix[y*dst.Stride:y*dst.Stride+row], bg.pix[y*row:(y+1)*row])
		}
	}
	e.drawAgent(dst)
}

// disc returns the cached mask for a cw×ch cell, or nil.
func (bg *background) disc(cw, ch int) *disc {
	for i := range bg.discs {
		if bg.discs[i].cw == cw && bg.discs[i].ch == ch {
			return &bg.discs[i]
		}
	}
	return nil
}

// drawAgent paints the agent over its cell: the cached disc, or the whole
// cell where it is too small for one.
func (e *Env) drawAgent(dst *image.RGBA) {
	bg := &e.canvas
	x0, x1 := span(bg.xs, e.col, e.m.Cols, bg.w)
	y0, y1 := span(bg.ys, e.row, e.m.Rows, bg.h)
	fill, rim := agentColor(), agentRim()
	d := bg.disc(x1-x0, y1-y0)
	for y := y0; y < y1; y++ {
		for x := x0; x < x1; x++ {
			k := uint8(maskFill)
			if d != nil {
				k = d.mask[(y-y0)*d.cw+x-x0]
			}
			switch k {
			case maskFill:
				setPix(dst, x, y, fill)
			case maskRim:
				setPix(dst, x, y, rim)
			}
		}
	}
}

// span returns the pixel range [lo, hi) of cell i; a cell that no pixel
// shows gets the one pixel holding its left or top edge.
func span(edges []int, i, cells, pixels int) (lo, hi int) {
	lo, hi = edges[i], edges[i+1]
	if hi <= lo {
		lo = i * pixels / cells
		hi = lo + 1
	}
	return lo, hi
}

// setPix writes c at (x, y) relative to dst's top-left corner.
func setPix(dst *image.RGBA, x, y int, c color.RGBA) {
	i := y*dst.Stride + 4*x
	p := dst.Pix[i : i+4 : i+4]
	p[0], p[1], p[2], p[3] = c.R, c.G, c.B, c.A
}
