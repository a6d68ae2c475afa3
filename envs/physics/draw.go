package physics

import (
	"image"
	"math"
)

// The pictures are drawn in the coordinates of the Gymnasium original's
// pygame screen (pixels, y up, since pygame's surface is flipped before it
// is shown) and mapped onto the destination by a view: the Gymnasium screen
// scaled to fit the destination and centred in it. Shapes are tested per
// pixel against the pixel centre, only near the shape (within its bounding
// box, and for lines and boxes within the row's span of a bounding
// rectangle), and blended by their approximate coverage of the pixel, so
// that a small change of state changes the picture a little rather than
// not at all.

// minHalfStroke is the least half-width, in destination pixels, of the
// strokes that carry the state (poles, rods, links, arcs): at 32×32 the
// originals' widths are below one pixel.
const minHalfStroke = 0.6

// minHalfHair is the least half-width, in destination pixels, of lines
// that carry no state.
const minHalfHair = 0.3

// rgb is an opaque colour 0xRRGGBB.
type rgb uint32

func (c rgb) r() uint8 { return uint8(c >> 16) }
func (c rgb) g() uint8 { return uint8(c >> 8) }
func (c rgb) b() uint8 { return uint8(c) }

const (
	white rgb = 0xffffff
	black rgb = 0x000000
)

// view maps Gymnasium screen coordinates (x right, y up, origin at the
// bottom left of a screen gw×gh) to destination pixels (y down):
//
//	px = ox + k·x,   py = oy − k·y,   k = min(W/gw, H/gh)
//
// where W×H is the destination's size and (ox, oy) centres the screen.
type view struct {
	k, ox, oy float64
}

func newView(w, h int, gw, gh float64) view {
	k := min(float64(w)/gw, float64(h)/gh)
	return view{k: k, ox: (float64(w) - k*gw) / 2, oy: (float64(h) + k*gh) / 2}
}

// pt maps a screen point to destination pixel coordinates.
func (v view) pt(x, y float64) (float64, float64) { return v.ox + v.k*x, v.oy - v.k*y }

// stroke maps a screen half-width to pixels, at least minHalfStroke.
func (v view) stroke(hw float64) float64 { return max(v.k*hw, minHalfStroke) }

// hair maps the half-width of a line that carries no state (a track, a
// target height) to pixels, at least minHalfHair: faint at small sizes, so
// that it does not hide the parts that move.
func (v view) hair(hw float64) float64 { return max(v.k*hw, minHalfHair) }

// raster is a view of a destination's pixels for one drawing pass: pixel
// (x, y), 0 ≤ x < w, 0 ≤ y < h, relative to the destination's Min, starts
// at pix[y·stride + 4x] and holds R, G, B, A.
type raster struct {
	pix    []uint8
	stride int
	w, h   int
}

// newRaster returns the raster of dst, or ok = false when dst is empty.
func newRaster(dst *image.RGBA) (r raster, ok bool) {
	b := dst.Rect
	if b.Dx() <= 0 || b.Dy() <= 0 {
		return raster{}, false
	}
	off := dst.PixOffset(b.Min.X, b.Min.Y)
	return raster{pix: dst.Pix[off:], stride: dst.Stride, w: b.Dx(), h: b.Dy()}, true
}

// background caches a picture's state-independent part at one size, as
// tightly packed RGBA rows (stride 4w).
type background struct {
	w, h int
	pix  []uint8
}

// fill copies the cached background into r, first drawing it with draw
// when the cache holds another size.
func (bg *background) fill(r raster, draw func(raster)) {
	if bg.pix == nil || bg.w != r.w || bg.h != r.h {
		bg.w, bg.h = r.w, r.h
		bg.pix = make([]uint8, 4*r.w*r.h)
		c := raster{pix: bg.pix, stride: 4 * r.w, w: r.w, h: r.h}
		c.clear(white)
		draw(c)
	}
	row := 4 * r.w
	for y := 0; y < r.h; y++ {
		copy(r.pix[y*r.stride:y*r.stride+row], bg.pix[y*row:(y+1)*row])
	}
}

// clear paints every pixel c.
func (r raster) clear(c rgb) {
	for y := 0; y < r.h; y++ {
		p := r.pix[y*r.stride : y*r.stride+4*r.w]
		for i := 0; i < len(p); i += 4 {
			p[i], p[i+1], p[i+2], p[i+3] = c.r(), c.g(), c.b(), 255
		}
	}
}

// blend mixes c into the pixel at offset i with weight a ∈ (0, 1].
func (r raster) blend(i int, c rgb, a float64) {
	p := r.pix[i : i+4 : i+4]
	if a >= 1 {
		p[0], p[1], p[2], p[3] = c.r(), c.g(), c.b(), 255
		return
	}
	t := uint32(a*256 + 0.5)
	p[0] = uint8((uint32(c.r())*t + uint32(p[0])*(256-t)) >> 8)
	p[1] = uint8((uint32(c.g())*t + uint32(p[1])*(256-t)) >> 8)
	p[2] = uint8((uint32(c.b())*t + uint32(p[2])*(256-t)) >> 8)
	p[3] = 255
}

// span clips the pixel range covering [lo, hi] to [0, n); ok is false when
// it is empty (or lo, hi are not finite).
func span(lo, hi float64, n int) (a, b int, ok bool) {
	if !(lo < float64(n)) || !(hi > 0) {
		return 0, 0, false
	}
	if lo < 0 {
		lo = 0
	}
	if hi > float64(n) {
		hi = float64(n)
	}
	return int(lo), int(math.Ceil(hi)), true
}

// overlap is the length of [c−0.5, c+0.5] ∩ [−h, h]: the coverage of a
// pixel whose centre lies at signed distance c from the middle of a band
// of half-width h.
func overlap(c, h float64) float64 {
	lo := max(c-0.5, -h)
	hi := min(c+0.5, h)
	if hi <= lo {
		return 0
	}
	return hi - lo
}

// segment is a line segment from (ax, ay) to (ax+dx, ay+dy) in pixels;
// inv is 1/(dx²+dy²), or 0 for a point.
type segment struct {
	ax, ay, dx, dy, inv float64
}

func seg(ax, ay, bx, by float64) segment {
	s := segment{ax: ax, ay: ay, dx: bx - ax, dy: by - ay}
	if l2 := s.dx*s.dx + s.dy*s.dy; l2 > 0 {
		s.inv = 1 / l2
	}
	return s
}

// dist2 is the squared distance from (x, y) to the segment.
func (s segment) dist2(x, y float64) float64 {
	px, py := x-s.ax, y-s.ay
	t := (px*s.dx + py*s.dy) * s.inv
	if t < 0 {
		t = 0
	} else if t > 1 {
		t = 1
	}
	ex, ey := px-t*s.dx, py-t*s.dy
	return ex*ex + ey*ey
}

// strokes draws the union of the segments, each thickened to half-width
// hw with round ends: a pixel's coverage follows its distance d to the
// nearest segment,
//
//	coverage = |[d − ½, d + ½] ∩ [−hw, hw]|.
//
// A point segment draws a disc of radius hw.
func (r raster) strokes(ss []segment, hw float64, c rgb) {
	if len(ss) == 0 {
		return
	}
	reach := hw + 0.5
	x0, y0 := math.Inf(1), math.Inf(1)
	x1, y1 := math.Inf(-1), math.Inf(-1)
	for _, s := range ss {
		x0 = min(x0, min(s.ax, s.ax+s.dx))
		x1 = max(x1, max(s.ax, s.ax+s.dx))
		y0 = min(y0, min(s.ay, s.ay+s.dy))
		y1 = max(y1, max(s.ay, s.ay+s.dy))
	}
	xa, xb, okx := span(x0-reach, x1+reach, r.w)
	ya, yb, oky := span(y0-reach, y1+reach, r.h)
	if !okx || !oky {
		return
	}
	reach2 := reach * reach
	for y := ya; y < yb; y++ {
		cy := float64(y) + 0.5
		row := y * r.stride
		for x := xa; x < xb; x++ {
			cx := float64(x) + 0.5
			d2 := math.Inf(1)
			for _, s := range ss {
				d2 = min(d2, s.dist2(cx, cy))
			}
			if d2 >= reach2 {
				continue
			}
			if a := overlap(math.Sqrt(d2), hw); a > 0 {
				r.blend(row+4*x, c, a)
			}
		}
	}
}

// line draws one segment from (ax, ay) to (bx, by) thickened to
// half-width hw with round ends, as strokes does, testing per row only the
// pixels inside the segment's rectangle grown by hw + ½.
func (r raster) line(ax, ay, bx, by, hw float64, c rgb) {
	s := seg(ax, ay, bx, by)
	ux, uy := 1.0, 0.0
	if l := math.Hypot(s.dx, s.dy); l > 0 {
		ux, uy = s.dx/l, s.dy/l
	}
	reach := hw + 0.5
	hu := math.Hypot(s.dx, s.dy)/2 + reach
	cx, cy := ax+s.dx/2, ay+s.dy/2
	ya, yb, ok := span(min(ay, by)-reach, max(ay, by)+reach, r.h)
	if !ok {
		return
	}
	reach2 := reach * reach
	for y := ya; y < yb; y++ {
		py := float64(y) + 0.5
		xa, xb, ok := rowSpan(cx, cy, ux, uy, hu, reach, py, r.w)
		if !ok {
			continue
		}
		row := y * r.stride
		for x := xa; x < xb; x++ {
			d2 := s.dist2(float64(x)+0.5, py)
			if d2 >= reach2 {
				continue
			}
			if a := overlap(math.Sqrt(d2), hw); a > 0 {
				r.blend(row+4*x, c, a)
			}
		}
	}
}

// disc draws a disc of radius rad centred at (x, y).
func (r raster) disc(x, y, rad float64, c rgb) { r.line(x, y, x, y, rad, c) }

// box fills the rectangle centred at (cx, cy) with unit axis (ux, uy),
// half-length hu along the axis and half-width hv across it; a pixel's
// coverage is the product of its coverages along and across the axis.
func (r raster) box(cx, cy, ux, uy, hu, hv float64, c rgb) {
	ey := math.Abs(uy)*hu + math.Abs(ux)*hv + 0.5
	ya, yb, ok := span(cy-ey, cy+ey, r.h)
	if !ok {
		return
	}
	for y := ya; y < yb; y++ {
		py := float64(y) + 0.5
		xa, xb, ok := rowSpan(cx, cy, ux, uy, hu+0.5, hv+0.5, py, r.w)
		if !ok {
			continue
		}
		dy := py - cy
		row := y * r.stride
		for x := xa; x < xb; x++ {
			dx := float64(x) + 0.5 - cx
			a := overlap(dx*ux+dy*uy, hu)
			if a == 0 {
				continue
			}
			if a *= overlap(-dx*uy+dy*ux, hv); a > 0 {
				r.blend(row+4*x, c, a)
			}
		}
	}
}

// rowSpan returns the pixels [xa, xb) of a row, clipped to [0, w), whose
// centres' x lies within the rectangle centred at (cx, cy) with unit axis
// (ux, uy), half-length hu and half-width hv, on the line y = py.
func rowSpan(cx, cy, ux, uy, hu, hv, py float64, w int) (xa, xb int, ok bool) {
	dy := py - cy
	lo, hi := math.Inf(-1), math.Inf(1)
	lo, hi = slab(ux, dy*uy, hu, lo, hi)  // |dx·ux + dy·uy| ≤ hu
	lo, hi = slab(-uy, dy*ux, hv, lo, hi) // |−dx·uy + dy·ux| ≤ hv
	if !(lo <= hi) {
		return 0, 0, false
	}
	// Pixel x has its centre at x + ½.
	return span(cx+lo-0.5, cx+hi+0.5, w)
}

// slab narrows [lo, hi] to the dx with |a·dx + b| ≤ h.
func slab(a, b, h, lo, hi float64) (float64, float64) {
	if a == 0 {
		if math.Abs(b) > h {
			return 1, 0
		}
		return lo, hi
	}
	l, u := (-h-b)/a, (h-b)/a
	if a < 0 {
		l, u = u, l
	}
	return max(lo, l), min(hi, u)
}

// triangle fills the triangle with the given corners; a pixel's coverage
// is ½ plus its signed distance to the nearest edge, clamped to [0, 1].
func (r raster) triangle(x0, y0, x1, y1, x2, y2 float64, c rgb) {
	// Orient the corners counter-clockwise in pixel coordinates.
	if (x1-x0)*(y2-y0)-(y1-y0)*(x2-x0) < 0 {
		x1, y1, x2, y2 = x2, y2, x1, y1
	}
	type edge struct{ x, y, nx, ny float64 }
	var es [3]edge
	pts := [3][2]float64{{x0, y0}, {x1, y1}, {x2, y2}}
	for i := range es {
		a, b := pts[i], pts[(i+1)%3]
		dx, dy := b[0]-a[0], b[1]-a[1]
		l := math.Hypot(dx, dy)
		if l == 0 {
			return
		}
		es[i] = edge{a[0], a[1], -dy / l, dx / l}
	}
	xa, xb, okx := span(min(x0, min(x1, x2))-0.5, max(x0, max(x1, x2))+0.5, r.w)
	ya, yb, oky := span(min(y0, min(y1, y2))-0.5, max(y0, max(y1, y2))+0.5, r.h)
	if !okx || !oky {
		return
	}
	for y := ya; y < yb; y++ {
		cy := float64(y) + 0.5
		for x := xa; x < xb; x++ {
			cx := float64(x) + 0.5
			d := math.Inf(1)
			for _, e := range es {
				d = min(d, (cx-e.x)*e.nx+(cy-e.y)*e.ny)
			}
			if a := min(d+0.5, 1); a > 0 {
				r.blend(y*r.stride+4*x, c, a)
			}
		}
	}
}

// arrow draws an arc of radius rad about (cx, cy) with an arrowhead at its
// end, all of half-width hw with round ends. Angles are counter-clockwise
// from +x as seen in the picture (pixel y runs down); the arc starts at a0
// and turns through sweep, counter-clockwise when sweep > 0, at most
// maxSweep either way. The arrowhead is two barbs of length head back from
// the tip, along the direction of motion and half as far out and in. A
// pixel's coverage follows its distance to the union, as in strokes; the
// distance to the arc is |ρ − rad| where the pixel's angle lies within the
// arc, and to the nearer end elsewhere.
func (r raster) arrow(cx, cy, rad, a0, sweep, head, hw float64, c rgb) {
	sweep = max(-maxSweep, min(sweep, maxSweep))
	// Make the arc counter-clockwise from lo to lo+s.
	lo, s := a0, sweep
	if s < 0 {
		lo, s = a0+s, -s
	}
	// Work in coordinates centred on (cx, cy) with y up.
	s0, c0 := math.Sincos(lo)
	s1, c1 := math.Sincos(lo + s)
	inArc := func(x, y float64) bool {
		if s <= math.Pi {
			return c0*y-s0*x >= 0 && x*s1-y*c1 >= 0
		}
		return !(c1*y-s1*x > 0 && x*s0-y*c0 > 0)
	}
	e0x, e0y := rad*c0, rad*s0
	e1x, e1y := rad*c1, rad*s1
	// The tip, the direction of motion and the outward normal there.
	te, dir := a0+sweep, 1.0
	if sweep < 0 {
		dir = -1
	}
	st, ct := math.Sincos(te)
	tx, ty := rad*ct, rad*st
	mx, my := -dir*st, dir*ct
	barbs := [2]segment{
		seg(tx, ty, tx-head*mx+head*ct/2, ty-head*my+head*st/2),
		seg(tx, ty, tx-head*mx-head*ct/2, ty-head*my-head*st/2),
	}

	x0, x1 := min(e0x, e1x), max(e0x, e1x)
	y0, y1 := min(e0y, e1y), max(e0y, e1y)
	for _, q := range [4][2]float64{{rad, 0}, {0, rad}, {-rad, 0}, {0, -rad}} {
		if inArc(q[0], q[1]) {
			x0, x1 = min(x0, q[0]), max(x1, q[0])
			y0, y1 = min(y0, q[1]), max(y1, q[1])
		}
	}
	for _, b := range barbs {
		ex, ey := b.ax+b.dx, b.ay+b.dy
		x0, x1 = min(x0, ex), max(x1, ex)
		y0, y1 = min(y0, ey), max(y1, ey)
	}
	reach := hw + 0.5
	xa, xb, okx := span(cx+x0-reach, cx+x1+reach, r.w)
	ya, yb, oky := span(cy-y1-reach, cy-y0+reach, r.h)
	if !okx || !oky {
		return
	}
	reach2 := reach * reach
	// Pixels farther than reach from the circle and outside the barbs'
	// box are skipped before any distance is computed.
	inner, outer := max(rad-reach, 0), rad+reach
	inner2, outer2 := inner*inner, outer*outer
	bx0, bx1 := min(barbs[0].ax+barbs[0].dx, barbs[1].ax+barbs[1].dx, tx)-reach, max(barbs[0].ax+barbs[0].dx, barbs[1].ax+barbs[1].dx, tx)+reach
	by0, by1 := min(barbs[0].ay+barbs[0].dy, barbs[1].ay+barbs[1].dy, ty)-reach, max(barbs[0].ay+barbs[0].dy, barbs[1].ay+barbs[1].dy, ty)+reach
	for py := ya; py < yb; py++ {
		y := cy - (float64(py) + 0.5)
		row := py * r.stride
		nearBarbRow := y >= by0 && y <= by1
		for px := xa; px < xb; px++ {
			x := float64(px) + 0.5 - cx
			rho2 := x*x + y*y
			nearArc := rho2 > inner2 && rho2 < outer2
			nearBarb := nearBarbRow && x >= bx0 && x <= bx1
			if !nearArc && !nearBarb {
				continue
			}
			d2 := math.Inf(1)
			if nearBarb {
				d2 = min(barbs[0].dist2(x, y), barbs[1].dist2(x, y))
			}
			if nearArc {
				if inArc(x, y) {
					d := math.Sqrt(rho2) - rad
					d2 = min(d2, d*d)
				} else {
					d2 = min(d2, (x-e0x)*(x-e0x)+(y-e0y)*(y-e0y), (x-e1x)*(x-e1x)+(y-e1y)*(y-e1y))
				}
			}
			if d2 >= reach2 {
				continue
			}
			if a := overlap(math.Sqrt(d2), hw); a > 0 {
				r.blend(row+4*px, c, a)
			}
		}
	}
}

// maxSweep is the longest arc that arrow draws: seven eighths of a turn.
const maxSweep = 1.75 * math.Pi
