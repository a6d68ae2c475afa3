package agent

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/dreamrl/dream/agent/picture"
	"github.com/dreamrl/dream/envs"
	"github.com/dreamrl/dream/envs/gridworld"
	"github.com/dreamrl/dream/envs/physics"
	"github.com/dreamrl/dream/envs/registry"
	"github.com/dreamrl/dream/planner"
	"github.com/dreamrl/dream/worldmodel"
)

// trainedRun trains a tiny debug-preset run and opens it from its
// checkpoint, as `dream imagine` does.
func trainedRun(t *testing.T, env, dynamics, obs string, steps int) *Run {
	t.Helper()
	cfg := debugConfig(t, env, steps)
	cfg.Model.Dynamics = dynamics
	cfg.Obs = obs
	cfg.EvalEvery, cfg.EvalEpisodes = steps, 1 // one short evaluation
	dir := t.TempDir()
	run, err := New(cfg, dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := run.Train(context.Background()); err != nil {
		t.Fatal(err)
	}
	opened, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	return opened
}

// scenePixels composes a scene so that two scenes can be compared.
func scenePixels(s picture.Scene) []byte { return picture.Compose(s, 16).Pix }

// replayed is a real episode played again from its seed with the actions
// an Imaginer took.
type replayed struct {
	frames  []*image.RGBA
	rewards []float64
	ended   bool
}

func replayEpisode(t *testing.T, r *Run, seed uint64, actions [][]float64) replayed {
	t.Helper()
	env, err := registry.Make(r.cfg.Env, envs.Options{Obs: envs.ObsMode(r.cfg.Obs), Size: r.cfg.Size})
	if err != nil {
		t.Fatal(err)
	}
	clone := func(f *image.RGBA) *image.RGBA {
		c := image.NewRGBA(f.Rect)
		copy(c.Pix, f.Pix)
		return c
	}
	var out replayed
	o := env.Reset(seed)
	out.frames = append(out.frames, clone(o.Frame))
	for _, a := range actions {
		o, rew, term, trunc := env.Step(a)
		out.frames = append(out.frames, clone(o.Frame))
		out.rewards = append(out.rewards, rew)
		if term || trunc {
			out.ended = true
			break
		}
	}
	return out
}

func TestImaginer(t *testing.T) {
	// Each case plays its first episode to the end, or its first
	// maxPictures pictures when it lasts longer.
	cases := []struct {
		name, env, dynamics, obs string
		maxPictures              int
	}{
		{"gridworld gaussian", "gridworld/frozenlake-4x4", worldmodel.DynamicsGaussian, "pixels", 200},
		{"gridworld deterministic", "gridworld/frozenlake-4x4", worldmodel.DynamicsDeterministic, "pixels", 200},
		{"pendulum gaussian", "physics/pendulum", worldmodel.DynamicsGaussian, "pixels", 12},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			run := trainedRun(t, c.env, c.dynamics, c.obs, 300)
			const seed = 17
			im, err := NewImaginer(run, seed)
			if err != nil {
				t.Fatal(err)
			}
			det := c.dynamics == worldmodel.DynamicsDeterministic
			wantK := run.cfg.Planner.WithDefaults().Samples
			if det {
				wantK = 1
			}
			if im.Samples() != wantK || im.Horizon() != run.cfg.Planner.WithDefaults().Horizon {
				t.Fatalf("K = %d, H = %d; want %d and the planner's %d", im.Samples(), im.Horizon(), wantK, run.cfg.Planner.WithDefaults().Horizon)
			}
			if im.SetSamples(3) != map[bool]int{true: 1, false: 3}[det] {
				t.Fatalf("SetSamples(3) = %d", im.Samples())
			}
			h := im.Horizon()
			side := run.cfg.Size

			// Play the first episode and check every picture against the
			// episode replayed from its seed with the actions taken.
			var scenes []picture.Scene
			var actions [][]float64
			var first played // the first step's record, kept past the episode's end
			for len(scenes) < c.maxPictures {
				s := im.Step()
				if im.Episode() != 0 {
					break
				}
				scenes = append(scenes, s)
				if len(scenes) == 1 {
					first = im.played[0]
					first.z, first.plan = slices.Clone(first.z), slices.Clone(first.plan)
				}
				actions = actions[:0]
				for _, p := range im.played {
					if p.decided {
						actions = append(actions, p.plan[:im.width()])
					}
				}
			}
			rolled := im.Episode() != 0
			ep := replayEpisode(t, run, seed, actions)
			if rolled && (!ep.ended || len(ep.frames) != len(scenes)+1) {
				t.Fatalf("replay: %d frames (ended %v) for a whole episode of %d pictures", len(ep.frames), ep.ended, len(scenes))
			}
			gamma := run.cfg.Planner.WithDefaults().Discount
			for i, s := range scenes {
				if s.Step != i {
					t.Fatalf("picture %d shows step %d", i, s.Step)
				}
				if !bytes.Equal(s.Current.Pix, ep.frames[i].Pix) {
					t.Errorf("step %d: current frame differs from the replay", i)
				}
				wantReal := min(h, len(ep.frames)-1-i)
				if len(s.Real) != wantReal || s.RealEnded != (ep.ended && wantReal < h) || !s.RealKnown {
					t.Errorf("step %d: %d real frames (ended %v, known %v), want %d", i, len(s.Real), s.RealEnded, s.RealKnown, wantReal)
				}
				ret, disc := 0.0, 1.0
				for j, f := range s.Real {
					if !bytes.Equal(f.Pix, ep.frames[i+1+j].Pix) {
						t.Errorf("step %d: real frame t+%d differs from the replay", i, j+1)
					}
					ret += disc * ep.rewards[i+j]
					disc *= gamma
				}
				if math.Abs(s.RealReturn-ret) > 1e-12 {
					t.Errorf("step %d: real return %g, replay %g", i, s.RealReturn, ret)
				}
				if len(s.Actions) != h || len(s.Futures) != im.Samples() || len(s.Sigma) != im.Samples() {
					t.Fatalf("step %d: %d actions, %d futures, %d σ rows", i, len(s.Actions), len(s.Futures), len(s.Sigma))
				}
				for k := range s.Futures {
					if len(s.Futures[k]) != h || len(s.Sigma[k]) != h {
						t.Fatalf("step %d future %d: %d frames, %d σ", i, k, len(s.Futures[k]), len(s.Sigma[k]))
					}
					if b := s.Futures[k][0].Bounds(); b != image.Rect(0, 0, side, side) {
						t.Fatalf("decoded frame %v, want %d×%d", b, side, side)
					}
					for _, v := range s.Sigma[k] {
						if det && v != 0 || !det && !(v > 0) {
							t.Fatalf("step %d: σ %g for %s dynamics", i, v, c.dynamics)
						}
					}
				}
			}

			// The deterministic future is the mean rollout along the plan,
			// and the predicted return its discounted, continuation-weighted
			// reward; a Gaussian's futures differ from one another.
			s0 := scenes[0]
			if det {
				checkMeanRollout(t, im, first, s0)
			} else if bytes.Equal(s0.Futures[0][h-1].Pix, s0.Futures[1][h-1].Pix) {
				t.Error("two sampled futures end in the same frame")
			}

			// Same seed, same pictures; Reset replays the episode.
			other, err := NewImaginer(run, seed)
			if err != nil {
				t.Fatal(err)
			}
			other.SetSamples(3)
			other.Reset()
			last := min(3, len(scenes)) - 1 // the episode may end sooner
			for i := 0; i <= last; i++ {
				if !bytes.Equal(scenePixels(other.Step()), scenePixels(scenes[i])) {
					t.Fatalf("step %d: a second Imaginer with seed %d drew another picture", i, seed)
				}
			}
			// Scene redraws the current picture; with another K its
			// futures change count but not the real frames.
			if !bytes.Equal(scenePixels(other.Scene()), scenePixels(scenes[last])) {
				t.Error("Scene does not redraw the last picture")
			}
			if !det {
				other.SetSamples(5)
				if s := other.Scene(); len(s.Futures) != 5 || len(s.Real) != len(scenes[last].Real) {
					t.Errorf("after SetSamples(5): %d futures, %d real frames", len(s.Futures), len(s.Real))
				}
			}

			// A new horizon shows after the steps already played.
			if got, err := other.SetHorizon(2); err != nil || got != 2 {
				t.Fatalf("SetHorizon(2) = %d, %v", got, err)
			}
			for i := 0; ; i++ {
				s := other.Step()
				if len(s.Actions) == 2 && len(s.Futures[0]) == 2 {
					break
				}
				if i > h+1 {
					t.Fatalf("horizon still %d after %d steps", len(s.Actions), i+1)
				}
			}
		})
	}
}

// checkMeanRollout recomputes the deterministic future of scene s from
// its step's record rec (kept by the caller: the Imaginer's records are
// of the episode it plays now, which may be the next one).
func checkMeanRollout(t *testing.T, im *Imaginer, rec played, s picture.Scene) {
	t.Helper()
	m := im.model
	d, n := m.LatentDim(), m.Spec().ObsDim
	z := append([]float32(nil), rec.z...)
	next := make([]float32, d)
	a := make([]float32, m.ActionDim())
	rew, cont := make([]float32, 1), make([]float32, 1)
	dec := make([]float32, n)
	gamma := im.plan.Config().Discount
	want, alive := 0.0, 1.0
	for h := range s.Futures[0] {
		EncodeAction(a, rec.plan[h:h+1], im.space)
		m.Step(next, rew, cont, z, a, 1, false, rand.New(rand.NewPCG(1, 2)))
		m.Decode(dec, next, 1)
		f := picture.FromHWC(dec, m.Spec().Frame[0], m.Spec().Frame[1])
		if !bytes.Equal(f.Pix, s.Futures[0][h].Pix) {
			md, nd := 0, 0
			for i := range f.Pix {
				d := int(f.Pix[i]) - int(s.Futures[0][h].Pix[i])
				if d < 0 {
					d = -d
				}
				if d > 0 {
					nd++
				}
				md = max(md, d)
			}
			t.Errorf("deterministic future step %d differs from the mean rollout (%d bytes, max %d)", h, nd, md)
		}
		want += alive * float64(rew[0])
		alive *= gamma * float64(cont[0])
		z, next = next, z
	}
	if math.Abs(s.PredReturn-want) > 1e-9 {
		t.Errorf("predicted return %g, mean rollout %g", s.PredReturn, want)
	}
}

func TestImaginerStateObservations(t *testing.T) {
	run := trainedRun(t, "physics/cartpole", worldmodel.DynamicsGaussian, "state", 200)
	im, err := NewImaginer(run, 3)
	if err != nil {
		t.Fatal(err)
	}
	s := im.Step()
	if s.Current.Bounds().Dx() != stateTile || len(s.Real) == 0 || s.Real[0].Bounds().Dx() != stateTile ||
		s.Futures[0][0].Bounds().Dx() != stateTile {
		t.Fatalf("state pictures: current %v, %d real, future %v", s.Current.Bounds(), len(s.Real), s.Futures[0][0].Bounds())
	}
	if !bytes.Equal(s.Real[0].Pix, picture.Vector(im.played[1].vec, im.scale, stateTile).Pix) {
		t.Error("the real row does not draw the state vector")
	}
}

func TestImaginerLimits(t *testing.T) {
	run := trainedRun(t, "gridworld/frozenlake-4x4", worldmodel.DynamicsGaussian, "pixels", 100)
	im, err := NewImaginer(run, 0)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name      string
		set       func() int
		want      int
		horizonOK bool
	}{
		{"samples 0", func() int { return im.SetSamples(0) }, 1, true},
		{"samples 99", func() int { return im.SetSamples(99) }, MaxImagineSamples, true},
		{"horizon 0", func() int { h, _ := im.SetHorizon(0); return h }, 1, true},
		{"horizon 99", func() int { h, _ := im.SetHorizon(99); return h }, MaxImagineHorizon, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := c.set(); got != c.want {
				t.Errorf("got %d, want %d", got, c.want)
			}
		})
	}
	// A scene before the first Step is the start state with no plan yet.
	if s := im.Scene(); s.Step != 0 || s.Current == nil || s.Futures != nil {
		t.Errorf("scene before Step: step %d, current %v, %d futures", s.Step, s.Current != nil, len(s.Futures))
	}
}

func TestActionLabeller(t *testing.T) {
	cases := []struct {
		name  string
		sim   envs.Simulator
		space envs.Space
		a     []float64
		want  string
	}{
		{"gridworld left", gridworld.FrozenLake4x4(), envs.Discrete(4), []float64{0}, "←"},
		{"gridworld up", gridworld.FrozenLake4x4(), envs.Discrete(4), []float64{3}, "↑"},
		{"cartpole right", physics.NewCartPole(), envs.Discrete(2), []float64{1}, "→"},
		{"mountaincar coast", physics.NewMountainCar(), envs.Discrete(3), []float64{1}, "·"},
		{"acrobot", physics.NewAcrobot(), envs.Discrete(3), []float64{0}, "-1"},
		{"pendulum", physics.NewPendulum(), envs.Box([]float64{-2}, []float64{2}, 1), []float64{1.25}, "+1.25"},
		{"pendulum negative", physics.NewPendulum(), envs.Box([]float64{-2}, []float64{2}, 1), []float64{-0.5}, "-0.50"},
		{"box 2d", physics.NewPendulum(), envs.Box([]float64{-1}, []float64{1}, 2), []float64{0, -1}, "+0.00,-1.00"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := actionLabeller(c.sim, c.space)(c.a); got != c.want {
				t.Errorf("label %v = %q, want %q", c.a, got, c.want)
			}
		})
	}
}

// BenchmarkImaginerScene measures drawing one picture's futures (K
// rollouts of H steps, decoded) with an untrained debug model.
func BenchmarkImaginerScene(b *testing.B) {
	cfg, err := Preset("debug")
	if err != nil {
		b.Fatal(err)
	}
	run, err := New(cfg, b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	im, err := NewImaginer(run, 1)
	if err != nil {
		b.Fatal(err)
	}
	im.Step()
	for _, k := range []int{1, 4, 16} {
		b.Run(fmt.Sprintf("K%d-H%d", k, im.Horizon()), func(b *testing.B) {
			im.SetSamples(k)
			b.ReportAllocs()
			for b.Loop() {
				im.Scene()
			}
		})
	}
}

func TestOpenTrained(t *testing.T) {
	tmp := t.TempDir()
	fresh := filepath.Join(tmp, "fresh")
	cfg, err := Preset("debug")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := New(cfg, fresh); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(tmp, "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		dir  string
		want error
		text string
	}{
		{"missing", filepath.Join(tmp, "missing"), ErrRunDir, "no such directory"},
		{"file", file, ErrRunDir, "not a directory"},
		{"no checkpoint", fresh, ErrNoCheckpoint, "train it first"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := OpenTrained(c.dir)
			if !errors.Is(err, c.want) || !strings.Contains(err.Error(), c.text) || !strings.Contains(err.Error(), c.dir) {
				t.Errorf("error %v, want %v naming %s and saying %q", err, c.want, c.dir, c.text)
			}
		})
	}
}

// TestImaginerShowsTheRisk checks that every picture carries the
// distribution of each first action's return exactly as the planner
// aggregated it: one per action of a discrete space (the one taken
// marked, and labelled as the plan's first step), the elites of a box;
// K·M outcomes each, whose risk measure is the drawn risk and whose
// quantiles the drawn ones; the first step's equal to what a fresh
// planner records from the same latent and stream; and that the
// composed picture has room for the strips. The models are untrained:
// the check is of the plumbing, not of the values.
func TestImaginerShowsTheRisk(t *testing.T) {
	cvar := planner.Risk{Kind: planner.RiskCVaR, Level: 0.25}
	cases := []struct {
		name, env string
		method    planner.Method
		risk      planner.Risk
		quantiles int
	}{
		{"cem cvar quantiles", "gridworld/frozenlake-4x4", planner.CEM, cvar, 4},
		{"rollout cvar quantiles", "gridworld/frozenlake-4x4", planner.Rollout, cvar, 4},
		{"cem mean box", "physics/pendulum", planner.CEM, planner.Risk{}, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := debugConfig(t, c.env, 100)
			cfg.Model.QQuantiles = c.quantiles
			cfg.Planner.Method, cfg.Planner.Risk = c.method, c.risk
			cfg.Planner.Samples, cfg.Planner.Horizon = 3, 2
			run, err := New(cfg, t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			defer run.Close()
			const seed = 5
			im, err := NewImaginer(run, seed)
			if err != nil {
				t.Fatal(err)
			}
			pc := im.plan.Config()
			discrete := im.space.Kind == envs.KindDiscrete
			wantN, wantChosen := pc.Elites, 0
			if discrete {
				wantN, wantChosen = im.space.N, 1
			}
			per := pc.Samples * max(c.quantiles, 1)
			for step := range 3 {
				s := im.Step()
				if s.RiskName != c.risk.String() || len(s.Returns) != wantN {
					t.Fatalf("step %d: %d distributions of risk %q, want %d of %q", step, len(s.Returns), s.RiskName, wantN, c.risk)
				}
				chosen := 0
				for _, d := range s.Returns {
					if len(d.Outcomes) == 0 {
						continue // CEM drew no plan that began with it
					}
					if len(d.Outcomes) != per || !slices.IsSorted(d.Outcomes) {
						t.Fatalf("step %d %s: %d outcomes, want %d sorted", step, d.Action, len(d.Outcomes), per)
					}
					q := func(level float64) float64 {
						return planner.Risk{Kind: planner.RiskQuantile, Level: level}.Aggregate(slices.Clone(d.Outcomes))
					}
					if r := c.risk.Aggregate(slices.Clone(d.Outcomes)); math.Abs(r-d.Risk) > 1e-12*(1+math.Abs(r)) ||
						d.P10 != q(0.1) || d.P50 != q(0.5) || d.P90 != q(0.9) {
						t.Errorf("step %d %s: risk %g and quantiles %g %g %g; the outcomes give %g and %g %g %g", step, d.Action, d.Risk, d.P10, d.P50, d.P90, r, q(0.1), q(0.5), q(0.9))
					}
					if d.Chosen {
						chosen++
						if d.Action != s.Actions[0] {
							t.Errorf("step %d: %s marked taken, the plan begins with %s", step, d.Action, s.Actions[0])
						}
					}
				}
				if chosen != wantChosen {
					t.Errorf("step %d: %d marked taken, want %d", step, chosen, wantChosen)
				}
				plain := s
				plain.Returns = nil
				if a, b := picture.Compose(s, 16).Rect.Dy(), picture.Compose(plain, 16).Rect.Dy(); a <= b {
					t.Errorf("step %d: the picture is %d high with the strips, %d without", step, a, b)
				}
			}

			// The first step's distributions are the planner's own.
			p, err := newPlanner(im.cfg, im.space, im.model, nil)
			if err != nil {
				t.Fatal(err)
			}
			p.RecordOutcomes(true)
			first := im.played[0]
			p.Plan(first.z, rand.New(rand.NewPCG(seed, streamImaginePlan)))
			want := im.returnDists(p.Outcomes())
			if len(want) != len(first.returns) {
				t.Fatalf("%d distributions, the planner %d", len(first.returns), len(want))
			}
			for i, d := range first.returns {
				w := want[i]
				if d.Action != w.Action || d.Risk != w.Risk || d.Chosen != w.Chosen || !slices.Equal(d.Outcomes, w.Outcomes) {
					t.Errorf("action %d: %s risk %g chosen %v, the planner's %s %g %v", i, d.Action, d.Risk, d.Chosen, w.Action, w.Risk, w.Chosen)
				}
			}
		})
	}
}
