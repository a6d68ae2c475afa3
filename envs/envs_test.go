package envs

import (
	"image"
	"image/color"
	"math"
	"testing"
)

// counter is a tiny simulator: the state counts steps, the episode ends
// after limit steps (terminated when the action was 1, else truncated).
type counter struct {
	n, limit int
	state    []float64
	seed     uint64
}

func (c *counter) ActionSpace() Space { return Discrete(2) }
func (c *counter) VectorSpace() Space { return Box([]float64{0}, []float64{100}, 1) }
func (c *counter) Reset(seed uint64) {
	c.n, c.seed = 0, seed
	c.state = []float64{0}
}
func (c *counter) Step(a []float64) (float64, bool, bool) {
	c.n++
	c.state[0] = float64(c.n)
	done := c.n >= c.limit
	return 1, done && a[0] == 1, done && a[0] != 1
}
func (c *counter) Vector(dst []float64) { dst[0] = float64(c.n) }
func (c *counter) State() []float64     { return c.state }
func (c *counter) Render(dst *image.RGBA) {
	v := uint8(c.n * 40)
	for y := dst.Rect.Min.Y; y < dst.Rect.Max.Y; y++ {
		for x := dst.Rect.Min.X; x < dst.Rect.Max.X; x++ {
			dst.SetRGBA(x, y, color.RGBA{v, v, v, 255})
		}
	}
}

func TestSpace(t *testing.T) {
	tests := []struct {
		name  string
		space Space
		in    []float64
		want  bool
		str   string
		dim   int
	}{
		{"discrete in", Discrete(4), []float64{3}, true, "Discrete(4)", 1},
		{"discrete out", Discrete(4), []float64{4}, false, "Discrete(4)", 1},
		{"discrete fractional", Discrete(4), []float64{1.5}, false, "Discrete(4)", 1},
		{"box in", Box([]float64{-2}, []float64{2}, 1), []float64{1.5}, true, "Box(-2, 2, (1,))", 1},
		{"box out", Box([]float64{-2}, []float64{2}, 1), []float64{2.5}, false, "Box(-2, 2, (1,))", 1},
		{"box nan", Box([]float64{-2}, []float64{2}, 1), []float64{math.NaN()}, false, "Box(-2, 2, (1,))", 1},
		{"box wrong length", Box([]float64{0}, []float64{1}, 2, 3), []float64{0.5}, false, "Box(0, 1, (2,3))", 6},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.space.Contains(tt.in); got != tt.want {
				t.Errorf("Contains(%v) = %v, want %v", tt.in, got, tt.want)
			}
			if got := tt.space.String(); got != tt.str {
				t.Errorf("String() = %q, want %q", got, tt.str)
			}
			if got := tt.space.Dim(); got != tt.dim {
				t.Errorf("Dim() = %d, want %d", got, tt.dim)
			}
		})
	}
}

func TestNewObservations(t *testing.T) {
	e, err := New(&counter{limit: 3}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	obs := e.Reset(7)
	if obs.Frame == nil || obs.Frame.Rect.Dx() != DefaultSize {
		t.Fatalf("pixel observation: got %v", obs.Frame)
	}
	if got := e.ObservationSpace().String(); got != "Box(0, 255, (32,32,3))" {
		t.Errorf("observation space %s", got)
	}
	obs, _, _, _ = e.Step([]float64{0})
	if obs.Frame.Pix[0] != 40 {
		t.Errorf("frame not re-rendered after step: %d", obs.Frame.Pix[0])
	}
	s, err := New(&counter{limit: 3}, Options{Obs: ObsState})
	if err != nil {
		t.Fatal(err)
	}
	s.Reset(1)
	obs, _, _, _ = s.Step([]float64{0})
	if obs.Frame != nil || len(obs.Vector) != 1 || obs.Vector[0] != 1 {
		t.Errorf("state observation: %+v", obs)
	}
	for _, bad := range []Options{{Obs: "rgb"}, {Size: -1}, {Size: 5000}} {
		if _, err := New(&counter{}, bad); err == nil {
			t.Errorf("New(%+v) accepted bad options", bad)
		}
	}
}

func TestVectorAutoReset(t *testing.T) {
	const n = 4
	es := make([]Env, n)
	for i := range es {
		e, err := New(&counter{limit: i + 2}, Options{Obs: ObsState})
		if err != nil {
			t.Fatal(err)
		}
		es[i] = e
	}
	v := NewVector(es, 42)
	defer v.Close()
	v.Reset()
	acts := make([][]float64, n)
	for i := range acts {
		acts[i] = []float64{float64(i % 2)}
	}
	ends := make([]int, n)
	for step := 1; step <= 12; step++ {
		out := v.Step(acts)
		for i, tr := range out {
			limit := i + 2
			if (step%limit == 0) != (tr.Terminated || tr.Truncated) {
				t.Fatalf("copy %d step %d: done=%v", i, step, tr.Terminated || tr.Truncated)
			}
			if tr.Terminated || tr.Truncated {
				ends[i]++
				if tr.Final.Vector[0] != float64(limit) {
					t.Errorf("copy %d: final observation %v, want %d", i, tr.Final.Vector, limit)
				}
				if tr.Obs.Vector[0] != 0 {
					t.Errorf("copy %d: not reset, observation %v", i, tr.Obs.Vector)
				}
				if tr.Terminated != (i%2 == 1) {
					t.Errorf("copy %d: terminated=%v truncated=%v", i, tr.Terminated, tr.Truncated)
				}
			}
		}
	}
	for i, got := range ends {
		if want := 12 / (i + 2); got != want {
			t.Errorf("copy %d ended %d episodes, want %d", i, got, want)
		}
	}
}

func TestVectorSeedsReproducible(t *testing.T) {
	seeds := func() []uint64 {
		es := make([]Env, 3)
		sims := make([]*counter, 3)
		for i := range es {
			sims[i] = &counter{limit: 1}
			es[i], _ = New(sims[i], Options{Obs: ObsState})
		}
		v := NewVector(es, 9)
		defer v.Close()
		v.Reset()
		var got []uint64
		for range 3 {
			v.Step([][]float64{{0}, {0}, {0}})
			for _, s := range sims {
				got = append(got, s.seed)
			}
		}
		return got
	}
	a, b := seeds(), seeds()
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("reset seeds differ at %d: %d vs %d", i, a[i], b[i])
		}
	}
	if a[0] == a[1] {
		t.Errorf("copies share a seed stream")
	}
}
