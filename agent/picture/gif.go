// Package picture composes the pictures dream shows people: environment
// frames, strips of imagined futures and uncertainty bars, drawn into
// *image.RGBA in pure Go so that `dream imagine`, `dream record` and the
// viewer draw the same pictures and tests can compare them as PNGs.
package picture

import (
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/gif"
	"io"
	"sort"
)

// maxColors is the size of a GIF palette.
const maxColors = 256

// Sizes of the mixed palette used when frames hold more than maxColors
// colours: the most frequent colours exactly, and a colour cube of
// cubeR×cubeG×cubeB levels for the rest.
const (
	cubeR, cubeG, cubeB = 6, 6, 5
	frequentColors      = maxColors - cubeR*cubeG*cubeB
)

// Palette returns a palette for the frames. When they use at most 256
// colours together it holds exactly those colours, in order of first
// appearance (the GIF is then exact). Otherwise it holds the 76 most
// frequent colours (ties broken by colour value), which keep a picture's
// background, text and bars exact, and a 6×6×5 colour cube for the rest,
// such as the pixels of decoded frames.
func Palette(frames []*image.RGBA) color.Palette {
	p, _ := paletteFor(frames)
	return p
}

// paletteFor returns the palette and whether it holds every colour.
func paletteFor(frames []*image.RGBA) (color.Palette, bool) {
	count := make(map[[3]uint8]int)
	var order [][3]uint8
	for _, f := range frames {
		for y := f.Rect.Min.Y; y < f.Rect.Max.Y; y++ {
			row := f.Pix[f.PixOffset(f.Rect.Min.X, y):f.PixOffset(f.Rect.Max.X, y)]
			for i := 0; i < len(row); i += 4 {
				k := [3]uint8{row[i], row[i+1], row[i+2]}
				if count[k] == 0 {
					order = append(order, k)
				}
				count[k]++
			}
		}
	}
	if len(order) == 0 {
		return color.Palette{color.RGBA{0, 0, 0, 255}}, true
	}
	if len(order) <= maxColors {
		p := make(color.Palette, len(order))
		for i, k := range order {
			p[i] = color.RGBA{k[0], k[1], k[2], 255}
		}
		return p, true
	}
	sort.Slice(order, func(i, j int) bool {
		a, b := order[i], order[j]
		if count[a] != count[b] {
			return count[a] > count[b]
		}
		return a[0] < b[0] || a[0] == b[0] && (a[1] < b[1] || a[1] == b[1] && a[2] < b[2])
	})
	p := make(color.Palette, 0, maxColors)
	for _, k := range order[:frequentColors] {
		p = append(p, color.RGBA{k[0], k[1], k[2], 255})
	}
	level := func(i, n int) uint8 { return uint8(i * 255 / (n - 1)) }
	for r := 0; r < cubeR; r++ {
		for g := 0; g < cubeG; g++ {
			for b := 0; b < cubeB; b++ {
				p = append(p, color.RGBA{level(r, cubeR), level(g, cubeG), level(b, cubeB), 255})
			}
		}
	}
	return p, false
}

// WriteGIF encodes the frames as an animated GIF that loops forever, each
// frame shown for delay hundredths of a second. Frames smaller than the
// largest are drawn at its top-left corner, the rest of the canvas filled
// with the frame's top-left pixel. With more than 256 colours in all, the
// colours outside the palette are dithered (Floyd–Steinberg).
func WriteGIF(w io.Writer, frames []*image.RGBA, delay int) error {
	if len(frames) == 0 {
		return fmt.Errorf("picture: no frames to write")
	}
	pal, exact := paletteFor(frames)
	var bounds image.Rectangle
	for _, f := range frames {
		bounds.Max.X = max(bounds.Max.X, f.Rect.Dx())
		bounds.Max.Y = max(bounds.Max.Y, f.Rect.Dy())
	}
	var drawer draw.Drawer = draw.Src
	if !exact {
		drawer = draw.FloydSteinberg
	}
	anim := &gif.GIF{LoopCount: 0}
	for _, f := range frames {
		p := image.NewPaletted(bounds, pal)
		if f.Rect.Dx() != bounds.Dx() || f.Rect.Dy() != bounds.Dy() {
			corner := f.RGBAAt(f.Rect.Min.X, f.Rect.Min.Y)
			draw.Draw(p, p.Rect, image.NewUniform(color.RGBA{corner.R, corner.G, corner.B, 255}), image.Point{}, draw.Src)
		}
		drawer.Draw(p, image.Rect(0, 0, f.Rect.Dx(), f.Rect.Dy()), f, f.Rect.Min)
		anim.Image = append(anim.Image, p)
		anim.Delay = append(anim.Delay, delay)
	}
	return gif.EncodeAll(w, anim)
}
