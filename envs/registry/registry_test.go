package registry

import (
	"errors"
	"image"
	"os"
	"path/filepath"
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
