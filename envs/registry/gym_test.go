package registry

import (
	"errors"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/dreamrl/dream/envs"
	"github.com/dreamrl/dream/envs/gym"
)

// gymPython returns an interpreter with numpy and puts the stand-in
// gymnasium (testdata/gym) first on the children's PYTHONPATH.
func gymPython(t *testing.T) string {
	t.Helper()
	abs, err := filepath.Abs(filepath.Join("..", "..", "testdata", "gym"))
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("PYTHONPATH", abs)
	for _, py := range []string{"python3", "/usr/bin/python3"} {
		if path, err := exec.LookPath(py); err == nil && exec.Command(path, "-c", "import numpy").Run() == nil {
			return path
		}
	}
	t.Fatal("no Python 3 with numpy: install python3 and python3-numpy (make deps)")
	return ""
}

// TestGymPrefix makes a stand-in Gymnasium environment through every
// registry, in both observation modes.
func TestGymPrefix(t *testing.T) {
	py := gymPython(t)
	for _, reg := range []*Registry{Builtin(), New()} {
		e, err := reg.Lookup("gym:dreamtest/Corridor-v0")
		if err != nil {
			t.Fatal(err)
		}
		if e.Name != "gym:dreamtest/Corridor-v0" || !strings.Contains(e.Description, "Gymnasium dreamtest/Corridor-v0") {
			t.Errorf("entry %+v", e)
		}
		for _, mode := range []envs.ObsMode{envs.ObsPixels, envs.ObsState} {
			env, err := reg.Make("gym:dreamtest/Corridor-v0", envs.Options{Obs: mode, Size: 16, Python: py, GymKwargs: `{"length": 8}`})
			if err != nil {
				t.Fatal(err)
			}
			obs := env.Reset(4)
			if mode == envs.ObsPixels && (obs.Frame == nil || obs.Frame.Rect.Dx() != 16 || obs.Frame.Pix[3] != 255) {
				t.Errorf("pixel observation %v", obs.Frame)
			}
			if mode == envs.ObsState && (len(obs.Vector) != 2 || env.ObservationSpace().String() != "Box(0, 1, (2,))") {
				t.Errorf("state observation %v in %v", obs.Vector, env.ObservationSpace())
			}
			if _, _, _, _ = env.Step([]float64{2}); env.ActionSpace().String() != "Discrete(3)" {
				t.Errorf("action space %v", env.ActionSpace())
			}
			if err := envs.Close(env); err != nil {
				t.Error(err)
			}
		}
	}
	if slices.ContainsFunc(Names(), func(n string) bool { return strings.HasPrefix(n, gym.Prefix) }) {
		t.Error("Names lists gym: names")
	}
}

func TestGymPrefixErrors(t *testing.T) {
	py := gymPython(t)
	tests := []struct {
		name, env string
		opts      envs.Options
		sentinel  error
		want      string
	}{
		{"malformed id", "gym:Cart Pole", envs.Options{}, ErrUnknown, "a Gymnasium ID"},
		{"empty id", "gym:", envs.Options{}, ErrUnknown, "a Gymnasium ID"},
		{"unknown id", "gym:dreamtest/Nope-v0", envs.Options{Python: py}, gym.ErrUnknownID, "doesn't exist"},
		{"map for gym", "gym:dreamtest/Corridor-v0", envs.Options{MapFile: "x.map", Python: py}, envs.ErrOptions, "--map"},
		{"python for a built-in", "physics/cartpole", envs.Options{Python: py}, envs.ErrOptions, "--python and --gym-kwargs apply only to gym:ID"},
		{"kwargs for gridworld", "gridworld", envs.Options{MapFile: "x.map", GymKwargs: "{}"}, envs.ErrOptions, "apply only to gym:ID"},
		{"kwargs not an object", "gym:dreamtest/Corridor-v0", envs.Options{GymKwargs: "3"}, envs.ErrOptions, "not a JSON object"},
		{"unknown name lists gym", "physics/nope", envs.Options{}, ErrUnknown, "or gym:ID for a Gymnasium environment"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env, err := Make(tt.env, tt.opts)
			if err == nil {
				envs.Close(env)
				t.Fatal("no error")
			}
			if !errors.Is(err, tt.sentinel) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q, want %v mentioning %q", err, tt.sentinel, tt.want)
			}
		})
	}
}

// TestTraits checks what the environments declare: the built-ins' time
// limits, frames and budgets, a map file's, and a Gymnasium environment's
// action space and time limit, asked of its child once.
func TestTraits(t *testing.T) {
	reg := Builtin()
	for _, c := range []struct {
		name, mapFile string
		want          envs.Traits
	}{
		{"gridworld/frozenlake-4x4", "", envs.Traits{Actions: envs.KindDiscrete, TimeLimit: 100, FiniteStates: true, Budget: 20000}},
		{"gridworld/frozenlake-8x8", "", envs.Traits{Actions: envs.KindDiscrete, TimeLimit: 200, FiniteStates: true, Budget: 100000}},
		{"gridworld", "../../testdata/maps/frozenlake-8x8.map", envs.Traits{Actions: envs.KindDiscrete, TimeLimit: 200, FiniteStates: true, Budget: 100000}},
		{"gridworld", "../../testdata/maps/four-rooms.map", envs.Traits{Actions: envs.KindDiscrete, TimeLimit: 200, FiniteStates: true}},
		{"physics/cartpole", "", envs.Traits{Actions: envs.KindDiscrete, TimeLimit: 500, Budget: 50000}},
		{"physics/pendulum-gusty", "", envs.Traits{Actions: envs.KindBox, TimeLimit: 200, Budget: 30000}},
	} {
		got, err := reg.Traits(c.name, envs.Options{MapFile: c.mapFile})
		if err != nil || got != c.want {
			t.Errorf("%s %s: %+v, %v; want %+v", c.name, c.mapFile, got, err, c.want)
		}
	}
	if _, err := reg.Traits("gridworld", envs.Options{MapFile: "no-such.map"}); err == nil {
		t.Error("a missing map file: no error")
	}
	if _, err := reg.Traits("physics/nope", envs.Options{}); !errors.Is(err, ErrUnknown) {
		t.Errorf("an unknown name: %v", err)
	}
	py := gymPython(t)
	for range 2 {
		got, err := reg.Traits("gym:dreamtest/Corridor-v0", envs.Options{Python: py, GymKwargs: `{"max_episode_steps": 9}`})
		if want := (envs.Traits{Actions: envs.KindDiscrete, TimeLimit: 9}); err != nil || got != want {
			t.Errorf("Gymnasium corridor: %+v, %v; want %+v", got, err, want)
		}
	}
}
