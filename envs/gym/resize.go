package gym

import "image"

// resizer scales RGB frames into RGBA images by area averaging: every
// destination pixel is the mean of the source area it covers,
//
//	d(x, y) = Σ_{i,j} a_x(i) · a_y(j) · s(i, j)
//
// where a_x(i) is the share of destination column x's width that source
// column i covers (Σ_i a_x(i) = 1), and a_y likewise for rows. The weights
// are exact rationals: destination column x spans [x·W, (x+1)·W) and
// source column i spans [i·w, (i+1)·w) in units of 1/(w·W) of the source
// width, for a source of width W resized to width w. Averaging the area
// keeps thin lines (a pole, a rod) that sampling at a few points would
// drop. The two passes are separable: rows first into a float32 scratch
// buffer, then columns. A resizer keeps its weights and scratch between
// calls; it is not safe for concurrent use.
type resizer struct {
	cols, rows axisWeights
	tmp        []float32 // source rows × destination columns × 3
}

// axisWeights maps one axis of a source of length src onto a destination
// of length dst: destination index k averages source indices first[k] …
// first[k]+len(weights of k)−1 with the weights w[off[k]:off[k+1]].
type axisWeights struct {
	src, dst int
	first    []int
	off      []int
	w        []float32
}

// set computes the weights for src → dst unless they are already those.
func (a *axisWeights) set(src, dst int) {
	if a.src == src && a.dst == dst {
		return
	}
	a.src, a.dst = src, dst
	a.first, a.off, a.w = a.first[:0], append(a.off[:0], 0), a.w[:0]
	for k := range dst {
		lo, hi := k*src, (k+1)*src // in units of 1/dst source pixels
		first := lo / dst
		a.first = append(a.first, first)
		for i := first; i*dst < hi; i++ {
			overlap := min(hi, (i+1)*dst) - max(lo, i*dst)
			a.w = append(a.w, float32(overlap)/float32(src))
		}
		a.off = append(a.off, len(a.w))
	}
}

// draw resizes the frame f into dst's bounds, with opaque alpha.
func (r *resizer) draw(dst *image.RGBA, f frame) {
	b := dst.Bounds()
	dw, dh := b.Dx(), b.Dy()
	if dw <= 0 || dh <= 0 || f.W == 0 || f.H == 0 {
		return
	}
	r.cols.set(f.W, dw)
	r.rows.set(f.H, dh)
	n := f.H * dw * 3
	if cap(r.tmp) < n {
		r.tmp = make([]float32, n)
	}
	tmp := r.tmp[:n]
	// Rows: every source row is resized to the destination's width.
	for y := range f.H {
		src := f.Pix[y*f.W*3 : (y+1)*f.W*3]
		out := tmp[y*dw*3 : (y+1)*dw*3]
		for x := range dw {
			var cr, cg, cb float32
			i := r.cols.first[x] * 3
			for _, w := range r.cols.w[r.cols.off[x]:r.cols.off[x+1]] {
				cr += w * float32(src[i])
				cg += w * float32(src[i+1])
				cb += w * float32(src[i+2])
				i += 3
			}
			out[3*x], out[3*x+1], out[3*x+2] = cr, cg, cb
		}
	}
	// Columns: every destination row averages its source rows.
	for y := range dh {
		row := dst.Pix[dst.PixOffset(b.Min.X, b.Min.Y+y):]
		ws := r.rows.w[r.rows.off[y]:r.rows.off[y+1]]
		j0 := r.rows.first[y]
		for x := range dw {
			var cr, cg, cb float32
			for k, w := range ws {
				in := tmp[(j0+k)*dw*3+3*x:]
				cr += w * in[0]
				cg += w * in[1]
				cb += w * in[2]
			}
			row[4*x], row[4*x+1], row[4*x+2], row[4*x+3] = toByte(cr), toByte(cg), toByte(cb), 255
		}
	}
}

// toByte rounds a channel value to the nearest byte.
func toByte(v float32) uint8 {
	switch {
	case v <= 0:
		return 0
	case v >= 255:
		return 255
	}
	return uint8(v + 0.5)
}
