package physics

import (
	"errors"
	"image"
	"math"
	"strings"
	"testing"

	"github.com/dreamrl/dream/envs"
)

// simulator is what every environment here is.
type simulator interface {
	envs.Simulator
	envs.StateSetter
}

// allEnvs makes each environment, with a valid state to set and an action.
func allEnvs() []struct {
	name   string
	make   func() simulator
	state  []float64
	action []float64
} {
	return []struct {
		name   string
		make   func() simulator
		state  []float64
		action []float64
	}{
		{"cartpole", func() simulator { return NewCartPole() }, []float64{0.1, -0.2, 0.03, 0.4}, []float64{1}},
		{"pendulum", func() simulator { return NewPendulum() }, []float64{2.5, -3}, []float64{0.7}},
		{"pendulum-gusty", func() simulator { return NewPendulumGusty() }, []float64{2.5, -3}, []float64{0.7}},
		{"acrobot", func() simulator { return NewAcrobot() }, []float64{0.3, -0.2, 1, -2}, []float64{2}},
		{"mountaincar", func() simulator { return NewMountainCar() }, []float64{-0.7, 0.01}, []float64{0}},
	}
}

// TestDerivedConstants pins the constants that Gymnasium computes from
// others to Python's evaluation, one float64 rounding per operation; Go
// would fold a constant expression exactly and could differ in the last
// bit.
func TestDerivedConstants(t *testing.T) {
	// Variables, so that every operation rounds to float64 as in Python.
	twelve, two, pi, deg := 12.0, 2.0, math.Pi, 360.0
	masspole, masscart, length := 0.1, 1.0, 0.5
	four, nine := 4.0, 9.0
	tests := []struct {
		name      string
		got, want float64
	}{
		{"cartpole theta_threshold_radians", cartPoleThetaLimit, twelve * two * pi / deg},
		{"cartpole total_mass", cartPoleTotal, masspole + masscart},
		{"cartpole polemass_length", cartPolePoleMass, masspole * length},
		{"acrobot MAX_VEL_1", acrobotMaxVel1, four * pi},
		{"acrobot MAX_VEL_2", acrobotMaxVel2, nine * pi},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.got != tt.want {
				t.Errorf("got %.17g, want %.17g", tt.got, tt.want)
			}
		})
	}
}

// TestSetState checks that SetState takes a valid state (copying it, at
// step 0) and rejects a bad one with ErrState, leaving the state alone.
func TestSetState(t *testing.T) {
	for _, e := range allEnvs() {
		t.Run(e.name, func(t *testing.T) {
			sim := e.make()
			in := append([]float64(nil), e.state...)
			if err := sim.SetState(in); err != nil {
				t.Fatalf("SetState(%v): %v", in, err)
			}
			in[0] = 99
			if got := sim.State(); !equal(got, e.state) {
				t.Fatalf("State() = %v after SetState(%v) and changing the input", got, e.state)
			}
			bad := map[string][]float64{
				"short": e.state[:len(e.state)-1],
				"long":  append(append([]float64(nil), e.state...), 0),
				"nil":   nil,
			}
			for _, v := range []float64{math.NaN(), math.Inf(1), math.Inf(-1)} {
				s := append([]float64(nil), e.state...)
				s[len(s)-1] = v
				bad["last "+strings.ToLower(formatFloat(v))] = s
			}
			for name, s := range bad {
				err := sim.SetState(s)
				if !errors.Is(err, ErrState) {
					t.Errorf("%s: SetState(%v) = %v, want ErrState", name, s, err)
				} else if !strings.HasPrefix(err.Error(), "physics: ") {
					t.Errorf("%s: error %q lacks the package prefix", name, err)
				}
				if got := sim.State(); !equal(got, e.state) {
					t.Errorf("%s: a rejected SetState changed the state to %v", name, got)
				}
			}
		})
	}
}

func formatFloat(v float64) string {
	switch {
	case math.IsNaN(v):
		return "NaN"
	case v > 0:
		return "+Inf"
	default:
		return "-Inf"
	}
}

func equal(a, b []float64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestSetStateRestartsEpisode checks that SetState resets the step count:
// after it the time limit is a full episode away.
func TestSetStateRestartsEpisode(t *testing.T) {
	tests := []struct {
		name   string
		sim    simulator
		state  []float64
		action []float64
		limit  int
	}{
		// States from which the fixed action keeps the episode going.
		{"cartpole", NewCartPole(), []float64{0, 0, 0, 0}, nil, CartPoleMaxSteps},
		{"pendulum", NewPendulum(), []float64{0, 0}, []float64{0}, PendulumMaxSteps},
		{"acrobot", NewAcrobot(), []float64{0, 0, 0, 0}, []float64{1}, AcrobotMaxSteps},
		{"mountaincar", NewMountainCar(), []float64{-math.Pi / 6, 0}, []float64{1}, MountainCarMaxSteps},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			step := func() (bool, bool) {
				a := tt.action
				if a == nil { // cart-pole: push towards the lean
					a = []float64{balance(tt.sim.State())}
				}
				_, term, trunc := tt.sim.Step(a)
				return term, trunc
			}
			setState(t, tt.sim, tt.state...)
			for i := 1; i < tt.limit; i++ {
				if term, trunc := step(); term || trunc {
					t.Fatalf("step %d: terminated %v, truncated %v", i, term, trunc)
				}
			}
			setState(t, tt.sim, tt.state...)
			for i := 1; i <= tt.limit; i++ {
				term, trunc := step()
				if term || trunc != (i == tt.limit) {
					t.Fatalf("step %d after SetState: terminated %v, truncated %v; want truncated at %d only", i, term, trunc, tt.limit)
				}
			}
		})
	}
}

// TestResetDeterministic checks that a seed fixes the start state (and,
// for the gusty pendulum, the gusts) and that seeds differ.
func TestResetDeterministic(t *testing.T) {
	for _, e := range allEnvs() {
		t.Run(e.name, func(t *testing.T) {
			run := func(seed uint64) []float64 {
				sim := e.make()
				sim.Reset(seed)
				out := append([]float64(nil), sim.State()...)
				for i := 0; i < 20; i++ {
					sim.Step(e.action)
					out = append(out, sim.State()...)
				}
				return out
			}
			a, b, c := run(5), run(5), run(6)
			if !equal(a, b) {
				t.Error("two runs from seed 5 differ")
			}
			if equal(a, c) {
				t.Error("runs from seeds 5 and 6 are the same")
			}
			// Reset on a used simulator equals Reset on a fresh one.
			sim := e.make()
			sim.Reset(9)
			sim.Step(e.action)
			sim.Reset(5)
			if !equal(sim.State(), a[:len(sim.State())]) {
				t.Errorf("Reset(5) after use gives %v, fresh gives %v", sim.State(), a[:len(sim.State())])
			}
		})
	}
}

// TestResetDistribution checks each start-state component by seeded Monte
// Carlo: within its bounds, with the mean and variance of the uniform
// distribution on them to within four standard errors.
func TestResetDistribution(t *testing.T) {
	const n = 4000
	tests := []struct {
		name   string
		sim    simulator
		lo, hi []float64 // per component; lo == hi means a constant
		f32    bool      // values are float32
	}{
		{"cartpole", NewCartPole(), []float64{-0.05, -0.05, -0.05, -0.05}, []float64{0.05, 0.05, 0.05, 0.05}, false},
		{"pendulum", NewPendulum(), []float64{-math.Pi, -1}, []float64{math.Pi, 1}, false},
		{"pendulum-gusty", NewPendulumGusty(), []float64{-math.Pi, -1}, []float64{math.Pi, 1}, false},
		{"acrobot", NewAcrobot(), []float64{-0.1, -0.1, -0.1, -0.1}, []float64{0.1, 0.1, 0.1, 0.1}, true},
		{"mountaincar", NewMountainCar(), []float64{-0.6, 0}, []float64{-0.4, 0}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := len(tt.lo)
			sum, sum2 := make([]float64, d), make([]float64, d)
			for seed := uint64(0); seed < n; seed++ {
				tt.sim.Reset(seed)
				s := tt.sim.State()
				for i, v := range s {
					// float32 rounding may land on the upper bound.
					inside := v >= tt.lo[i] && (v < tt.hi[i] || tt.f32 && v <= tt.hi[i])
					if tt.lo[i] == tt.hi[i] {
						inside = v == tt.lo[i]
					}
					if !inside {
						t.Fatalf("seed %d: component %d = %v outside [%v, %v)", seed, i, v, tt.lo[i], tt.hi[i])
					}
					if tt.f32 && float64(float32(v)) != v {
						t.Fatalf("seed %d: component %d = %v is not a float32", seed, i, v)
					}
					sum[i] += v
					sum2[i] += v * v
				}
			}
			for i := 0; i < d; i++ {
				w := tt.hi[i] - tt.lo[i]
				mean := sum[i] / n
				vr := sum2[i]/n - mean*mean
				wantMean, wantVar := (tt.lo[i]+tt.hi[i])/2, w*w/12
				// Standard errors of the mean (σ/√n) and of the
				// variance (√((μ₄ − σ⁴)/n), μ₄ = w⁴/80 for a uniform).
				seMean := math.Sqrt(wantVar / n)
				seVar := math.Sqrt((w*w*w*w/80 - wantVar*wantVar) / n)
				if math.Abs(mean-wantMean) > 4*seMean+1e-15 {
					t.Errorf("component %d: mean %.5g, want %.5g ± %.2g", i, mean, wantMean, 4*seMean)
				}
				if math.Abs(vr-wantVar) > 4*seVar+1e-15 {
					t.Errorf("component %d: variance %.5g, want %.5g ± %.2g", i, vr, wantVar, 4*seVar)
				}
			}
		})
	}
}

// TestBadActionPanics checks that an action outside the action space is a
// programmer error, reported with the package's prefix.
func TestBadActionPanics(t *testing.T) {
	tests := []struct {
		name   string
		sim    envs.Simulator
		action []float64
	}{
		{"cartpole 2", NewCartPole(), []float64{2}},
		{"cartpole -1", NewCartPole(), []float64{-1}},
		{"cartpole 0.5", NewCartPole(), []float64{0.5}},
		{"cartpole NaN", NewCartPole(), []float64{math.NaN()}},
		{"cartpole empty", NewCartPole(), nil},
		{"cartpole two", NewCartPole(), []float64{0, 1}},
		{"pendulum empty", NewPendulum(), nil},
		{"pendulum NaN", NewPendulum(), []float64{math.NaN()}},
		{"acrobot 3", NewAcrobot(), []float64{3}},
		{"mountaincar -1", NewMountainCar(), []float64{-1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defer func() {
				r := recover()
				msg, ok := r.(string)
				if !ok || !strings.HasPrefix(msg, "physics: ") {
					t.Errorf("Step(%v) recovered %v, want a panic starting %q", tt.action, r, "physics: ")
				}
			}()
			tt.sim.Step(tt.action)
		})
	}
}

// TestSpaces checks the action spaces and that Vector writes an element of
// VectorSpace.
func TestSpaces(t *testing.T) {
	tests := []struct {
		name          string
		sim           envs.Simulator
		action, obs   string
		vectorOfState func(s []float64) []float64
	}{
		{"cartpole", NewCartPole(), "Discrete(2)", "Box(varied, (4,))", func(s []float64) []float64 { return s }},
		{"pendulum", NewPendulum(), "Box(-2, 2, (1,))", "Box(varied, (3,))", func(s []float64) []float64 {
			return []float64{math.Cos(s[0]), math.Sin(s[0]), s[1]}
		}},
		{"acrobot", NewAcrobot(), "Discrete(3)", "Box(varied, (6,))", func(s []float64) []float64 {
			return []float64{math.Cos(s[0]), math.Sin(s[0]), math.Cos(s[1]), math.Sin(s[1]), s[2], s[3]}
		}},
		{"mountaincar", NewMountainCar(), "Discrete(3)", "Box(varied, (2,))", func(s []float64) []float64 { return s }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.sim.ActionSpace().String(); got != tt.action {
				t.Errorf("ActionSpace() = %s, want %s", got, tt.action)
			}
			vs := tt.sim.VectorSpace()
			if got := vs.String(); got != tt.obs {
				t.Errorf("VectorSpace() = %s, want %s", got, tt.obs)
			}
			for seed := uint64(0); seed < 20; seed++ {
				tt.sim.Reset(seed)
				v := make([]float64, vs.Dim())
				tt.sim.Vector(v)
				if !vs.Contains(v) {
					t.Errorf("seed %d: Vector %v not in %v", seed, v, vs)
				}
				if want := tt.vectorOfState(tt.sim.State()); !equal(v, want) {
					t.Errorf("seed %d: Vector %v, want %v", seed, v, want)
				}
			}
		})
	}
}

// TestEnvWrapper runs each environment through envs.New in both
// observation modes.
func TestEnvWrapper(t *testing.T) {
	for _, e := range allEnvs() {
		for _, mode := range []envs.ObsMode{envs.ObsPixels, envs.ObsState} {
			t.Run(e.name+"/"+string(mode), func(t *testing.T) {
				env, err := envs.New(e.make(), envs.Options{Obs: mode})
				if err != nil {
					t.Fatal(err)
				}
				obs := env.Reset(3)
				obs, _, _, _ = env.Step(e.action)
				switch mode {
				case envs.ObsPixels:
					if obs.Frame == nil || obs.Frame.Bounds() != image.Rect(0, 0, envs.DefaultSize, envs.DefaultSize) {
						t.Fatalf("frame %v, want %d×%d", obs.Frame, envs.DefaultSize, envs.DefaultSize)
					}
					for i := 3; i < len(obs.Frame.Pix); i += 4 {
						if obs.Frame.Pix[i] != 255 {
							t.Fatalf("pixel %d has alpha %d, want opaque", i/4, obs.Frame.Pix[i])
						}
					}
				case envs.ObsState:
					if !env.ObservationSpace().Contains(obs.Vector) {
						t.Errorf("vector %v not in %v", obs.Vector, env.ObservationSpace())
					}
				}
			})
		}
	}
}

// FuzzStepRender checks that any finite state steps and renders at any
// size without panicking and draws opaque pixels only.
func FuzzStepRender(f *testing.F) {
	f.Add(0.1, -0.2, 0.3, 0.4, uint8(32), uint8(32), uint8(1))
	f.Add(1e300, -1e300, 3.0, -7.0, uint8(1), uint8(200), uint8(0))
	f.Add(-2.4, 0.0, 1.5, 8.0, uint8(255), uint8(3), uint8(2))
	f.Fuzz(func(t *testing.T, a, b, c, d float64, w, h, act uint8) {
		state := []float64{a, b, c, d}
		for _, e := range allEnvs() {
			sim := e.make()
			sim.Reset(uint64(act))
			if err := sim.SetState(state[:len(sim.State())]); err != nil {
				if !errors.Is(err, ErrState) {
					t.Fatalf("%s: SetState error %v is not ErrState", e.name, err)
				}
				continue
			}
			action := []float64{float64(int(act) % 2)}
			if sp := sim.ActionSpace(); sp.Kind == envs.KindBox {
				action[0] = float64(act)/64 - 2
			}
			sim.Step(action)
			img := image.NewRGBA(image.Rect(0, 0, int(w)%97, int(h)%97))
			sim.Render(img)
			for i := 3; i < len(img.Pix); i += 4 {
				if img.Pix[i] != 255 {
					t.Fatalf("%s: pixel %d not opaque", e.name, i/4)
				}
			}
		}
	})
}
