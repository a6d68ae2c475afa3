package picture

import (
	"image"
	"image/color"
	"image/draw"
	"unicode/utf8"

	"golang.org/x/image/font"
	"golang.org/x/image/font/basicfont"
	"golang.org/x/image/math/fixed"
)

// Text metrics of the face every picture is labelled with: basicfont's
// 7×13 X11 misc-fixed face.
const (
	charW   = 7  // advance of one glyph
	lineH   = 13 // height of one line (ascent + descent)
	ascentH = 11 // baseline below the top of a line
)

// glyph is one 6×13 bitmap ('#' ink) with its baseline under row 11, like
// basicfont's ASCII glyphs.
type glyph struct {
	r    rune
	rows [lineH]string
}

// extraGlyphs returns the runes drawn beyond basicfont's printable ASCII,
// in increasing order: the four arrows that label gridworld actions, and
// σ, γ and the middle dot of the header and legend.
func extraGlyphs() []glyph {
	return []glyph{
		{'·', [lineH]string{"......", "......", "......", "......", "......", "..##..", "..##..", "......", "......", "......", "......", "......", "......"}},
		{'γ', [lineH]string{"......", "......", "......", "......", "......", "#....#", "#....#", ".#..#.", ".#..#.", "..##..", "..#...", "..#...", "..#..."}},
		{'σ', [lineH]string{"......", "......", "......", "......", "......", ".#####", "#...#.", "#....#", "#....#", "#....#", ".####.", "......", "......"}},
		{'←', [lineH]string{"......", "......", "......", "......", "..#...", ".#....", "######", ".#....", "..#...", "......", "......", "......", "......"}},
		{'↑', [lineH]string{"......", "......", "..#...", ".###..", "#.#.#.", "..#...", "..#...", "..#...", "..#...", "..#...", "......", "......", "......"}},
		{'→', [lineH]string{"......", "......", "......", "......", "...#..", "....#.", "######", "....#.", "...#..", "......", "......", "......", "......"}},
		{'↓', [lineH]string{"......", "......", "..#...", "..#...", "..#...", "..#...", "..#...", "#.#.#.", ".###..", "..#...", "......", "......", "......"}},
	}
}

// newFace returns basicfont.Face7x13 extended with extraGlyphs. It is
// built per picture (about 8 KB) so that the package holds no state.
func newFace() *basicfont.Face {
	base := basicfont.Face7x13
	src := base.Mask.(*image.Alpha)
	n := src.Rect.Dy() / lineH // glyphs in the base mask
	extra := extraGlyphs()
	mask := image.NewAlpha(image.Rect(0, 0, src.Rect.Dx(), (n+len(extra))*lineH))
	copy(mask.Pix, src.Pix)
	var ranges []basicfont.Range
	last := base.Ranges[len(base.Ranges)-1] // U+FFFD, kept last
	ranges = append(ranges, base.Ranges[:len(base.Ranges)-1]...)
	for i, g := range extra {
		y0 := (n + i) * lineH
		for y, row := range g.rows {
			for x := 0; x < len(row); x++ {
				if row[x] == '#' {
					mask.SetAlpha(x, y0+y, color.Alpha{A: 0xff})
				}
			}
		}
		ranges = append(ranges, basicfont.Range{Low: g.r, High: g.r + 1, Offset: n + i})
	}
	ranges = append(ranges, last)
	f := *base
	f.Mask = mask
	f.Ranges = ranges
	return &f
}

// textWidth is the width in pixels of s in the picture face.
func textWidth(s string) int { return utf8.RuneCountInString(s) * charW }

// drawText writes s with its line's top-left corner at (x, y).
func drawText(dst draw.Image, face font.Face, x, y int, c color.Color, s string) {
	d := font.Drawer{Dst: dst, Src: image.NewUniform(c), Face: face, Dot: fixed.P(x, y+ascentH)}
	d.DrawString(s)
}

// fitText shortens s with a trailing '.' until it is at most w pixels
// wide.
func fitText(s string, w int) string {
	r := []rune(s)
	if len(r)*charW <= w {
		return s
	}
	n := w / charW
	if n <= 0 {
		return ""
	}
	return string(r[:n-1]) + "."
}
