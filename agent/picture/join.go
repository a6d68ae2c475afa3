package picture

import (
	"fmt"
	"image"
	"image/draw"
	"math"
)

// Beside places pictures side by side, top-aligned, with gap pixels of
// background between them; the result is as tall as the tallest.
func Beside(gap int, pics ...*image.RGBA) *image.RGBA {
	w, h := 0, 0
	for i, p := range pics {
		if i > 0 {
			w += gap
		}
		w += p.Rect.Dx()
		h = max(h, p.Rect.Dy())
	}
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	fill(img, img.Rect, rgb(colBackground))
	x := 0
	for _, p := range pics {
		draw.Draw(img, image.Rect(x, 0, x+p.Rect.Dx(), p.Rect.Dy()), p, p.Rect.Min, draw.Src)
		x += p.Rect.Dx() + gap
	}
	return img
}

// Pad returns pic grown to at least w×h pixels, drawn at the top-left
// corner on the picture background; pic itself when it is large enough.
func Pad(pic *image.RGBA, w, h int) *image.RGBA {
	if pic.Rect.Dx() >= w && pic.Rect.Dy() >= h {
		return pic
	}
	img := image.NewRGBA(image.Rect(0, 0, max(w, pic.Rect.Dx()), max(h, pic.Rect.Dy())))
	fill(img, img.Rect, rgb(colBackground))
	draw.Draw(img, image.Rect(0, 0, pic.Rect.Dx(), pic.Rect.Dy()), pic, pic.Rect.Min, draw.Src)
	return img
}

// Caption returns pic with lines of text added below it, one per line
// (left-aligned, in the picture's face), widened if a line is wider.
func Caption(pic *image.RGBA, lines ...string) *image.RGBA {
	w := pic.Rect.Dx()
	for _, l := range lines {
		w = max(w, 2*pad+textWidth(l))
	}
	h := pic.Rect.Dy() + len(lines)*lineH + pad
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	fill(img, img.Rect, rgb(colBackground))
	draw.Draw(img, image.Rect(0, 0, pic.Rect.Dx(), pic.Rect.Dy()), pic, pic.Rect.Min, draw.Src)
	face := newFace()
	for i, l := range lines {
		drawText(img, face, pad, pic.Rect.Dy()+i*lineH, rgb(colText), l)
	}
	return img
}

// FromHWC converts an h×w×3 frame of values in [0, 1] in row-major HWC
// order (the layout of worldmodel.Model.Decode) into an opaque image:
//
//	pixel (x, y) channel c = round(255·clamp(v[(y·w + x)·3 + c], 0, 1))
//
// NaN is drawn as 0. It panics if v is shorter than h·w·3.
func FromHWC(v []float32, h, w int) *image.RGBA {
	if len(v) < h*w*3 {
		panic(fmt.Sprintf("picture: FromHWC: %d values for a %d×%d×3 frame", len(v), h, w))
	}
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for p := 0; p < h*w; p++ {
		for c := 0; c < 3; c++ {
			img.Pix[4*p+c] = unit8(float64(v[3*p+c]))
		}
		img.Pix[4*p+3] = 255
	}
	return img
}

// unit8 maps [0, 1] to 0…255, clamping, with NaN as 0.
func unit8(x float64) uint8 {
	if !(x > 0) {
		return 0
	}
	return uint8(math.Round(math.Min(x, 1) * 255))
}

// Vector draws a state vector as a side×side bar chart, one vertical bar
// per element around a horizontal zero line, element i scaled by
// scale[i] (a bar of height side/2 for |v_i| = scale[i]; longer bars are
// clipped). It pictures what a model of state observations imagines,
// where there is no frame to decode. A non-positive or missing scale
// counts as 1.
func Vector(v []float64, scale []float64, side int) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, side, side))
	fill(img, img.Rect, rgb(colPlaceholder))
	mid := side / 2
	fill(img, image.Rect(0, mid, side, mid+1), rgb(colDim))
	n := len(v)
	if n == 0 {
		return img
	}
	slot := float64(side) / float64(n)
	for i, x := range v {
		s := 1.0
		if i < len(scale) && scale[i] > 0 {
			s = scale[i]
		}
		t := x / s
		if math.IsNaN(t) {
			continue
		}
		t = math.Max(-1, math.Min(1, t))
		ln := int(math.Round(math.Abs(t) * float64(mid-1)))
		x0 := int(math.Round(float64(i)*slot + slot/6))
		x1 := max(x0+1, int(math.Round(float64(i+1)*slot-slot/6)))
		r := image.Rect(x0, mid-ln, x1, mid)
		if t < 0 {
			r = image.Rect(x0, mid+1, x1, mid+1+ln)
		}
		fill(img, r, rgb(colAction))
	}
	return img
}
