package physics

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

	"github.com/dreamrl/dream/envs"
)

var update = flag.Bool("update", false, "rewrite the golden frames in testdata/golden")

// goldenDir holds the repository's golden frames.
const goldenDir = "../../testdata/golden"

// scene puts a fresh environment into a fixed, documented picture.
type scene struct {
	name string
	make func(t testing.TB) envs.Simulator
}

func setState(t testing.TB, s envs.StateSetter, state ...float64) {
	t.Helper()
	if err := s.SetState(state); err != nil {
		t.Fatal(err)
	}
}

func scenes() []scene {
	return []scene{
		{"cartpole", func(t testing.TB) envs.Simulator {
			c := NewCartPole()
			setState(t, c, 0.8, 0, 0.15, 0)
			return c
		}},
		{"pendulum", func(t testing.TB) envs.Simulator {
			p := NewPendulum()
			setState(t, p, 2.2, 0.5)
			p.Step([]float64{1.5})
			return p
		}},
		{"pendulum-gusty", func(t testing.TB) envs.Simulator {
			// The first gust of seed 7's stream, on a pendulum put in a
			// fixed state after the reset and pushed with −1 N·m.
			p := NewPendulumGusty()
			p.Reset(7)
			setState(t, p, -0.6, 0)
			for i := 0; p.LastGust() == 0; i++ {
				if i == 100 {
					t.Fatal("no gust in 100 steps")
				}
				setState(t, p, -0.6, 0)
				p.Step([]float64{-1})
			}
			return p
		}},
		{"acrobot", func(t testing.TB) envs.Simulator {
			a := NewAcrobot()
			setState(t, a, 0.8, 1.2, 0, 0)
			return a
		}},
		{"mountaincar", func(t testing.TB) envs.Simulator {
			m := NewMountainCar()
			setState(t, m, -0.9, 0.02)
			return m
		}},
	}
}

// TestGolden compares rendered frames with the PNGs in testdata/golden,
// pixel for pixel; go test -run TestGolden -update rewrites them.
func TestGolden(t *testing.T) {
	sizes := []struct{ w, h int }{{32, 32}, {256, 256}, {64, 40}}
	for _, sc := range scenes() {
		for _, sz := range sizes {
			name := fmt.Sprintf("physics-%s-%d.png", sc.name, sz.w)
			if sz.w != sz.h {
				name = fmt.Sprintf("physics-%s-%dx%d.png", sc.name, sz.w, sz.h)
			}
			t.Run(name, func(t *testing.T) {
				sim := sc.make(t)
				got := image.NewRGBA(image.Rect(0, 0, sz.w, sz.h))
				sim.Render(got)
				path := filepath.Join(goldenDir, name)
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
					t.Fatalf("%v (run go test -run TestGolden -update to create it)", err)
				}
				defer f.Close()
				want, err := png.Decode(f)
				if err != nil {
					t.Fatalf("decode %s: %v", path, err)
				}
				if want.Bounds() != got.Bounds() {
					t.Fatalf("golden %s has bounds %v, rendered %v", path, want.Bounds(), got.Bounds())
				}
				diff := 0
				for y := 0; y < sz.h; y++ {
					for x := 0; x < sz.w; x++ {
						if color.RGBAModel.Convert(want.At(x, y)) != got.RGBAAt(x, y) {
							diff++
						}
					}
				}
				if diff > 0 {
					t.Errorf("%d of %d pixels differ from %s", diff, sz.w*sz.h, path)
				}
			})
		}
	}
}

// TestRenderSubImage renders into a sub-image (non-zero Min, wide Stride)
// and checks that it equals a standalone render and leaves the rest of the
// parent untouched.
func TestRenderSubImage(t *testing.T) {
	for _, sc := range scenes() {
		t.Run(sc.name, func(t *testing.T) {
			sim := sc.make(t)
			want := image.NewRGBA(image.Rect(0, 0, 32, 32))
			sim.Render(want)

			parent := image.NewRGBA(image.Rect(-10, -5, 60, 50))
			const fill = 17
			for i := range parent.Pix {
				parent.Pix[i] = fill
			}
			r := image.Rect(3, 7, 35, 39)
			sub := parent.SubImage(r).(*image.RGBA)
			sim.Render(sub)
			for y := parent.Rect.Min.Y; y < parent.Rect.Max.Y; y++ {
				for x := parent.Rect.Min.X; x < parent.Rect.Max.X; x++ {
					got := parent.RGBAAt(x, y)
					if (image.Point{x, y}).In(r) {
						if w := want.RGBAAt(x-r.Min.X, y-r.Min.Y); got != w {
							t.Fatalf("pixel (%d, %d) = %v, want %v", x, y, got, w)
						}
					} else if got != (color.RGBA{fill, fill, fill, fill}) {
						t.Fatalf("pixel (%d, %d) outside the sub-image changed to %v", x, y, got)
					}
				}
			}
		})
	}
}

// TestRenderEmpty checks that an empty destination is left alone.
func TestRenderEmpty(t *testing.T) {
	for _, sc := range scenes() {
		t.Run(sc.name, func(t *testing.T) {
			sim := sc.make(t)
			sim.Render(image.NewRGBA(image.Rect(0, 0, 0, 0)))
			sim.Render(image.NewRGBA(image.Rect(5, 5, 5, 9)))
		})
	}
}

// ink is the mean darkness (255 − mean channel) of a w×h box of pixels
// whose top-left corner is (x, y).
func ink(img *image.RGBA, x, y, w, h int) float64 {
	s := 0.0
	for j := y; j < y+h; j++ {
		for i := x; i < x+w; i++ {
			c := img.RGBAAt(i, j)
			s += 255 - (float64(c.R)+float64(c.G)+float64(c.B))/3
		}
	}
	return s / float64(w*h)
}

// TestRenderGeometry checks that the pictures put things where the state
// says: the cart right of centre for x > 0, the pole leaning right for
// θ > 0, the pendulum's rod up at θ = 0 and left at θ = π/2, the acrobot
// hanging down at rest, the mountain car left of the flag.
func TestRenderGeometry(t *testing.T) {
	const n = 64
	render := func(sim envs.Simulator) *image.RGBA {
		img := image.NewRGBA(image.Rect(0, 0, n, n))
		sim.Render(img)
		return img
	}
	tests := []struct {
		name        string
		sim         func() envs.Simulator
		dark, light image.Rectangle // a region with more ink than the other
	}{
		{"cartpole x>0 cart right", func() envs.Simulator {
			c := NewCartPole()
			setState(t, c, 1.2, 0, 0, 0)
			return c
		}, image.Rect(46, 41, 50, 45), image.Rect(14, 41, 18, 45)},
		{"cartpole θ>0 pole right", func() envs.Simulator {
			c := NewCartPole()
			setState(t, c, 0, 0, 0.7, 0)
			return c
		}, image.Rect(34, 35, 38, 39), image.Rect(26, 35, 30, 39)},
		{"pendulum θ=0 rod up", func() envs.Simulator {
			p := NewPendulum()
			setState(t, p, 0, 0)
			return p
		}, image.Rect(31, 20, 33, 26), image.Rect(31, 38, 33, 44)},
		{"pendulum θ=π/2 rod left", func() envs.Simulator {
			p := NewPendulum()
			setState(t, p, math.Pi/2, 0)
			return p
		}, image.Rect(20, 31, 26, 33), image.Rect(38, 31, 44, 33)},
		{"acrobot at rest hangs down", func() envs.Simulator {
			a := NewAcrobot()
			setState(t, a, 0, 0, 0, 0)
			return a
		}, image.Rect(31, 40, 33, 56), image.Rect(31, 20, 33, 28)},
		{"mountaincar left slope", func() envs.Simulator {
			m := NewMountainCar()
			setState(t, m, -1.0, 0)
			return m
		}, image.Rect(5, 31, 10, 36), image.Rect(54, 31, 59, 36)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			img := render(tt.sim())
			d := ink(img, tt.dark.Min.X, tt.dark.Min.Y, tt.dark.Dx(), tt.dark.Dy())
			l := ink(img, tt.light.Min.X, tt.light.Min.Y, tt.light.Dx(), tt.light.Dy())
			if d < l+25 {
				t.Errorf("ink %v in %v, %v in %v; want the first at least 25 more", d, tt.dark, l, tt.light)
			}
		})
	}
}

// TestRenderMirror checks that mirrored states draw mirrored pictures (to
// within rounding of the blend): the cart-pole at (x, θ) and (−x, −θ), the
// pendulum at θ with torque u and at −θ with −u.
func TestRenderMirror(t *testing.T) {
	const n, tol = 48, 3
	tests := []struct {
		name string
		a, b func() envs.Simulator
	}{
		{"cartpole", func() envs.Simulator {
			c := NewCartPole()
			setState(t, c, 0.7, 0, 0.3, 0)
			return c
		}, func() envs.Simulator {
			c := NewCartPole()
			setState(t, c, -0.7, 0, -0.3, 0)
			return c
		}},
		{"pendulum", func() envs.Simulator {
			p := NewPendulum()
			setState(t, p, 1.1, 0)
			p.Step([]float64{1.3})
			return p
		}, func() envs.Simulator {
			p := NewPendulum()
			setState(t, p, -1.1, 0)
			p.Step([]float64{-1.3})
			return p
		}},
		{"acrobot", func() envs.Simulator {
			a := NewAcrobot()
			setState(t, a, 0.9, -0.4, 0, 0)
			return a
		}, func() envs.Simulator {
			a := NewAcrobot()
			setState(t, a, -0.9, 0.4, 0, 0)
			return a
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := image.NewRGBA(image.Rect(0, 0, n, n))
			b := image.NewRGBA(image.Rect(0, 0, n, n))
			tt.a().Render(a)
			tt.b().Render(b)
			worst := 0
			for y := 0; y < n; y++ {
				for x := 0; x < n; x++ {
					p, q := a.RGBAAt(x, y), b.RGBAAt(n-1-x, y)
					for _, d := range []int{int(p.R) - int(q.R), int(p.G) - int(q.G), int(p.B) - int(q.B)} {
						worst = max(worst, d, -d)
					}
				}
			}
			if worst > tol {
				t.Errorf("mirrored pictures differ by up to %d per channel, want ≤ %d", worst, tol)
			}
		})
	}
}

// TestRenderShowsAction checks that the pendulum's picture tells the last
// torque's sign and size, and the gusty pendulum's tells a gust.
func TestRenderShowsAction(t *testing.T) {
	// From upright at rest the rod barely moves in one step (by 0.05²·3u).
	frame := func(u float64) *image.RGBA {
		p := NewPendulum()
		setState(t, p, 0, 0)
		if !math.IsNaN(u) {
			p.Step([]float64{u})
		}
		img := image.NewRGBA(image.Rect(0, 0, 32, 32))
		p.Render(img)
		return img
	}
	none, pos, neg, small := frame(math.NaN()), frame(2), frame(-2), frame(0.5)
	distinct := map[string]*image.RGBA{"none": none, "+2": pos, "-2": neg, "+0.5": small}
	for a, x := range distinct {
		for b, y := range distinct {
			if a < b && bytes.Equal(x.Pix, y.Pix) {
				t.Errorf("torques %s and %s draw the same frame", a, b)
			}
		}
	}
	// A positive torque's arc starts below the pivot and runs
	// counter-clockwise: through the right-hand side of the picture.
	right, left := ink(pos, 19, 14, 2, 4), ink(pos, 11, 14, 2, 4)
	if !(right > left+30) {
		t.Errorf("torque +2: ink right of the pivot %v, left %v; want the arc on the right", right, left)
	}
	if ink(small, 11, 11, 10, 10) >= ink(pos, 11, 11, 10, 10) {
		t.Error("torque 0.5 draws as much as torque 2")
	}

	g := NewPendulumGusty()
	g.Reset(1)
	img := image.NewRGBA(image.Rect(0, 0, 32, 32))
	seen := map[bool]bool{}
	for i := 0; i < 50; i++ {
		g.Step([]float64{0})
		g.Render(img)
		c := img.RGBAAt(2, 2)
		blue := int(c.B) > int(c.R)+60
		if gust := g.LastGust() != 0; blue != gust {
			t.Fatalf("step %d: gust %v but corner mark %v (pixel %v)", i, g.LastGust(), blue, c)
		}
		seen[blue] = true
	}
	if !seen[true] || !seen[false] {
		t.Errorf("50 steps showed gust marks %v; want both with and without", seen)
	}
}

// TestStepRenderAllocs checks that a step and a render allocate nothing
// once the background of the size is cached.
func TestStepRenderAllocs(t *testing.T) {
	for _, b := range benchEnvs() {
		t.Run(b.name, func(t *testing.T) {
			sim := b.make()
			sim.Reset(1)
			img := image.NewRGBA(image.Rect(0, 0, 32, 32))
			sim.Render(img)
			i := 0
			allocs := testing.AllocsPerRun(200, func() {
				if _, term, trunc := sim.Step(b.actions[i%len(b.actions)]); term || trunc {
					sim.Reset(uint64(i))
				}
				sim.Render(img)
				i++
			})
			if allocs != 0 {
				t.Errorf("%v allocations per step and render, want 0", allocs)
			}
		})
	}
}
