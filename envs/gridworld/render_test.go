package gridworld

import (
	"bytes"
	"flag"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden frames in testdata/golden")

// goldenDir holds the repository's golden frames.
const goldenDir = "../../testdata/golden"

// play resets e with seed and applies actions until the episode ends.
func play(e *Env, seed uint64, actions ...int) {
	e.Reset(seed)
	for _, a := range actions {
		if _, term, trunc := e.Step([]float64{float64(a)}); term || trunc {
			return
		}
	}
}

func bigEnv(t testing.TB) *Env {
	m, err := ParseMap(strings.NewReader(bigMap(64, 64)), "big.map")
	if err != nil {
		t.Fatal(err)
	}
	return New(m)
}

func TestGoldenFrames(t *testing.T) {
	tests := []struct {
		file    string
		env     func() *Env
		seed    uint64
		actions []int
		size    int
	}{
		{"gridworld-frozenlake-4x4-32.png", FrozenLake4x4, 4, []int{Down, Right, Down}, 32},
		{"gridworld-frozenlake-4x4-256.png", FrozenLake4x4, 4, []int{Down, Right, Down}, 256},
		{"gridworld-frozenlake-8x8-256.png", FrozenLake8x8, 4, []int{Right, Right, Down, Right, Down, Right}, 256},
		{"gridworld-windy-32.png", Windy, 1, []int{Right, Right, Right, Right, Right}, 32},
		{"gridworld-windy-256.png", Windy, 1, []int{Right, Right, Right, Right, Right}, 256},
		{"gridworld-cliff-ice-32.png", CliffIce, 2, []int{Right, Right, Right}, 32},
		{"gridworld-cliff-ice-256.png", CliffIce, 2, []int{Right, Right, Right}, 256},
		{"gridworld-big-64x64-32.png", func() *Env { return bigEnv(t) }, 5, []int{Right, Right, Down, Down, Down}, 32},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			e := tc.env()
			play(e, tc.seed, tc.actions...)
			got := image.NewRGBA(image.Rect(0, 0, tc.size, tc.size))
			e.Render(got)
			path := filepath.Join(goldenDir, tc.file)
			if *update {
				var buf bytes.Buffer
				if err := png.Encode(&buf, got); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			f, err := os.Open(path)
			if err != nil {
				t.Fatalf("%v (run go test -run TestGoldenFrames -update to create it)", err)
			}
			defer f.Close()
			img, err := png.Decode(f)
			if err != nil {
				t.Fatal(err)
			}
			want := image.NewRGBA(img.Bounds())
			draw.Draw(want, want.Bounds(), img, img.Bounds().Min, draw.Src)
			if want.Bounds() != got.Bounds() {
				t.Fatalf("golden is %v, frame is %v", want.Bounds(), got.Bounds())
			}
			if !bytes.Equal(want.Pix, got.Pix) {
				diff, first := 0, image.Point{-1, -1}
				for y := range tc.size {
					for x := range tc.size {
						if want.RGBAAt(x, y) != got.RGBAAt(x, y) {
							if diff == 0 {
								first = image.Pt(x, y)
							}
							diff++
						}
					}
				}
				t.Errorf("%d pixels differ from %s, first at %v: %v vs golden %v", diff, path, first, got.RGBAAt(first.X, first.Y), want.RGBAAt(first.X, first.Y))
			}
		})
	}
}

// countAgent counts the pixels of img in the agent's colours and checks
// that every pixel is opaque.
func countAgent(t *testing.T, img *image.RGBA) int {
	t.Helper()
	n := 0
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			c := img.RGBAAt(x, y)
			if c.A != 255 {
				t.Fatalf("pixel (%d, %d) = %v is not opaque", x, y, c)
			}
			if c == agentColor() || c == agentRim() {
				n++
			}
		}
	}
	return n
}

func TestRenderAgentVisible(t *testing.T) {
	tests := []struct {
		name     string
		env      func() *Env
		row, col int
		w, h     int
		min, max int // bounds on the agent's pixel count
	}{
		{"4x4 at 32", FrozenLake4x4, 2, 1, 32, 32, 20, 64},
		{"4x4 at 4", FrozenLake4x4, 2, 1, 4, 4, 1, 1},
		{"4x4 at 3×5", FrozenLake4x4, 3, 3, 3, 5, 1, 2},
		{"8x8 at 32", FrozenLake8x8, 7, 0, 32, 32, 16, 16},
		{"8x8 at 64", FrozenLake8x8, 7, 0, 64, 64, 12, 36},
		{"windy at 32", Windy, 6, 9, 32, 32, 9, 20},
		{"cliff at 100×60", CliffIce, 4, 5, 100, 60, 20, 110},
		{"64x64 at 32", func() *Env { return bigEnv(t) }, 63, 63, 32, 32, 1, 1},
		{"64x64 odd cell at 32", func() *Env { return bigEnv(t) }, 1, 1, 32, 32, 1, 1},
		{"64x64 at 1", func() *Env { return bigEnv(t) }, 40, 20, 1, 1, 1, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := tc.env()
			if err := e.SetState([]float64{float64(tc.row), float64(tc.col)}); err != nil {
				t.Fatal(err)
			}
			img := image.NewRGBA(image.Rect(0, 0, tc.w, tc.h))
			e.Render(img)
			if n := countAgent(t, img); n < tc.min || n > tc.max {
				t.Errorf("agent covers %d pixels, want %d to %d", n, tc.min, tc.max)
			}
		})
	}
}

// The agent sits in the pixels of its own cell.
func TestRenderAgentPlace(t *testing.T) {
	e := FrozenLake8x8()
	img := image.NewRGBA(image.Rect(0, 0, 32, 32))
	for _, s := range []cell{{0, 0}, {3, 6}, {7, 7}} {
		if err := e.SetState([]float64{float64(s[0]), float64(s[1])}); err != nil {
			t.Fatal(err)
		}
		e.Render(img)
		for y := range 32 {
			for x := range 32 {
				c := img.RGBAAt(x, y)
				inCell := y/4 == s[0] && x/4 == s[1]
				if (c == agentColor()) && !inCell {
					t.Fatalf("agent %v drawn at pixel (%d, %d)", s, x, y)
				}
			}
		}
		if img.RGBAAt(4*s[1]+2, 4*s[0]+2) != agentColor() {
			t.Errorf("agent %v missing at its cell's centre", s)
		}
	}
}

// Rendering into a sub-image (non-zero Min, wide Stride) draws the same
// picture as into its own image and leaves the rest of the canvas alone.
func TestRenderSubImage(t *testing.T) {
	e := CliffIce()
	play(e, 1, Right, Right)
	canvas := image.NewRGBA(image.Rect(-7, 3, 90, 80))
	sentinel := color.RGBA{1, 2, 3, 4}
	draw.Draw(canvas, canvas.Bounds(), image.NewUniform(sentinel), image.Point{}, draw.Src)
	r := image.Rect(10, 20, 10+45, 20+36)
	sub := canvas.SubImage(r).(*image.RGBA)
	e.Render(sub)
	own := image.NewRGBA(image.Rect(0, 0, 45, 36))
	e.Render(own)
	for y := canvas.Bounds().Min.Y; y < canvas.Bounds().Max.Y; y++ {
		for x := canvas.Bounds().Min.X; x < canvas.Bounds().Max.X; x++ {
			got := canvas.RGBAAt(x, y)
			if image.Pt(x, y).In(r) {
				if want := own.RGBAAt(x-r.Min.X, y-r.Min.Y); got != want {
					t.Fatalf("(%d, %d) = %v, want %v", x, y, got, want)
				}
			} else if got != sentinel {
				t.Fatalf("(%d, %d) outside the sub-image changed to %v", x, y, got)
			}
		}
	}
}

// The cached background follows the frame size and never keeps an old
// agent position.
func TestRenderCache(t *testing.T) {
	e := FrozenLake4x4()
	fresh := func(size int, s cell) *image.RGBA {
		f := FrozenLake4x4()
		if err := f.SetState([]float64{float64(s[0]), float64(s[1])}); err != nil {
			t.Fatal(err)
		}
		img := image.NewRGBA(image.Rect(0, 0, size, size))
		f.Render(img)
		return img
	}
	for i, step := range []struct {
		size int
		at   cell
	}{{32, cell{0, 0}}, {32, cell{2, 2}}, {48, cell{2, 2}}, {32, cell{3, 1}}, {7, cell{0, 3}}} {
		if err := e.SetState([]float64{float64(step.at[0]), float64(step.at[1])}); err != nil {
			t.Fatal(err)
		}
		img := image.NewRGBA(image.Rect(0, 0, step.size, step.size))
		e.Render(img)
		if !bytes.Equal(img.Pix, fresh(step.size, step.at).Pix) {
			t.Errorf("render %d (%d px, agent %v) differs from a fresh environment's", i, step.size, step.at)
		}
	}
	e.Render(image.NewRGBA(image.Rectangle{})) // an empty frame is a no-op
}

func TestStepRenderAllocs(t *testing.T) {
	for _, tc := range stepRenderCases(t) {
		t.Run(tc.name, func(t *testing.T) {
			e := tc.env
			img := image.NewRGBA(image.Rect(0, 0, 32, 32))
			e.Reset(1)
			e.Render(img)
			i := 0
			allocs := testing.AllocsPerRun(200, func() {
				stepRender(e, img, i)
				i++
			})
			if allocs != 0 {
				t.Errorf("Step+Render allocates %v times per call", allocs)
			}
		})
	}
}

type stepRenderCase struct {
	name string
	env  *Env
}

func stepRenderCases(t testing.TB) []stepRenderCase {
	return []stepRenderCase{
		{"frozenlake-4x4", FrozenLake4x4()},
		{"frozenlake-8x8", FrozenLake8x8()},
		{"windy", Windy()},
		{"cliff-ice", CliffIce()},
		{"big-64x64", bigEnv(t)},
	}
}

// stepRender takes step i of a fixed action cycle, resetting when an
// episode ends, and renders the frame.
func stepRender(e *Env, img *image.RGBA, i int) {
	if _, term, trunc := e.Step([]float64{float64(i % 4)}); term || trunc {
		e.Reset(uint64(i))
	}
	e.Render(img)
}

func BenchmarkStepRender(b *testing.B) {
	for _, tc := range stepRenderCases(b) {
		b.Run(tc.name, func(b *testing.B) {
			e := tc.env
			img := image.NewRGBA(image.Rect(0, 0, 32, 32))
			e.Reset(1)
			e.Render(img)
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				stepRender(e, img, i)
				i++
			}
		})
	}
}
