package registry

import (
	"errors"
	"image"
	"image/color"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/dreamrl/dream/envs"
)

func TestMakeEveryEnvironment(t *testing.T) {
	for _, e := range Entries() {
		if e.Name == "gridworld" {
			continue
		}
		t.Run(e.Name, func(t *testing.T) {
			for _, mode := range []envs.ObsMode{envs.ObsPixels, envs.ObsState} {
				env, err := Make(e.Name, envs.Options{Obs: mode})
				if err != nil {
					t.Fatal(err)
				}
				obs := env.Reset(3)
				if mode == envs.ObsPixels && (obs.Frame == nil || obs.Frame.Rect.Dx() != envs.DefaultSize) {
					t.Fatalf("pixel observation %v", obs.Frame)
				}
				if mode == envs.ObsState && len(obs.Vector) != env.ObservationSpace().Dim() {
					t.Fatalf("state observation of %d values, space %s", len(obs.Vector), env.ObservationSpace())
				}
				a := make([]float64, env.ActionSpace().Dim())
				if env.ActionSpace().Kind == envs.KindBox {
					a[0] = env.ActionSpace().High[0]
				}
				for range 5 {
					env.Step(a)
				}
				big := image.NewRGBA(image.Rect(0, 0, 200, 150))
				env.Render(big)
				if big.Pix[3] != 255 {
					t.Errorf("render at 200x150 left transparent pixels")
				}
			}
			if e.Description == "" {
				t.Error("no description")
			}
		})
	}
}

func TestMakeErrors(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "ok.map")
	os.WriteFile(good, []byte("slip = 0.2\nS.G\n"), 0o644)
	bad := filepath.Join(dir, "bad.map")
	os.WriteFile(bad, []byte("S.X\n"), 0o644)
	tests := []struct {
		name, env string
		opts      envs.Options
		is        error
		mention   string
	}{
		{"unknown", "gridworld/nope", envs.Options{}, ErrUnknown, "known:"},
		{"map on a built-in", "physics/cartpole", envs.Options{MapFile: good}, envs.ErrOptions, "--map"},
		{"gridworld without map", "gridworld", envs.Options{}, envs.ErrOptions, "map file"},
		{"bad map", "gridworld", envs.Options{MapFile: bad}, nil, "bad.map"},
		{"bad obs", "physics/cartpole", envs.Options{Obs: "rgb"}, envs.ErrOptions, "pixels, state"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Make(tt.env, tt.opts)
			if err == nil {
				t.Fatal("no error")
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("error %v does not wrap %v", err, tt.is)
			}
			if !strings.Contains(err.Error(), tt.mention) || strings.Contains(err.Error(), "\n") {
				t.Errorf("error %q should be one line mentioning %q", err, tt.mention)
			}
		})
	}
	env, err := Make("gridworld", envs.Options{MapFile: good, Obs: envs.ObsState})
	if err != nil {
		t.Fatal(err)
	}
	if got := env.ObservationSpace().Dim(); got != 3 {
		t.Errorf("map gridworld state size %d, want 3", got)
	}
}

// line is a small simulator of a test's own: a point on [0, 1] that
// actions move left or right by a tenth.
type line struct{ x [1]float64 }

func (l *line) ActionSpace() envs.Space { return envs.Discrete(2) }
func (l *line) VectorSpace() envs.Space { return envs.Box([]float64{0}, []float64{1}, 1) }
func (l *line) Reset(seed uint64)       { l.x[0] = 0.5 }
func (l *line) Step(a []float64) (float64, bool, bool) {
	l.x[0] = min(max(l.x[0]+0.2*a[0]-0.1, 0), 1)
	return l.x[0], l.x[0] == 1, false
}
func (l *line) Vector(dst []float64) { dst[0] = l.x[0] }
func (l *line) State() []float64     { return l.x[:] }
func (l *line) Render(dst *image.RGBA) {
	b := dst.Bounds()
	c := b.Min.X + int(l.x[0]*float64(b.Dx()-1))
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			v := uint8(0)
			if x == c {
				v = 255
			}
			dst.SetRGBA(x, y, color.RGBA{v, v, v, 255})
		}
	}
}

func newLine(envs.Options) (envs.Simulator, error) { return &line{}, nil }

func TestRegisterErrors(t *testing.T) {
	tests := []struct {
		name    string
		entry   Entry
		mention string
	}{
		{"empty name", Entry{New: newLine}, "empty name"},
		{"space", Entry{Name: "custom/my line", New: newLine}, `"custom/my line" is malformed`},
		{"leading slash", Entry{Name: "/line", New: newLine}, `"/line" is malformed`},
		{"trailing slash", Entry{Name: "custom/", New: newLine}, `"custom/" is malformed`},
		{"empty part", Entry{Name: "custom//line", New: newLine}, `"custom//line" is malformed`},
		{"dot-dot", Entry{Name: "custom/../line", New: newLine}, `"custom/../line" is malformed`},
		{"leading dash", Entry{Name: "-line", New: newLine}, `"-line" is malformed`},
		{"non-ASCII", Entry{Name: "custom/lïne", New: newLine}, `"custom/lïne" is malformed`},
		{"built-in name", Entry{Name: "physics/cartpole", New: newLine}, `"physics/cartpole" is already registered`},
		{"nil New", Entry{Name: "custom/line"}, `"custom/line": no New function`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reg := Builtin()
			err := reg.Register(tt.entry)
			if !errors.Is(err, ErrEntry) {
				t.Fatalf("Register: %v, want an error wrapping ErrEntry", err)
			}
			msg := err.Error()
			if !strings.Contains(msg, tt.mention) || !strings.Contains(msg, "allowed:") || strings.Contains(msg, "\n") {
				t.Errorf("error %q should be one line mentioning %q and what is allowed", msg, tt.mention)
			}
			if got, want := len(reg.Names()), len(Names()); got != want {
				t.Errorf("a refused entry changed the registry: %d names, want %d", got, want)
			}
		})
	}
}

func TestRegisterNames(t *testing.T) {
	for _, name := range []string{"line", "custom/line", "Custom/Line-v1", "a/b/c.d_e", "2d/line"} {
		t.Run(name, func(t *testing.T) {
			if err := New().Register(Entry{Name: name, New: newLine}); err != nil {
				t.Errorf("Register(%q): %v", name, err)
			}
		})
	}
}

func TestMakeRegistered(t *testing.T) {
	reg := Builtin()
	if err := reg.Register(Entry{Name: "custom/line", Description: "a point on a line", New: newLine}); err != nil {
		t.Fatal(err)
	}
	if err := reg.Register(Entry{Name: "custom/none", New: func(envs.Options) (envs.Simulator, error) { return nil, nil }}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		opts envs.Options
		dim  int
	}{
		{"pixels", envs.Options{Size: 12}, 12 * 12 * 3},
		{"state", envs.Options{Obs: envs.ObsState}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env, err := reg.Make("custom/line", tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			if got := env.ObservationSpace().Dim(); got != tt.dim {
				t.Errorf("observation space %s of %d values, want %d", env.ObservationSpace(), got, tt.dim)
			}
			env.Reset(1)
			_, r, term, _ := env.Step([]float64{1})
			if math.Abs(r-0.6) > 1e-12 || term {
				t.Errorf("step right from 0.5: reward %g, terminated %v; want 0.6, false", r, term)
			}
		})
	}
	if e, err := reg.Lookup("custom/line"); err != nil || e.Description != "a point on a line" {
		t.Errorf("Lookup: %+v, %v", e, err)
	}
	if !slices.Contains(reg.Names(), "custom/line") || len(reg.Entries()) != len(Entries())+2 {
		t.Errorf("names %v", reg.Names())
	}
	if _, err := reg.Make("custom/none", envs.Options{}); err == nil || !strings.Contains(err.Error(), "custom/none") {
		t.Errorf("Make of an entry whose New returns nothing: %v", err)
	}
	// Every Builtin registry is its own: the entry reaches neither the
	// package-level functions nor another built-in registry.
	for name, mk := range map[string]func(string, envs.Options) (envs.Env, error){
		"package": Make, "another Builtin": Builtin().Make, "New": New().Make,
	} {
		if _, err := mk("custom/line", envs.Options{}); !errors.Is(err, ErrUnknown) {
			t.Errorf("%s registry made custom/line: err = %v, want ErrUnknown", name, err)
		}
	}
}
