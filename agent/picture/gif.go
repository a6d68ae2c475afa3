// Package picture composes the pictures dream shows people: environment
// frames, strips of imagined futures and uncertainty bars, drawn into
// *image.RGBA in pure Go so that `dream imagine`, `dream record` and the
// viewer draw the same pictures and tests can compare them as PNGs.
package picture

import (
	"fmt"
	"image"
	"image/color"
	"image/color/palette"
	"image/draw"
	"image/gif"
	"io"
)

// maxColors is the size of a GIF palette.
const maxColors = 256

// Palette returns a palette holding every colour of the frames when they
// use at most 256 colours together (exact GIF frames), and the web-safe
// palette otherwise.
func Palette(frames []*image.RGBA) color.Palette {
	seen := make(map[[3]uint8]bool)
	var p color.Palette
	for _, f := range frames {
		for y := f.Rect.Min.Y; y < f.Rect.Max.Y; y++ {
			row := f.Pix[f.PixOffset(f.Rect.Min.X, y):f.PixOffset(f.Rect.Max.X, y)]
			for i := 0; i < len(row); i += 4 {
				k := [3]uint8{row[i], row[i+1], row[i+2]}
				if seen[k] {
					continue
				}
				if len(p) == maxColors {
					return palette.WebSafe
				}
				seen[k] = true
				p = append(p, color.RGBA{k[0], k[1], k[2], 255})
			}
		}
	}
	if len(p) == 0 {
		p = color.Palette{color.Black}
	}
	return p
}

// WriteGIF encodes the frames as an animated GIF that loops forever, each
// frame shown for delay hundredths of a second.
func WriteGIF(w io.Writer, frames []*image.RGBA, delay int) error {
	if len(frames) == 0 {
		return fmt.Errorf("picture: no frames to write")
	}
	pal := Palette(frames)
	anim := &gif.GIF{LoopCount: 0}
	for _, f := range frames {
		p := image.NewPaletted(f.Bounds(), pal)
		draw.Draw(p, p.Rect, f, f.Rect.Min, draw.Src)
		anim.Image = append(anim.Image, p)
		anim.Delay = append(anim.Delay, delay)
	}
	return gif.EncodeAll(w, anim)
}
