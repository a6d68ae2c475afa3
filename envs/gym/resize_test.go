package gym

import (
	"image"
	"math"
	"math/rand/v2"
	"testing"
)

// areaReference resizes f to w×h by integrating the source over every
// destination pixel in float64, directly from the definition.
func areaReference(f frame, w, h int) []float64 {
	out := make([]float64, w*h*3)
	sx, sy := float64(f.W)/float64(w), float64(f.H)/float64(h)
	for y := range h {
		for x := range w {
			x0, x1, y0, y1 := float64(x)*sx, float64(x+1)*sx, float64(y)*sy, float64(y+1)*sy
			for j := int(y0); j < f.H && float64(j) < y1; j++ {
				wy := math.Min(y1, float64(j+1)) - math.Max(y0, float64(j))
				for i := int(x0); i < f.W && float64(i) < x1; i++ {
					wx := math.Min(x1, float64(i+1)) - math.Max(x0, float64(i))
					for c := range 3 {
						out[(y*w+x)*3+c] += wx * wy / (sx * sy) * float64(f.Pix[(j*f.W+i)*3+c])
					}
				}
			}
		}
	}
	return out
}

func randomFrame(rng *rand.Rand, h, w int) frame {
	f := frame{H: h, W: w, Pix: make([]byte, h*w*3)}
	for i := range f.Pix {
		f.Pix[i] = byte(rng.IntN(256))
	}
	return f
}

// TestResizeMatchesAreaAverage compares the resizer with the area
// integral, to within the rounding of a byte (0.5) and float32 sums.
func TestResizeMatchesAreaAverage(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	tests := []struct {
		name       string
		sh, sw     int
		dh, dw     int
		exactBlock int // >0: an integer factor, every pixel a block mean
	}{
		{"identity", 8, 12, 8, 12, 1},
		{"halve", 16, 16, 8, 8, 2},
		{"cartpole 400x600 to 32", 400, 600, 32, 32, 0},
		{"corridor 8x48 to 32", 8, 48, 32, 32, 0},
		{"upscale 3x5 to 7x11", 3, 5, 7, 11, 0},
		{"one pixel", 1, 1, 4, 4, 0},
		{"to one pixel", 5, 7, 1, 1, 0},
	}
	var r resizer
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := randomFrame(rng, tt.sh, tt.sw)
			dst := image.NewRGBA(image.Rect(0, 0, tt.dw, tt.dh))
			r.draw(dst, f)
			want := areaReference(f, tt.dw, tt.dh)
			for y := range tt.dh {
				for x := range tt.dw {
					for c := range 3 {
						got := float64(dst.Pix[dst.PixOffset(x, y)+c])
						if w := want[(y*tt.dw+x)*3+c]; math.Abs(got-w) > 0.5+1e-3 {
							t.Fatalf("pixel (%d,%d) channel %d: %g, want %g", x, y, c, got, w)
						}
					}
					if a := dst.Pix[dst.PixOffset(x, y)+3]; a != 255 {
						t.Fatalf("pixel (%d,%d) alpha %d", x, y, a)
					}
				}
			}
			if tt.exactBlock == 1 {
				for i := range f.Pix {
					if dst.Pix[i/3*4+i%3] != f.Pix[i] {
						t.Fatal("same size is not a copy")
					}
				}
			}
		})
	}
}

// TestResizeKeepsConstant checks that a constant frame stays constant at
// every size, 255 included (the weights sum to 1).
func TestResizeKeepsConstant(t *testing.T) {
	var r resizer
	for _, v := range []byte{0, 1, 128, 254, 255} {
		f := frame{H: 37, W: 53, Pix: make([]byte, 37*53*3)}
		for i := range f.Pix {
			f.Pix[i] = v
		}
		for _, size := range []int{1, 7, 32, 64, 100} {
			dst := image.NewRGBA(image.Rect(0, 0, size, size+3))
			r.draw(dst, f)
			for i, p := range dst.Pix {
				if i%4 != 3 && p != v {
					t.Fatalf("value %d at size %d: got %d", v, size, p)
				}
			}
		}
	}
}

// TestResizeSubImage checks that a destination with an offset is drawn
// inside its bounds only.
func TestResizeSubImage(t *testing.T) {
	var r resizer
	big := image.NewRGBA(image.Rect(0, 0, 10, 10))
	sub := big.SubImage(image.Rect(2, 3, 6, 8)).(*image.RGBA)
	f := frame{H: 2, W: 2, Pix: []byte{200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200}}
	r.draw(sub, f)
	for y := range 10 {
		for x := range 10 {
			in := x >= 2 && x < 6 && y >= 3 && y < 8
			if got := big.RGBAAt(x, y).R; (got == 200) != in {
				t.Fatalf("pixel (%d,%d) = %d, inside %v", x, y, got, in)
			}
		}
	}
}

func BenchmarkResize(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 1))
	for _, tt := range []struct {
		name   string
		sh, sw int
	}{{"400x600to32", 400, 600}, {"8x48to32", 8, 48}} {
		b.Run(tt.name, func(b *testing.B) {
			f := randomFrame(rng, tt.sh, tt.sw)
			dst := image.NewRGBA(image.Rect(0, 0, 32, 32))
			var r resizer
			b.ReportAllocs()
			for b.Loop() {
				r.draw(dst, f)
			}
		})
	}
}
