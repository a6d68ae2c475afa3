package picture

import (
	"bytes"
	"image"
	"image/color"
	"image/gif"
	"math/rand/v2"
	"testing"
)

func TestPalette(t *testing.T) {
	few := image.NewRGBA(image.Rect(0, 0, 4, 1))
	few.SetRGBA(0, 0, color.RGBA{1, 2, 3, 255})
	few.SetRGBA(1, 0, color.RGBA{9, 9, 9, 255})
	few.SetRGBA(2, 0, color.RGBA{1, 2, 3, 255})
	few.SetRGBA(3, 0, color.RGBA{0, 0, 0, 255})

	// 1000 pixels of one colour, 10 of another, and 300 random colours.
	many := image.NewRGBA(image.Rect(0, 0, 1310, 1))
	rng := rand.New(rand.NewPCG(1, 2))
	for x := 0; x < many.Rect.Dx(); x++ {
		c := color.RGBA{24, 26, 32, 255}
		switch {
		case x >= 1000 && x < 1010:
			c = color.RGBA{250, 210, 80, 255}
		case x >= 1010:
			c = color.RGBA{uint8(rng.IntN(256)), uint8(rng.IntN(256)), uint8(rng.IntN(256)), 255}
		}
		many.SetRGBA(x, 0, c)
	}
	cases := []struct {
		name      string
		frames    []*image.RGBA
		exact     bool
		size      int
		mustHold  []color.RGBA
		firstSeen color.RGBA
	}{
		{"few colours", []*image.RGBA{few}, true, 3, []color.RGBA{{1, 2, 3, 255}, {9, 9, 9, 255}, {0, 0, 0, 255}}, color.RGBA{1, 2, 3, 255}},
		{"many colours", []*image.RGBA{many}, false, maxColors, []color.RGBA{{24, 26, 32, 255}, {250, 210, 80, 255}, {255, 255, 255, 255}, {0, 0, 0, 255}}, color.RGBA{24, 26, 32, 255}},
		{"no pixels", []*image.RGBA{image.NewRGBA(image.Rect(0, 0, 0, 0))}, true, 1, []color.RGBA{{0, 0, 0, 255}}, color.RGBA{0, 0, 0, 255}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p, exact := paletteFor(c.frames)
			if exact != c.exact || len(p) != c.size {
				t.Fatalf("palette of %d colours, exact %v; want %d, %v", len(p), exact, c.size, c.exact)
			}
			for _, want := range c.mustHold {
				if p[p.Index(want)] != want {
					t.Errorf("palette lacks %v", want)
				}
			}
			if p[0] != c.firstSeen {
				t.Errorf("first colour %v, want %v", p[0], c.firstSeen)
			}
		})
	}
}

func TestWriteGIF(t *testing.T) {
	big := Compose(gaussianScene(), 24)
	small := Compose(deterministicScene(), 24)
	var buf bytes.Buffer
	if err := WriteGIF(&buf, []*image.RGBA{big, small, big}, 40); err != nil {
		t.Fatal(err)
	}
	g, err := gif.DecodeAll(&buf)
	if err != nil {
		t.Fatal(err)
	}
	w, h := max(big.Rect.Dx(), small.Rect.Dx()), max(big.Rect.Dy(), small.Rect.Dy())
	if len(g.Image) != 3 || g.Config.Width != w || g.Config.Height != h {
		t.Fatalf("%d frames of %d×%d, want 3 of %d×%d", len(g.Image), g.Config.Width, g.Config.Height, w, h)
	}
	for i, f := range g.Image {
		if f.Rect != image.Rect(0, 0, w, h) || g.Delay[i] != 40 {
			t.Errorf("frame %d: bounds %v delay %d", i, f.Rect, g.Delay[i])
		}
	}
	// The picture's own colours survive exactly: background, text, bars.
	for _, p := range []image.Point{{1, 1}, {small.Rect.Dx() + 2, 2}} {
		if got := color.RGBAModel.Convert(g.Image[1].At(p.X, p.Y)); got != rgb(colBackground) {
			t.Errorf("padding pixel %v is %v, want the background", p, got)
		}
	}
	if err := WriteGIF(&buf, nil, 1); err == nil {
		t.Error("no error for no frames")
	}
}
