package picture

import (
	"bytes"
	"flag"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/image/font"
	"golang.org/x/image/font/basicfont"
)

var update = flag.Bool("update", false, "rewrite the golden pictures in testdata/golden")

// goldenDir holds the repository's golden pictures.
const goldenDir = "../../testdata/golden"

// square is a side×side frame of a 4×4 board with a coloured square on
// cell (row, col), like a gridworld frame.
func square(side, row, col int, c color.RGBA) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, side, side))
	fill(img, img.Rect, color.RGBA{200, 225, 245, 255})
	q := side / 4
	for i := 0; i <= 4; i++ {
		fill(img, image.Rect(i*q, 0, i*q+1, side), color.RGBA{120, 150, 180, 255})
		fill(img, image.Rect(0, i*q, side, i*q+1), color.RGBA{120, 150, 180, 255})
	}
	fill(img, image.Rect(3*q+2, 3*q+2, 4*q-1, 4*q-1), color.RGBA{60, 170, 60, 255})
	fill(img, image.Rect(col*q+3, row*q+3, (col+1)*q-2, (row+1)*q-2), c)
	return img
}

// blurred blends frame with its mirror image, the way an uncertain
// decoder smears the agent over two cells.
func blurred(a, b *image.RGBA) *image.RGBA {
	img := image.NewRGBA(a.Rect)
	for i := range img.Pix {
		img.Pix[i] = uint8((int(a.Pix[i]) + int(b.Pix[i])) / 2)
	}
	return img
}

// gaussianScene is a fixed scene of a Gaussian model: K = 4 futures over
// H = 5 steps, three real frames known so far.
func gaussianScene() Scene {
	agent := color.RGBA{220, 60, 60, 255}
	path := [][2]int{{0, 1}, {1, 1}, {2, 1}, {2, 2}, {3, 2}}
	real := []*image.RGBA{square(32, 0, 1, agent), square(32, 1, 1, agent), square(32, 1, 2, agent)}
	var futures [][]*image.RGBA
	var sigma [][]float64
	for k := 0; k < 4; k++ {
		var row []*image.RGBA
		var sg []float64
		for h, p := range path {
			f := square(32, p[0], p[1], agent)
			if (h+k)%3 == 2 {
				f = blurred(f, square(32, p[0], min(p[1]+1, 3), agent))
			}
			row = append(row, f)
			sg = append(sg, 0.05+0.1*float64(h)+0.02*float64(k))
		}
		futures = append(futures, row)
		sigma = append(sigma, sg)
	}
	return Scene{
		Env: "gridworld/frozenlake-4x4", Dynamics: "gaussian", Step: 7,
		Current: square(32, 0, 0, agent),
		Real:    real,
		Actions: []string{"→", "↓", "↓", "→", "↓"},
		Futures: futures, Sigma: sigma, SigmaName: "mean σ of the next latent",
		PredReturn: 0.6123, RealReturn: 0, RealKnown: true,
	}
}

// deterministicScene is a fixed scene of a deterministic model of a
// non-square environment: one future of H = 4 steps, an episode that
// ended after two.
func deterministicScene() Scene {
	bar := func(x int) *image.RGBA {
		img := image.NewRGBA(image.Rect(0, 0, 64, 40))
		fill(img, img.Rect, color.RGBA{250, 250, 250, 255})
		fill(img, image.Rect(0, 30, 64, 31), color.RGBA{0, 0, 0, 255})
		fill(img, image.Rect(x, 22, x+12, 30), color.RGBA{40, 40, 40, 255})
		fill(img, image.Rect(x+5, 4, x+7, 22), color.RGBA{200, 140, 80, 255})
		return img
	}
	return Scene{
		Env: "physics/cartpole", Dynamics: "deterministic", Step: 42,
		Current:    bar(26),
		Real:       []*image.RGBA{bar(28), bar(31)},
		RealEnded:  true,
		Actions:    []string{"+1", "+1", "-1", "+1"},
		Futures:    [][]*image.RGBA{{bar(28), bar(30), bar(30), bar(31)}},
		Sigma:      [][]float64{{0, 0, 0, 0}},
		PredReturn: 3.97, RealReturn: 2, RealKnown: true,
	}
}

// TestComposeGolden compares composed pictures with the PNGs in
// testdata/golden pixel for pixel; go test -run TestComposeGolden -update
// rewrites them.
func TestComposeGolden(t *testing.T) {
	cases := []struct {
		name  string
		scene Scene
		cell  int
	}{
		{"gaussian-k4", gaussianScene(), 48},
		{"deterministic-k1", deterministicScene(), 48},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := Compose(c.scene, c.cell)
			checkGolden(t, filepath.Join(goldenDir, "picture-"+c.name+".png"), got)
		})
	}
}

// checkGolden compares img with the golden PNG at path, or rewrites it
// under -update.
func checkGolden(t *testing.T, path string, img *image.RGBA) {
	t.Helper()
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	if *update {
		if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to write it)", err)
	}
	defer f.Close()
	want, err := png.Decode(f)
	if err != nil {
		t.Fatalf("decode %s: %v", path, err)
	}
	if want.Bounds() != img.Bounds() {
		t.Fatalf("%s: size %v, golden %v", path, img.Bounds(), want.Bounds())
	}
	diff := 0
	for y := img.Rect.Min.Y; y < img.Rect.Max.Y; y++ {
		for x := img.Rect.Min.X; x < img.Rect.Max.X; x++ {
			if color.RGBAModel.Convert(want.At(x, y)) != img.RGBAAt(x, y) {
				diff++
			}
		}
	}
	if diff > 0 {
		t.Errorf("%s: %d pixels differ from the golden picture", path, diff)
	}
}

// TestComposeLayout checks the parts of a picture where the layout puts
// them: the current frame, the real frames, placeholders and the bars.
func TestComposeLayout(t *testing.T) {
	s := gaussianScene()
	const cell = 48
	img := Compose(s, cell)
	l := newLayout(s, cell)
	if l.horizon != 5 || l.samples != 4 {
		t.Fatalf("layout horizon %d samples %d, want 5 and 4", l.horizon, l.samples)
	}
	if img.Rect.Dx() != l.w || img.Rect.Dy() != l.h {
		t.Fatalf("picture %v, layout %d×%d", img.Rect, l.w, l.h)
	}
	// The agent square of the current frame, at (0, 0) of a 32-pixel
	// board scaled ×3 (2·48/32) into the big tile.
	cur := img.RGBAAt(pad+3*5, l.realY+3*5)
	if cur != (color.RGBA{220, 60, 60, 255}) {
		t.Errorf("current frame's agent pixel %v", cur)
	}
	// Real frame h = 1: agent on (1, 1); scale 48/32 = 1.5.
	if got := img.RGBAAt(l.col(1)+int(1.5*12), l.realY+int(1.5*12)); got != (color.RGBA{220, 60, 60, 255}) {
		t.Errorf("real frame t+2 agent pixel %v", got)
	}
	// Step t+4 is unknown: a placeholder.
	if got := img.RGBAAt(l.col(3)+3, l.realY+cell/2+1); got != rgb(colPlaceholder) && got != rgb(colHatch) {
		t.Errorf("placeholder pixel %v", got)
	}
	// Bars: the largest σ (sample 4, t+5) fills its track in red, the
	// smallest (sample 1, t+1) a share 0.05/0.53 of it in green-ish.
	maxS := s.maxSigma()
	if want := 0.05 + 0.4 + 0.06; math.Abs(maxS-want) > 1e-12 {
		t.Fatalf("max σ %g, want %g", maxS, want)
	}
	barY := func(k int) int { return l.rowY + k*l.rowH + cell + 2 }
	if got := img.RGBAAt(l.col(4)+cell-2, barY(3)); got != rgb(colRed) {
		t.Errorf("end of the largest bar %v, want red", got)
	}
	fillW := 0
	for x := l.col(0); x < l.col(0)+cell; x++ {
		if img.RGBAAt(x, barY(0)) != rgb(colTrack) {
			fillW++
		}
	}
	if want := int(math.Round(0.05 / maxS * cell)); fillW != want {
		t.Errorf("smallest bar %d pixels, want %d", fillW, want)
	}
}

func TestComposeDeterministicOutput(t *testing.T) {
	a := Compose(gaussianScene(), 40)
	b := Compose(gaussianScene(), 40)
	if !bytes.Equal(a.Pix, b.Pix) {
		t.Fatal("two compositions of one scene differ")
	}
}

func TestComposeEdgeCases(t *testing.T) {
	cases := []struct {
		name  string
		scene Scene
	}{
		{"empty", Scene{}},
		{"no futures", Scene{Env: "e", Dynamics: "gaussian", Actions: []string{"0", "1"}}},
		{"nil frames", Scene{Futures: [][]*image.RGBA{{nil, nil}}, Sigma: [][]float64{{math.NaN(), math.Inf(1)}}, Real: []*image.RGBA{nil}}},
		{"long labels", Scene{Env: "a-very-long-environment-name/with-a-map", Actions: []string{"+123.456789"}, Futures: [][]*image.RGBA{{square(8, 0, 0, color.RGBA{255, 0, 0, 255})}}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			img := Compose(c.scene, 16)
			if img.Rect.Empty() {
				t.Fatal("empty picture")
			}
			for _, line := range c.scene.header() {
				if img.Rect.Dx() < textWidth(line)+2*pad {
					t.Errorf("picture %d wide cuts the header %q", img.Rect.Dx(), line)
				}
			}
		})
	}
	t.Run("small cell panics", func(t *testing.T) {
		defer func() {
			if recover() == nil {
				t.Error("no panic for cell 4")
			}
		}()
		Compose(Scene{}, 4)
	})
}

func TestScaleNearest(t *testing.T) {
	src := image.NewRGBA(image.Rect(0, 0, 2, 2))
	src.SetRGBA(0, 0, color.RGBA{1, 0, 0, 255})
	src.SetRGBA(1, 0, color.RGBA{2, 0, 0, 255})
	src.SetRGBA(0, 1, color.RGBA{3, 0, 0, 255})
	src.SetRGBA(1, 1, color.RGBA{4, 0, 0, 255})
	cases := []struct {
		name string
		w, h int
		want [][]uint8 // red channel, rows
	}{
		{"identity", 2, 2, [][]uint8{{1, 2}, {3, 4}}},
		{"double", 4, 4, [][]uint8{{1, 1, 2, 2}, {1, 1, 2, 2}, {3, 3, 4, 4}, {3, 3, 4, 4}}},
		{"triple width", 6, 2, [][]uint8{{1, 1, 1, 2, 2, 2}, {3, 3, 3, 4, 4, 4}}},
		{"halve", 1, 1, [][]uint8{{4}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dst := image.NewRGBA(image.Rect(0, 0, c.w+2, c.h+2))
			ScaleNearest(dst, image.Rect(1, 1, 1+c.w, 1+c.h), src)
			for y, row := range c.want {
				for x, v := range row {
					if got := dst.RGBAAt(1+x, 1+y).R; got != v {
						t.Errorf("(%d, %d) = %d, want %d", x, y, got, v)
					}
				}
			}
			if dst.RGBAAt(0, 0).A != 0 || dst.RGBAAt(c.w+1, c.h+1).A != 0 {
				t.Error("drew outside the rectangle")
			}
		})
	}
}

func TestUncertaintyColor(t *testing.T) {
	cases := []struct {
		t    float64
		want color.RGBA
	}{
		{0, rgb(colGreen)}, {0.5, rgb(colYellow)}, {1, rgb(colRed)},
		{-1, rgb(colGreen)}, {2, rgb(colRed)}, {math.NaN(), rgb(colGreen)},
	}
	for _, c := range cases {
		t.Run(fmt.Sprint(c.t), func(t *testing.T) {
			if got := UncertaintyColor(c.t); got != c.want {
				t.Errorf("UncertaintyColor(%g) = %v, want %v", c.t, got, c.want)
			}
		})
	}
	// Redness grows and greenness falls along the scale.
	prev := UncertaintyColor(0)
	for i := 1; i <= 100; i++ {
		c := UncertaintyColor(float64(i) / 100)
		if float64(c.R)-float64(c.G) < float64(prev.R)-float64(prev.G) {
			t.Fatalf("scale not monotone at %d: %v after %v", i, c, prev)
		}
		prev = c
	}
}

func TestFaceExtraGlyphs(t *testing.T) {
	ink := func(face font.Face, s string) []uint8 {
		img := image.NewRGBA(image.Rect(0, 0, charW, lineH))
		drawText(img, face, 0, 0, color.White, s)
		out := make([]uint8, 0, charW*lineH)
		for i := 0; i < len(img.Pix); i += 4 {
			out = append(out, img.Pix[i])
		}
		return out
	}
	face := newFace()
	replacement := ink(face, "\ufffd")
	seen := map[string]string{}
	for _, g := range extraGlyphs() {
		s := string(g.r)
		t.Run(s, func(t *testing.T) {
			got := ink(face, s)
			if bytes.Equal(got, replacement) {
				t.Fatalf("%q drawn as U+FFFD", s)
			}
			if bytes.Count(got, []byte{0}) == len(got) {
				t.Fatalf("%q has no ink", s)
			}
			if other, ok := seen[string(got)]; ok {
				t.Fatalf("%q drawn like %q", s, other)
			}
			seen[string(got)] = s
		})
	}
	for _, s := range []string{"A", "g", "~", "\ufffd"} {
		if !bytes.Equal(ink(face, s), ink(basicfont.Face7x13, s)) {
			t.Errorf("%q differs from basicfont's", s)
		}
	}
}

func TestBesideCaption(t *testing.T) {
	a := image.NewRGBA(image.Rect(0, 0, 10, 20))
	b := image.NewRGBA(image.Rect(5, 5, 35, 15))
	fill(a, a.Rect, color.RGBA{255, 0, 0, 255})
	fill(b, b.Rect, color.RGBA{0, 0, 255, 255})
	s := Beside(4, a, b)
	if s.Rect != image.Rect(0, 0, 44, 20) {
		t.Fatalf("Beside bounds %v", s.Rect)
	}
	if s.RGBAAt(9, 19) != (color.RGBA{255, 0, 0, 255}) || s.RGBAAt(14, 0) != (color.RGBA{0, 0, 255, 255}) ||
		s.RGBAAt(11, 0) != rgb(colBackground) || s.RGBAAt(20, 15) != rgb(colBackground) {
		t.Error("Beside misplaced its pictures")
	}
	c := Caption(s, "one", "a line wider than forty-four pixels")
	if c.Rect.Dy() != 20+2*lineH+pad || c.Rect.Dx() != 2*pad+textWidth("a line wider than forty-four pixels") {
		t.Fatalf("Caption bounds %v", c.Rect)
	}
	if c.RGBAAt(14, 0) != (color.RGBA{0, 0, 255, 255}) {
		t.Error("Caption moved the picture")
	}
}

func TestPad(t *testing.T) {
	pic := image.NewRGBA(image.Rect(2, 3, 12, 8))
	fill(pic, pic.Rect, color.RGBA{255, 0, 0, 255})
	cases := []struct {
		name   string
		w, h   int
		bounds image.Rectangle
		same   bool
	}{
		{"large enough", 10, 5, image.Rect(2, 3, 12, 8), true},
		{"taller", 4, 9, image.Rect(0, 0, 10, 9), false},
		{"wider and taller", 20, 9, image.Rect(0, 0, 20, 9), false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := Pad(pic, c.w, c.h)
			if got.Rect != c.bounds || (got == pic) != c.same {
				t.Fatalf("Pad(%d, %d): bounds %v, same %v", c.w, c.h, got.Rect, got == pic)
			}
			if c.same {
				return
			}
			if got.RGBAAt(9, 4) != (color.RGBA{255, 0, 0, 255}) || got.RGBAAt(got.Rect.Max.X-1, got.Rect.Max.Y-1) != rgb(colBackground) {
				t.Error("Pad misplaced the picture")
			}
		})
	}
}

func TestFromHWC(t *testing.T) {
	v := []float32{0, 0.5, 1, 2, -1, float32(math.NaN())}
	img := FromHWC(v, 1, 2)
	want := []uint8{0, 128, 255, 255, 255, 0, 0, 255}
	if !bytes.Equal(img.Pix, want) {
		t.Fatalf("FromHWC = %v, want %v", img.Pix, want)
	}
}

func TestVector(t *testing.T) {
	img := Vector([]float64{1, -0.5, 3}, []float64{1, 1, 1}, 30)
	mid := 15
	// Element 0 reaches the top, element 1 half-way down, element 2 is
	// clipped to the top.
	col := func(i int) int { return i*10 + 5 }
	if img.RGBAAt(col(0), 1) != rgb(colAction) || img.RGBAAt(col(2), 1) != rgb(colAction) {
		t.Error("full bars do not reach the top")
	}
	if img.RGBAAt(col(1), mid+7) != rgb(colAction) || img.RGBAAt(col(1), mid+9) == rgb(colAction) {
		t.Error("the negative half bar has the wrong length")
	}
	if img.RGBAAt(col(1), mid-2) == rgb(colAction) {
		t.Error("the negative bar is drawn upwards")
	}
}

func ExampleCompose() {
	frame := image.NewRGBA(image.Rect(0, 0, 32, 32))
	s := Scene{
		Env: "gridworld/frozenlake-4x4", Dynamics: "gaussian", Step: 0,
		Current: frame,
		Actions: []string{"→", "↓", "→"},
		Futures: [][]*image.RGBA{{frame, frame, frame}, {frame, frame, frame}},
		Sigma:   [][]float64{{0.1, 0.2, 0.3}, {0.1, 0.25, 0.4}},
	}
	img := Compose(s, 64)
	fmt.Println(img.Bounds().Dx() > 3*64, img.Bounds().Dy() > 2*64)
	// Output: true true
}

func BenchmarkCompose(b *testing.B) {
	for _, c := range []struct {
		name  string
		scene Scene
		cell  int
	}{
		{"k4-h5-cell48", gaussianScene(), 48},
		{"k4-h5-cell96", gaussianScene(), 96},
		{"k1-h4-cell48", deterministicScene(), 48},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				Compose(c.scene, c.cell)
			}
		})
	}
}
