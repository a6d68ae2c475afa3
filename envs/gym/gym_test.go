package gym

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dreamrl/dream/envs"
)

// testPython returns an interpreter with numpy: python3 on PATH, else
// Debian's /usr/bin/python3 (`make deps` installs python3-numpy).
func testPython(t testing.TB) string {
	t.Helper()
	py := findPython()
	if py == "" {
		t.Fatal("no Python 3 with numpy: install python3 and python3-numpy (make deps)")
	}
	return py
}

// findPython looks for the tests' interpreter once.
var findPython = sync.OnceValue(func() string {
	for _, py := range []string{"python3", "/usr/bin/python3"} {
		if path, err := exec.LookPath(py); err == nil && exec.Command(path, "-c", "import numpy").Run() == nil {
			return path
		}
	}
	return ""
})

// standIn puts the stand-in gymnasium package (testdata/gym) or another
// directory of testdata/gym first on the children's PYTHONPATH.
func standIn(t testing.TB, dir string) {
	t.Helper()
	abs, err := filepath.Abs(filepath.Join("..", "..", "testdata", "gym", dir))
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("PYTHONPATH", abs)
}

// newEnv makes a stand-in environment or fails the test.
func newEnv(t testing.TB, id string, obs envs.ObsMode, kwargs string) *Env {
	t.Helper()
	e, err := New(id, envs.Options{Obs: obs, Python: testPython(t), GymKwargs: kwargs})
	if err != nil {
		t.Fatalf("New(%s): %v", id, err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

// step is one line of a rollout: after a reset (no reward) or a step.
type step struct {
	Obs        []float64 `json:"obs"`
	Reward     float64   `json:"reward"`
	Terminated bool      `json:"terminated"`
	Truncated  bool      `json:"truncated"`
	Frame      string    `json:"frame"`
}

type episode struct {
	Seed    uint64 `json:"seed"`
	Actions []any  `json:"actions"`
}

// standInRollout runs testdata/gym/rollout.py: the stand-in's own rollout
// of the episodes, without dream.
func standInRollout(t *testing.T, id, kwargs string, eps []episode) [][]step {
	t.Helper()
	req := map[string]any{"id": id, "episodes": eps}
	if kwargs != "" {
		req["kwargs"] = json.RawMessage(kwargs)
	}
	arg, _ := json.Marshal(req)
	cmd := exec.Command(testPython(t), "-B", filepath.Join("..", "..", "testdata", "gym", "rollout.py"), string(arg))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("rollout.py: %v\n%s", err, stderr.String())
	}
	var all [][]step
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		var s step
		if err := json.Unmarshal(sc.Bytes(), &s); err != nil {
			t.Fatalf("rollout.py printed %q: %v", sc.Text(), err)
		}
		if s.Reward == 0 && !strings.Contains(sc.Text(), `"reward"`) {
			all = append(all, nil) // a reset starts an episode
		}
		all[len(all)-1] = append(all[len(all)-1], s)
	}
	return all
}

// frameHash is rollout.py's hash of a frame.
func frameHash(f frame) string {
	sum := sha256.Sum256(f.Pix)
	return fmt.Sprintf("%dx%d:%s", f.H, f.W, hex.EncodeToString(sum[:]))
}

// TestRolloutsMatchStandIn steps the stand-in's environments through the
// bridge and compares every observation (bit for bit), reward, flag and
// frame with the stand-in's own rollout of the same seeds and actions.
func TestRolloutsMatchStandIn(t *testing.T) {
	standIn(t, "")
	tests := []struct {
		id, kwargs string
		obs        envs.ObsMode
	}{
		{"dreamtest/Corridor-v0", "", envs.ObsState},
		{"dreamtest/Corridor-v0", "", envs.ObsPixels},
		{"dreamtest/Corridor-v0", `{"discrete_obs": true, "length": 9}`, envs.ObsState},
		{"dreamtest/PointMass-v0", "", envs.ObsState},
		{"dreamtest/PointMass-v0", `{"max_episode_steps": 20}`, envs.ObsPixels},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s %s %s", tt.id, tt.obs, tt.kwargs), func(t *testing.T) {
			e := newEnv(t, tt.id, tt.obs, tt.kwargs)
			rng := rand.New(rand.NewPCG(1, 2))
			var eps []episode
			for i := range 4 {
				ep := episode{Seed: uint64(100 + 7*i)}
				for range 60 {
					if e.ActionSpace().Kind == envs.KindDiscrete {
						ep.Actions = append(ep.Actions, rng.IntN(e.ActionSpace().N))
					} else {
						ep.Actions = append(ep.Actions, []float64{2*rng.Float64() - 1})
					}
				}
				eps = append(eps, ep)
			}
			want := standInRollout(t, tt.id, tt.kwargs, eps)
			if len(want) != len(eps) {
				t.Fatalf("rollout.py played %d episodes, want %d", len(want), len(eps))
			}
			for i, ep := range eps {
				e.Reset(ep.Seed)
				got := []step{e.observed(tt.obs, 0, false, false)}
				for _, a := range ep.Actions {
					act := []float64{0}
					switch a := a.(type) {
					case int:
						act[0] = float64(a)
					case []float64:
						act = a
					}
					r, term, trunc := e.Step(act)
					got = append(got, e.observed(tt.obs, r, term, trunc))
					if term || trunc {
						break
					}
				}
				if len(got) != len(want[i]) {
					t.Fatalf("episode %d: %d steps through the bridge, %d in the stand-in", i, len(got), len(want[i]))
				}
				for k := range got {
					g, w := got[k], want[i][k]
					if tt.obs == envs.ObsPixels {
						w.Obs = nil // pixel mode sends frames only
					} else {
						g.Frame, w.Frame = "", ""
					}
					if !sameStep(g, w) {
						t.Fatalf("episode %d step %d: bridge %+v, stand-in %+v", i, k, g, w)
					}
				}
			}
		})
	}
}

// observed is what the Env holds after a reset or step, as rollout.py
// prints it.
func (e *Env) observed(obs envs.ObsMode, r float64, term, trunc bool) step {
	s := step{Reward: r, Terminated: term, Truncated: trunc}
	if obs == envs.ObsState {
		s.Obs = append([]float64(nil), e.State()...)
	} else {
		s.Frame = frameHash(e.pic)
	}
	return s
}

// sameStep compares two steps exactly (observations bit for bit).
func sameStep(a, b step) bool {
	if a.Reward != b.Reward || a.Terminated != b.Terminated || a.Truncated != b.Truncated || a.Frame != b.Frame || len(a.Obs) != len(b.Obs) {
		return false
	}
	for i := range a.Obs {
		if math.Float64bits(a.Obs[i]) != math.Float64bits(b.Obs[i]) {
			return false
		}
	}
	return true
}

func TestSpaces(t *testing.T) {
	standIn(t, "")
	inf := math.Inf(1)
	tests := []struct {
		id, kwargs     string
		action, vector envs.Space
		maxSteps       int
	}{
		{"dreamtest/Corridor-v0", "", envs.Discrete(3), envs.Box([]float64{0}, []float64{1}, 2), 30},
		{"dreamtest/Corridor-v0", `{"discrete_obs": true, "max_episode_steps": 7}`, envs.Discrete(3), envs.Box([]float64{0}, []float64{1}, 6), 7},
		{"dreamtest/PointMass-v0", "", envs.Box([]float64{-1}, []float64{1}, 1), envs.Box([]float64{-inf}, []float64{inf}, 2), 50},
	}
	for _, tt := range tests {
		t.Run(tt.id+tt.kwargs, func(t *testing.T) {
			e := newEnv(t, tt.id, envs.ObsState, tt.kwargs)
			if got := e.ActionSpace(); got.String() != tt.action.String() || got.Kind != tt.action.Kind || got.N != tt.action.N {
				t.Errorf("action space %v, want %v", got, tt.action)
			}
			if got := e.VectorSpace(); got.String() != tt.vector.String() || got.Dim() != tt.vector.Dim() {
				t.Errorf("vector space %v, want %v", got, tt.vector)
			}
			if e.MaxEpisodeSteps() != tt.maxSteps {
				t.Errorf("max episode steps %d, want %d", e.MaxEpisodeSteps(), tt.maxSteps)
			}
		})
	}
}

// TestDiscreteObservationOneHot checks that a Discrete observation is the
// one-hot of the state that State returns.
func TestDiscreteObservationOneHot(t *testing.T) {
	standIn(t, "")
	e := newEnv(t, "dreamtest/Corridor-v0", envs.ObsState, `{"discrete_obs": true}`)
	vec := make([]float64, e.VectorSpace().Dim())
	for seed := range uint64(5) {
		e.Reset(seed)
		e.Vector(vec)
		cell := int(e.State()[0])
		for i, v := range vec {
			if want := float64(boolInt(i == cell)); v != want {
				t.Fatalf("seed %d: one-hot %v of cell %d", seed, vec, cell)
			}
		}
	}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// TestStartErrors checks every error New reports: one line, wrapping its
// sentinel, naming the cause and what to do.
func TestStartErrors(t *testing.T) {
	py := testPython(t)
	dir := t.TempDir()
	script := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
			t.Fatal(err)
		}
		return p
	}
	chatter := script("chatter", "echo 'Python 3.11.2 ready'")
	quits := script("quits", "echo 'no such module' >&2; exit 2")
	tests := []struct {
		name, id, pythonPath, python, kwargs string
		obs                                  envs.ObsMode
		sentinel                             error
		want                                 []string
	}{
		{"python not on PATH", "dreamtest/Corridor-v0", "", "no-such-python3", "", envs.ObsState, ErrNoPython, []string{"no-such-python3 is not on PATH", "--python"}},
		{"python not a file", "dreamtest/Corridor-v0", "", filepath.Join(dir, "missing"), "", envs.ObsState, ErrNoPython, []string{"not an executable file"}},
		{"not a bridge", "dreamtest/Corridor-v0", "", chatter, "", envs.ObsState, ErrNoPython, []string{"is not a Python that runs dream's bridge", "Python 3.11.2"}},
		{"exits at once", "dreamtest/Corridor-v0", "", quits, "", envs.ObsState, ErrBridge, []string{"exit status 2", "no such module"}},
		{"no numpy", "dreamtest/Corridor-v0", "nonumpy", py, "", envs.ObsState, ErrNoModule, []string{"no module numpy", "pip install numpy"}},
		{"no gymnasium", "dreamtest/Corridor-v0", "nogym", py, "", envs.ObsState, ErrNoModule, []string{"no module gymnasium", "pip install gymnasium"}},
		{"unknown id", "dreamtest/Nope-v0", "", py, "", envs.ObsState, ErrUnknownID, []string{`"dreamtest/Nope-v0"`, "doesn't exist", "pprint_registry"}},
		{"malformed id", "Cart Pole", "", py, "", envs.ObsState, ErrUnknownID, []string{"malformed", "CartPole-v1"}},
		{"dict actions", "dreamtest/DictAction-v0", "", py, "", envs.ObsPixels, ErrSpace, []string{"Dict(", "allowed: Discrete, Box"}},
		{"dict observations", "dreamtest/DictObs-v0", "", py, "", envs.ObsState, ErrSpace, []string{"observation space Dict(", "--obs pixels"}},
		{"infinite action bounds", "dreamtest/InfAction-v0", "", py, "", envs.ObsState, ErrSpace, []string{"[-Inf, +Inf]", "finite bounds"}},
		{"no frames", "dreamtest/Corridor-v0", "", py, `{"render_mode": null}`, envs.ObsPixels, ErrBridge, []string{"cannot be observed in pixels", "--obs state"}},
		{"bad kwarg", "dreamtest/Corridor-v0", "", py, `{"colour": 3}`, envs.ObsState, ErrBridge, []string{"gymnasium.make", "TypeError", "colour"}},
		{"kwargs not an object", "dreamtest/Corridor-v0", "", py, `[1]`, envs.ObsState, envs.ErrOptions, []string{"not a JSON object"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			standIn(t, tt.pythonPath)
			e, err := New(tt.id, envs.Options{Obs: tt.obs, Python: tt.python, GymKwargs: tt.kwargs})
			if err == nil {
				e.Close()
				t.Fatal("no error")
			}
			msg := err.Error()
			t.Log(msg)
			if !errors.Is(err, tt.sentinel) {
				t.Errorf("error %q does not wrap %v", msg, tt.sentinel)
			}
			if strings.Contains(msg, "\n") {
				t.Errorf("error is not one line: %q", msg)
			}
			for _, w := range tt.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q lacks %q", msg, w)
				}
			}
		})
	}
}

// failure steps e until it fails and returns the failure.
func failure(t *testing.T, e *Env, steps int) (f *envs.Failure) {
	t.Helper()
	defer func() {
		v := recover()
		var ok bool
		if f, ok = v.(*envs.Failure); !ok {
			t.Fatalf("panic %v, want an *envs.Failure", v)
		}
	}()
	e.Reset(1)
	for range steps {
		if _, term, trunc := e.Step([]float64{2}); term || trunc {
			e.Reset(2)
		}
	}
	t.Fatalf("no failure in %d steps", steps)
	return nil
}

// TestMidRunFailures checks that a child that dies, raises or writes
// garbage mid-episode fails the Env with one line that says which, that
// the child is gone, and that the Env stays failed.
func TestMidRunFailures(t *testing.T) {
	standIn(t, "")
	tests := []struct {
		id   string
		want []string
	}{
		{"dreamtest/Crash-v0", []string{"died during step", "exit status 3", "crashing on purpose at step 4"}},
		{"dreamtest/Garbage-v0", []string{"not dream's protocol during step", `"this is not`}},
		{"dreamtest/Raise-v0", []string{"step raised RuntimeError: stand-in: step failed on purpose"}},
	}
	for _, tt := range tests {
		t.Run(tt.id, func(t *testing.T) {
			e := newEnv(t, tt.id, envs.ObsPixels, kwargsFor(tt.id))
			f := failure(t, e, 10)
			msg := f.Error()
			t.Log(msg)
			if !errors.Is(f, ErrBridge) || strings.Contains(msg, "\n") {
				t.Errorf("failure %q: not one line wrapping ErrBridge", msg)
			}
			for _, w := range tt.want {
				if !strings.Contains(msg, w) {
					t.Errorf("failure %q lacks %q", msg, w)
				}
			}
			select {
			case <-e.proc.done:
			case <-time.After(5 * time.Second):
				t.Error("the child still runs after the failure")
			}
			var again error
			func() {
				defer envs.RecoverFailure(&again)
				e.Step([]float64{0})
			}()
			if again != f {
				t.Errorf("a step after the failure: %v, want the same failure", again)
			}
		})
	}
}

// kwargsFor makes the failing stand-ins fail at their 4th step.
func kwargsFor(id string) string {
	name := strings.TrimSuffix(strings.TrimPrefix(id, "dreamtest/"), "-v0")
	return fmt.Sprintf(`{"%s_at": 4}`, strings.ToLower(name))
}

// TestStdoutDoesNotCorruptProtocol steps an environment that prints and
// writes to file descriptor 1 on every step.
func TestStdoutDoesNotCorruptProtocol(t *testing.T) {
	standIn(t, "")
	e := newEnv(t, "dreamtest/Corridor-v0", envs.ObsState, `{"chatty": true}`)
	e.Reset(0)
	for range 50 {
		if _, term, trunc := e.Step([]float64{2}); term || trunc {
			e.Reset(1)
		}
	}
}

// TestRenderInStateMode asks the child for frames on demand and resizes
// them to any size.
func TestRenderInStateMode(t *testing.T) {
	standIn(t, "")
	e := newEnv(t, "dreamtest/Corridor-v0", envs.ObsState, "")
	e.Reset(3)
	for _, size := range []int{8, 32, 100} {
		img := image.NewRGBA(image.Rect(0, 0, size, size))
		e.Render(img)
		// The goal cell (green) fills the right sixth of the corridor.
		c := img.RGBAAt(size-1, size/2)
		if c.G != 160 || c.R != 0 || c.A != 255 {
			t.Errorf("size %d: goal pixel %v, want green", size, c)
		}
	}
	if h, w := e.pic.H, e.pic.W; h != 8 || w != 48 {
		t.Errorf("frame %dx%d, want the stand-in's 8x48", h, w)
	}
}

// TestCloseEndsChild checks that Close ends the child, that it can be
// called twice, and that the closed Env fails.
func TestCloseEndsChild(t *testing.T) {
	standIn(t, "")
	e := newEnv(t, "dreamtest/PointMass-v0", envs.ObsState, "")
	e.Reset(0)
	pid := e.proc.cmd.Process.Pid
	e.Close()
	e.Close()
	select {
	case <-e.proc.done:
	case <-time.After(5 * time.Second):
		t.Fatalf("child %d still runs after Close", pid)
	}
	if e.proc.status != "exit status 0" {
		t.Errorf("child exited with %s, want exit status 0 (it quit when asked)", e.proc.status)
	}
	var err error
	func() {
		defer envs.RecoverFailure(&err)
		e.Reset(0)
	}()
	if !errors.Is(err, ErrBridge) || !strings.Contains(err.Error(), "after Close") {
		t.Errorf("reset after Close: %v", err)
	}
}

// TestUnreachableEnvKillsChild checks that an Env nobody closes has its
// child killed once it is garbage-collected.
func TestUnreachableEnvKillsChild(t *testing.T) {
	standIn(t, "")
	e, err := New("dreamtest/PointMass-v0", envs.Options{Obs: envs.ObsState, Python: testPython(t)})
	if err != nil {
		t.Fatal(err)
	}
	done := e.proc.done
	e = nil
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		runtime.GC()
		select {
		case <-done:
			return
		case <-time.After(50 * time.Millisecond):
		}
	}
	t.Fatal("the child of an unreachable Env still runs")
}

func TestValidID(t *testing.T) {
	for _, id := range []string{"CartPole-v1", "ALE/Pong-v5", "dreamtest/Corridor-v0", "MiniGrid-Empty-5x5-v0", "gym_foo:Foo-v0", "Pendulum-v1"} {
		if !ValidID(id) {
			t.Errorf("ValidID(%q) = false", id)
		}
	}
	for _, id := range []string{"", "a b", "a/b/c", "/Pong", "Pong/", "x;rm", strings.Repeat("x", 201), "é"} {
		if ValidID(id) {
			t.Errorf("ValidID(%q) = true", id)
		}
	}
}
