package planner

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

// linear is z' = z + a with reward −‖z' − target‖², continuation 1 and
// value 0: from z the best first action is target − z when it lies in the
// action box, and 0 afterwards.
type linear struct{ target []float32 }

func (m linear) LatentDim() int { return len(m.target) }
func (m linear) ActionDim() int { return len(m.target) }
func (m linear) Step(next, reward, cont, z, a []float32, rows int, _ bool, _ *rand.Rand) {
	d := len(m.target)
	for r := range rows {
		s := float32(0)
		for j := range d {
			v := z[r*d+j] + a[r*d+j]
			next[r*d+j] = v
			s += (v - m.target[j]) * (v - m.target[j])
		}
		reward[r], cont[r] = -s, 1
	}
}
func (m linear) Value(dst, _ []float32, rows int) { clear(dst[:rows]) }

// line is a walk on the integers: action i (one-hot of 3) moves by i − 1,
// reward −(z' − target)².
type line struct{ target float32 }

func (line) LatentDim() int { return 1 }
func (line) ActionDim() int { return 3 }
func (m line) Step(next, reward, cont, z, a []float32, rows int, _ bool, _ *rand.Rand) {
	for r := range rows {
		v := z[r] + a[3*r+2] - a[3*r]
		next[r], reward[r], cont[r] = v, -(v-m.target)*(v-m.target), 1
	}
}
func (line) Value(dst, _ []float32, rows int) { clear(dst[:rows]) }

// gamble offers, from the latent start, a safe action 0 leading to a state
// worth payoffSafe, and a risky action 1 leading to a state worth
// payoffWin or payoffLose with probability ½ each (a fair coin from rng
// when sampling; the mean state, 0, otherwise). The payoff is the reward
// of the next step; the outcome states are absorbing.
type gamble struct{}

const (
	start      = 10
	payoffSafe = 1.0
	payoffWin  = 3.0
	payoffLose = -0.6 // risky mean 1.2 > 1, but its worst half is −0.6
)

func (gamble) LatentDim() int { return 1 }
func (gamble) ActionDim() int { return 2 }
func (gamble) Step(next, reward, cont, z, a []float32, rows int, sample bool, rng *rand.Rand) {
	for r := range rows {
		cont[r] = 1
		switch z[r] {
		case start:
			reward[r] = 0
			next[r] = 0
			if a[2*r+1] == 1 && sample {
				next[r] = 1
				if rng.IntN(2) == 0 {
					next[r] = -1
				}
			}
		case 0:
			reward[r], next[r] = payoffSafe, 0
		case 1:
			reward[r], next[r] = payoffWin, 1
		default:
			reward[r], next[r] = payoffLose, -1
		}
	}
}
func (gamble) Value(dst, _ []float32, rows int) { clear(dst[:rows]) }

// constant returns reward 1, continuation c and value v everywhere.
type constant struct{ c, v float32 }

func (constant) LatentDim() int { return 1 }
func (constant) ActionDim() int { return 1 }
func (m constant) Step(next, reward, cont, z, _ []float32, rows int, _ bool, _ *rand.Rand) {
	for r := range rows {
		next[r], reward[r], cont[r] = z[r], 1, m.c
	}
}
func (m constant) Value(dst, _ []float32, rows int) {
	for r := range rows {
		dst[r] = m.v
	}
}

func box(d int, lo, hi float64) ActionSpec {
	s := ActionSpec{Dim: d, Low: make([]float64, d), High: make([]float64, d)}
	for i := range d {
		s.Low[i], s.High[i] = lo, hi
	}
	return s
}

func mustNew(t testing.TB, cfg Config, spec ActionSpec, m Model) *MPC {
	t.Helper()
	p, err := New(cfg, spec, m)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLinearContinuous(t *testing.T) {
	// One step: the score is −‖a − target‖², maximised at a = target.
	oneStep := []struct {
		name string
		cfg  Config
		tol  float64 // on each coordinate of the action
	}{
		{"cem", Config{Method: CEM, Horizon: 1}, 0.02},
		{"cem K=1", Config{Method: CEM, Horizon: 1, Samples: 1}, 0.02},
		{"mppi", Config{Method: MPPI, Horizon: 1, Temperature: 0.05}, 0.06},
	}
	target := []float32{0.5, -0.3}
	for _, tt := range oneStep {
		t.Run("one step "+tt.name, func(t *testing.T) {
			for seed := range uint64(5) {
				p := mustNew(t, tt.cfg, box(2, -1, 1), linear{target})
				a := p.Plan([]float32{0, 0}, rand.New(rand.NewPCG(seed, 1)))
				for j := range a {
					if math.Abs(a[j]-float64(target[j])) > tt.tol {
						t.Errorf("seed %d: action %v, want %v ± %g", seed, a, target, tt.tol)
					}
				}
				if s := p.Score(); s > 0 || s < -0.05 {
					t.Errorf("seed %d: score %g, want in [−0.05, 0]", seed, s)
				}
			}
		})
	}

	// Closed loop on the true system towards a target out of one step's
	// reach: the best first action goes as far as the box allows in x and
	// exactly to the target in y, a_0 = (1, −0.8); then the plan holds.
	far := []float32{1.5, -0.8}
	closed := []struct {
		name        string
		cfg         Config
		tolA0, tolZ float64 // first action, final distance to the target
	}{
		{"cem defaults", Config{}, 0.45, 0.3},
		{"cem large budget", Config{Candidates: 1000, Iterations: 10, Elites: 50}, 0.06, 0.03},
		{"mppi", Config{Method: MPPI, Candidates: 512, Iterations: 6}, 0.45, 0.1},
	}
	for _, tt := range closed {
		t.Run("closed loop "+tt.name, func(t *testing.T) {
			for seed := range uint64(5) {
				p := mustNew(t, tt.cfg, box(2, -1, 1), linear{far})
				rng := rand.New(rand.NewPCG(seed, 2))
				z := []float32{0, 0}
				for i := range 10 {
					a := p.Plan(z, rng)
					if d := math.Hypot(a[0]-1, a[1]+0.8); i == 0 && d > tt.tolA0 {
						t.Errorf("seed %d: first action %v, want (1, −0.8) ± %g", seed, a, tt.tolA0)
					}
					z[0] += float32(a[0])
					z[1] += float32(a[1])
				}
				if d := math.Hypot(float64(z[0]-far[0]), float64(z[1]-far[1])); d > tt.tolZ {
					t.Errorf("seed %d: ended at %v, want %v ± %g", seed, z, far, tt.tolZ)
				}
			}
		})
	}
}

func TestLinearDiscrete(t *testing.T) {
	tests := []struct {
		name   string
		method Method
		z      float32
		want   float64
	}{
		{"cem right", CEM, 0, 2},
		{"cem left", CEM, 4, 0},
		{"cem stay", CEM, 2, 1},
		{"mppi right", MPPI, -1, 2},
		{"mppi left", MPPI, 3, 0},
		{"mppi stay", MPPI, 2, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := mustNew(t, Config{Method: tt.method, Horizon: 4, Samples: 1}, ActionSpec{Discrete: 3}, line{target: 2})
			a := p.Plan([]float32{tt.z}, rand.New(rand.NewPCG(3, 4)))
			if len(a) != 1 || a[0] != tt.want {
				t.Errorf("from %v: action %v, want [%v]", tt.z, a, tt.want)
			}
		})
	}
}

// TestFirstBonus checks that a bonus on the first action moves the choice
// when it outweighs the difference in the model's return: from z = 0 the
// line model's one-step returns are −9 (left), −4 (stay) and −1 (right).
func TestFirstBonus(t *testing.T) {
	for _, m := range []Method{CEM, MPPI} {
		for _, tt := range []struct {
			bonus []float64
			want  float64
		}{
			{nil, 2},
			{[]float64{7.5, 0, 0}, 2},
			{[]float64{8.5, 0, 0}, 0},
			{[]float64{0, 2.5, 0}, 2},
			{[]float64{0, 3.5, 0}, 1},
			{[]float64{0, 3.5, 1}, 2},
		} {
			p := mustNew(t, Config{Method: m, Horizon: 1, Samples: 1}, ActionSpec{Discrete: 3}, line{target: 2})
			p.SetFirstBonus(tt.bonus)
			a := p.Plan([]float32{0}, rand.New(rand.NewPCG(3, 4)))
			if a[0] != tt.want {
				t.Errorf("%v, bonus %v: action %v, want %v", m, tt.bonus, a[0], tt.want)
			}
		}
	}
	p := mustNew(t, Config{}, box(2, -1, 1), linear{[]float32{0.5, 0.5}})
	defer func() {
		if recover() == nil {
			t.Error("SetFirstBonus on a box did not panic")
		}
	}()
	p.SetFirstBonus([]float64{1, 2})
}

func TestRiskChangesTheChoice(t *testing.T) {
	const safe, risky = 0, 1
	tests := []struct {
		risk string
		want float64
	}{
		{"mean", risky},
		{"cvar:0.25", safe},
		{"cvar:0.5", safe},
		{"optimistic:0.9", risky},
		{"quantile:0.25", safe},
	}
	for _, tt := range tests {
		t.Run(tt.risk, func(t *testing.T) {
			risk, err := ParseRisk(tt.risk)
			if err != nil {
				t.Fatal(err)
			}
			cfg := Config{Horizon: 2, Candidates: 64, Samples: 64, Iterations: 3, Risk: risk}
			p := mustNew(t, cfg, ActionSpec{Discrete: 2}, gamble{})
			rng := rand.New(rand.NewPCG(5, 6))
			for trial := range 5 {
				p.Reset()
				if a := p.Plan([]float32{start}, rng); a[0] != tt.want {
					t.Fatalf("trial %d: action %v, want %v", trial, a[0], tt.want)
				}
			}
		})
	}
	// Planning on the mean outcome (K = 1) sees the risky state as 0, the
	// safe one: a single future hides the gamble.
	p := mustNew(t, Config{Horizon: 2, Samples: 1}, ActionSpec{Discrete: 2}, gamble{})
	p.Plan([]float32{start}, rand.New(rand.NewPCG(7, 8)))
	if got := p.Score(); math.Abs(got-DefaultDiscount*payoffSafe) > 1e-6 {
		t.Errorf("K = 1 score %g, want γ·%g", got, payoffSafe)
	}
}

func TestScoreFormula(t *testing.T) {
	// Reward 1, continuation c, value v, horizon 3:
	//   G = 1 + γc + γ²c² + γ³c³ v.
	tests := []struct {
		name        string
		c, v, gamma float64
	}{
		{"no termination", 1, 2, 0.9},
		{"continuation ½", 0.5, 10, 0.9},
		{"terminates at once", 0, 5, 0.99},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := Config{Horizon: 3, Candidates: 8, Iterations: 1, Discount: tt.gamma}
			p := mustNew(t, cfg, box(1, -1, 1), constant{c: float32(tt.c), v: float32(tt.v)})
			p.Plan([]float32{0}, rand.New(rand.NewPCG(1, 1)))
			g, c := tt.gamma, tt.c
			want := 1 + g*c + g*g*c*c + g*g*g*c*c*c*tt.v
			if got := p.Score(); math.Abs(got-want) > 1e-6 {
				t.Errorf("score %.9g, want %.9g", got, want)
			}
		})
	}
}

// withQ is constant with an action value q(z, a) = q + a (on its one
// action dimension), switched on by has.
type withQ struct {
	constant
	q   float32
	has bool
}

func (m withQ) HasActionValue() bool { return m.has }
func (m withQ) ActionValue(dst, _, a []float32, rows int) {
	for r := range rows {
		dst[r] = m.q + a[r]
	}
}

func TestActionValueScoresTheLastStep(t *testing.T) {
	// Reward 1, continuation c, horizon 3, action value q + a at the last
	// step: G = 1 + γc + γ²c²(q + a_2); without it, 1 + γc + γ²c² + γ³c³v.
	const c, v, q, gamma = 0.5, 10, 4, 0.9
	for _, has := range []bool{true, false} {
		t.Run(fmt.Sprint("has ", has), func(t *testing.T) {
			m := withQ{constant: constant{c: c, v: v}, q: q, has: has}
			cfg := Config{Horizon: 3, Candidates: 64, Iterations: 4, Discount: gamma}
			p := mustNew(t, cfg, box(1, -1, 1), m)
			a := p.Plan([]float32{0}, rand.New(rand.NewPCG(1, 1)))
			want := 1 + gamma*c + gamma*gamma*c*c + gamma*gamma*gamma*c*c*c*v
			if has {
				// The planner pushes a_2 towards the bound 1.
				last := p.plan[len(p.plan)-1]
				want = 1 + gamma*c + gamma*gamma*c*c*(q+last)
				if last < 0.5 {
					t.Errorf("last planned action %g, want near 1 where q is highest", last)
				}
			}
			if got := p.Score(); math.Abs(got-want) > 1e-5 {
				t.Errorf("score %.9g, want %.9g (action %v)", got, want, a)
			}
		})
	}
}

func TestWarmStart(t *testing.T) {
	t.Run("continuous", func(t *testing.T) {
		spec := box(2, -2, 2)
		p := mustNew(t, Config{Horizon: 4, Samples: 1}, spec, linear{[]float32{1, -1}})
		p.Plan([]float32{0, 0}, rand.New(rand.NewPCG(1, 1)))
		plan := append([]float64(nil), p.Sequence()...)
		for j := range p.mean {
			want, wantStd := p.priorMean[j%2], p.priorStd[j%2]
			if j+2 < len(plan) {
				want = plan[j+2]
			}
			if p.mean[j] != want || p.std[j] != wantStd {
				t.Errorf("warm start %d: mean %g std %g, want %g and %g", j, p.mean[j], p.std[j], want, wantStd)
			}
		}
		// Prior: the midpoint, with std InitStd·(half range) = 0.5·2.
		if p.priorMean[0] != 0 || p.priorStd[0] != 1 {
			t.Errorf("prior %g ± %g, want 0 ± 1", p.priorMean[0], p.priorStd[0])
		}
		p.Reset()
		for j := range p.mean {
			if p.mean[j] != 0 || p.std[j] != 1 {
				t.Fatalf("after Reset: mean %v std %v", p.mean, p.std)
			}
		}
	})
	t.Run("discrete", func(t *testing.T) {
		p := mustNew(t, Config{Horizon: 3, Samples: 1}, ActionSpec{Discrete: 3}, line{target: 3})
		rng := rand.New(rand.NewPCG(2, 2))
		for range p.cfg.Iterations {
			p.draw(rng)
			p.evaluate([]float32{0}, rng)
			p.refit()
		}
		before := append([]float64(nil), p.probs...)
		p.shift()
		for j, got := range p.probs {
			want := 1.0 / 3
			if j < 6 {
				want = 0.5*before[j+3] + 0.5/3
			}
			if math.Abs(got-want) > 1e-15 {
				t.Errorf("probs[%d] = %g, want %g", j, got, want)
			}
		}
		if before[2] < 0.9 {
			t.Errorf("step 0 probabilities %v: the plan should favour action 2", before[:3])
		}
	})
	t.Run("helps the next decision", func(t *testing.T) {
		// One iteration from a warm start lands closer than one from the
		// prior: the shifted plan already points at the target.
		spec := box(1, -1, 1)
		cfg := Config{Horizon: 4, Candidates: 32, Iterations: 1, Samples: 1}
		warm := mustNew(t, cfg, spec, linear{[]float32{3}})
		cold := mustNew(t, cfg, spec, linear{[]float32{3}})
		rng := rand.New(rand.NewPCG(3, 3))
		for range 5 {
			warm.Plan([]float32{0}, rng)
		}
		a := warm.Plan([]float32{0}, rng)[0]
		b := cold.Plan([]float32{0}, rng)[0]
		if !(a > b) || a < 0.8 {
			t.Errorf("first action warm %g, cold %g: want warm > cold and ≥ 0.8", a, b)
		}
	})
}

func TestDeterministic(t *testing.T) {
	for _, m := range []Method{CEM, MPPI} {
		t.Run(string(m), func(t *testing.T) {
			run := func() []float64 {
				p := mustNew(t, Config{Method: m}, ActionSpec{Discrete: 2}, gamble{})
				rng := rand.New(rand.NewPCG(9, 9))
				var out []float64
				for range 3 {
					out = append(out, p.Plan([]float32{start}, rng)[0], p.Score())
				}
				return out
			}
			if a, b := run(), run(); fmt.Sprint(a) != fmt.Sprint(b) {
				t.Errorf("same seed, different plans: %v and %v", a, b)
			}
		})
	}
}

func TestZeroAllocs(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		spec ActionSpec
		m    Model
		z    []float32
	}{
		{"cem continuous", Config{}, box(2, -1, 1), linear{[]float32{0.5, 0.5}}, []float32{0, 0}},
		{"mppi continuous", Config{Method: MPPI}, box(2, -1, 1), linear{[]float32{0.5, 0.5}}, []float32{0, 0}},
		{"cem discrete cvar", Config{Risk: Risk{Kind: RiskCVaR, Level: 0.5}}, ActionSpec{Discrete: 2}, gamble{}, []float32{start}},
		{"mppi discrete quantile", Config{Method: MPPI, Samples: 40, Risk: Risk{Kind: RiskQuantile, Level: 0.9}}, ActionSpec{Discrete: 2}, gamble{}, []float32{start}},
		{"rollout cvar", Config{Method: Rollout, Horizon: 3, Samples: 16, Risk: Risk{Kind: RiskCVaR, Level: 0.25}}, ActionSpec{Discrete: 2}, fork{}, []float32{0}},
		{"rollout lambda", Config{Method: Rollout, Horizon: 3, Samples: 16, Lambda: 0.3}, ActionSpec{Discrete: 2}, fork{}, []float32{0}},
		{"cem lambda", Config{Horizon: 3, Lambda: 0.3}, ActionSpec{Discrete: 2}, fork{}, []float32{0}},
		{"cem common noise", Config{Horizon: 3, Samples: 4, Noise: NoiseCommon}, ActionSpec{Discrete: 2}, drift{gap: 0.1}, []float32{0}},
		{"cem cvar quantiles", Config{Horizon: 3, Risk: Risk{Kind: RiskCVaR, Level: 0.1}}, ActionSpec{Discrete: 2}, tails{quantiles: true}, []float32{0, 0}},
		{"mppi quantile quantiles lambda", Config{Method: MPPI, Horizon: 3, Lambda: 0.5, Risk: Risk{Kind: RiskQuantile, Level: 0.2}}, ActionSpec{Discrete: 2}, tails{quantiles: true}, []float32{0, 0}},
		{"rollout cvar quantiles lambda", Config{Method: Rollout, Horizon: 3, Samples: 8, Lambda: 0.5, Risk: Risk{Kind: RiskCVaR, Level: 0.1}}, ActionSpec{Discrete: 2}, tails{quantiles: true}, []float32{0, 0}},
	}
	for _, tt := range tests {
		// Recording the outcomes (RecordOutcomes) allocates its buffers
		// once, before the decisions.
		for _, record := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s record %v", tt.name, record), func(t *testing.T) {
				p := mustNew(t, tt.cfg, tt.spec, tt.m)
				p.RecordOutcomes(record)
				rng := rand.New(rand.NewPCG(1, 1))
				if a := testing.AllocsPerRun(20, func() { p.Plan(tt.z, rng) }); a != 0 {
					t.Errorf("%v allocs per decision, want 0", a)
				}
				if (p.Outcomes() != nil) != record {
					t.Errorf("outcomes recorded %v, want %v", p.Outcomes() != nil, record)
				}
			})
		}
	}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name  string
		cfg   Config
		field string // "" when valid
	}{
		{"zero", Config{}, ""},
		{"mppi", Config{Method: MPPI, Temperature: 2}, ""},
		{"all set", Config{Method: CEM, Horizon: 1, Candidates: 1, Samples: 1, Iterations: 1, Elites: 1, Discount: 1, InitStd: 0.5, MinStd: 0.5, Momentum: 0.9, Smoothing: 0.5}, ""},
		{"method", Config{Method: "random"}, "method"},
		{"horizon", Config{Horizon: -1}, "horizon"},
		{"candidates", Config{Candidates: -5}, "candidates"},
		{"samples", Config{Samples: -1}, "samples"},
		{"iterations", Config{Iterations: -2}, "iterations"},
		{"elites over candidates", Config{Candidates: 10, Elites: 11}, "elites"},
		{"elites negative", Config{Elites: -1}, "elites"},
		{"discount over 1", Config{Discount: 1.5}, "discount"},
		{"discount negative", Config{Discount: -0.1}, "discount"},
		{"discount NaN", Config{Discount: math.NaN()}, "discount"},
		{"temperature", Config{Temperature: -1}, "temperature"},
		{"init std", Config{InitStd: -1}, "init_std"},
		{"min std above init", Config{MinStd: 2}, "min_std"},
		{"momentum 1", Config{Momentum: 1}, "momentum"},
		{"smoothing 1", Config{Smoothing: 1}, "smoothing"},
		{"risk", Config{Risk: Risk{Kind: RiskCVaR, Level: 0}}, "risk"},
		{"risk kind", Config{Risk: Risk{Kind: 7}}, "risk"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			if tt.field == "" {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatal("Validate() = nil, want an error")
			}
			msg := err.Error()
			if !errors.Is(err, ErrConfig) || !strings.Contains(msg, tt.field+" ") || !strings.Contains(msg, "allowed: ") || strings.Contains(msg, "\n") {
				t.Errorf("error %q: want one line wrapping ErrConfig naming %q and the allowed values", msg, tt.field)
			}
		})
	}
	d := Config{}.WithDefaults()
	if d.Method != CEM || d.Horizon != 5 || d.Candidates != 128 || d.Samples != 4 || d.Iterations != 4 || d.Elites != 12 || d.Discount != 0.99 || d.Risk != (Risk{}) {
		t.Errorf("defaults %+v", d)
	}
}

func TestConfigJSON(t *testing.T) {
	in := Config{Method: MPPI, Horizon: 7, Risk: Risk{Kind: RiskCVaR, Level: 0.25}}
	data, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), `"risk":"cvar:0.25"`) || !strings.Contains(string(data), `"method":"mppi"`) {
		t.Errorf("JSON %s: want the risk and method as text", data)
	}
	var out Config
	if err := json.Unmarshal(data, &out); err != nil || out != in {
		t.Errorf("round trip: %+v, %v; want %+v", out, err, in)
	}
	if err := json.Unmarshal([]byte(`{"risk":"cvar:2"}`), &out); !errors.Is(err, ErrConfig) {
		t.Errorf("bad risk in JSON: %v, want ErrConfig", err)
	}
}

func TestNewChecksSpecAndModel(t *testing.T) {
	tests := []struct {
		name string
		spec ActionSpec
		m    Model
	}{
		{"both kinds", ActionSpec{Discrete: 2, Dim: 1, Low: []float64{0}, High: []float64{1}}, gamble{}},
		{"neither", ActionSpec{}, gamble{}},
		{"missing bounds", ActionSpec{Dim: 2}, linear{[]float32{0, 0}}},
		{"inverted bounds", ActionSpec{Dim: 1, Low: []float64{1}, High: []float64{-1}}, constant{}},
		{"infinite bounds", ActionSpec{Dim: 1, Low: []float64{math.Inf(-1)}, High: []float64{0}}, constant{}},
		{"model width", ActionSpec{Discrete: 3}, gamble{}},
		{"continuous model width", box(3, -1, 1), linear{[]float32{0, 0}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := New(Config{}, tt.spec, tt.m); !errors.Is(err, ErrConfig) {
				t.Errorf("New: %v, want ErrConfig", err)
			}
		})
	}
	if _, err := New(Config{Horizon: -1}, ActionSpec{Discrete: 2}, gamble{}); !errors.Is(err, ErrConfig) {
		t.Errorf("New with a bad config: %v", err)
	}
}

func TestParseRisk(t *testing.T) {
	tests := []struct {
		in   string
		want Risk
		ok   bool
	}{
		{"mean", Risk{}, true},
		{" MEAN ", Risk{}, true},
		{"cvar:0.25", Risk{RiskCVaR, 0.25}, true},
		{"cvar:1", Risk{RiskCVaR, 1}, true},
		{"quantile:0", Risk{RiskQuantile, 0}, true},
		{"optimistic:0.9", Risk{RiskQuantile, 0.9}, true},
		{"cvar:0", Risk{}, false},
		{"cvar:1.5", Risk{}, false},
		{"cvar", Risk{}, false},
		{"cvar:", Risk{}, false},
		{"cvar:x", Risk{}, false},
		{"quantile:-0.1", Risk{}, false},
		{"optimistic:NaN", Risk{}, false},
		{"mean:1", Risk{}, false},
		{"max", Risk{}, false},
		{"", Risk{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseRisk(tt.in)
			if !tt.ok {
				if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), "cvar:α") || !strings.Contains(err.Error(), "quantile:q") {
					t.Fatalf("ParseRisk(%q) = %v, %v; want an error listing the allowed forms", tt.in, got, err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("ParseRisk(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
			}
			// String and text round-trip.
			var back Risk
			text, err := got.MarshalText()
			if err != nil || back.UnmarshalText(text) != nil || back != got {
				t.Errorf("text round trip of %v: %q, %v, %v", got, text, back, err)
			}
		})
	}
}

func TestRiskAggregate(t *testing.T) {
	scores := []float64{4, -1, 2, 0, 3} // sorted: −1 0 2 3 4
	tests := []struct {
		name string
		r    Risk
		want float64
	}{
		{"mean", Risk{}, 1.6},
		{"cvar 1 is the mean", Risk{RiskCVaR, 1}, 1.6},
		{"cvar 0.4: worst two", Risk{RiskCVaR, 0.4}, -0.5},
		{"cvar 0.5: two and a half", Risk{RiskCVaR, 0.5}, (-1 + 0 + 0.5*2) / 2.5},
		{"cvar below 1/K is the minimum", Risk{RiskCVaR, 0.1}, -1},
		{"quantile 0 is the minimum", Risk{RiskQuantile, 0}, -1},
		{"quantile 1 is the maximum", Risk{RiskQuantile, 1}, 4},
		{"median", Risk{RiskQuantile, 0.5}, 2},
		{"quantile 0.9", Risk{RiskQuantile, 0.9}, 3.6},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := append([]float64(nil), scores...)
			if got := tt.r.Aggregate(s); math.Abs(got-tt.want) > 1e-12 {
				t.Errorf("Aggregate = %.15g, want %.15g", got, tt.want)
			}
		})
	}
	// Monte Carlo: CVaR_α of N(0, 1) is −φ(z_α)/α; at α = 0.25 that is
	// −1.27111. The standard error of the estimate over n draws is about
	// sqrt(Var)/sqrt(αn) ≈ 0.6/sqrt(αn); allow 5 of them.
	rng := rand.New(rand.NewPCG(11, 11))
	const n, alpha = 40000, 0.25
	s := make([]float64, n)
	for i := range s {
		s[i] = rng.NormFloat64()
	}
	got := Risk{RiskCVaR, alpha}.Aggregate(s)
	if tol := 5 * 0.6 / math.Sqrt(alpha*n); math.Abs(got-(-1.2710914)) > tol {
		t.Errorf("CVaR_0.25 of N(0,1) ≈ %g, want −1.27111 ± %g", got, tol)
	}
}

// Example plans on a known quadratic: the latent moves by the action,
// z' = z + a with a ∈ [−1, 1], and the reward is −(z' − 0.6)². From z = 0
// the best first action is 0.6.
func Example() {
	p, err := New(Config{Method: CEM, Horizon: 3, Samples: 1}, ActionSpec{Dim: 1, Low: []float64{-1}, High: []float64{1}}, linear{[]float32{0.6}})
	if err != nil {
		panic(err)
	}
	a := p.Plan([]float32{0}, rand.New(rand.NewPCG(1, 2)))
	fmt.Printf("first action %.2f, plan score %.2f\n", a[0], p.Score())
	// Output:
	// first action 0.60, plan score -0.00
}

// mlp is a small two-layer model of latent 32 with tanh hidden units and
// linear heads, standing in for a learned model's cost.
type mlp struct {
	l, a, h int
	w1, w2  []float32 // (l+a)×h, h×l
	hid     []float32
}

func newMLP(l, a, h int, rng *rand.Rand) *mlp {
	m := &mlp{l: l, a: a, h: h, w1: make([]float32, (l+a)*h), w2: make([]float32, h*l)}
	for i := range m.w1 {
		m.w1[i] = float32(rng.NormFloat64() / math.Sqrt(float64(l+a)))
	}
	for i := range m.w2 {
		m.w2[i] = float32(rng.NormFloat64() / math.Sqrt(float64(h)))
	}
	return m
}

func (m *mlp) LatentDim() int { return m.l }
func (m *mlp) ActionDim() int { return m.a }
func (m *mlp) Step(next, reward, cont, z, a []float32, rows int, sample bool, rng *rand.Rand) {
	if len(m.hid) < m.h {
		m.hid = make([]float32, m.h)
	}
	for r := range rows {
		in, act, hid := z[r*m.l:(r+1)*m.l], a[r*m.a:(r+1)*m.a], m.hid
		clear(hid)
		for i, x := range in {
			for j, w := range m.w1[i*m.h : (i+1)*m.h] {
				hid[j] += x * w
			}
		}
		for i, x := range act {
			for j, w := range m.w1[(m.l+i)*m.h : (m.l+i+1)*m.h] {
				hid[j] += x * w
			}
		}
		for j := range hid {
			hid[j] = float32(math.Tanh(float64(hid[j])))
		}
		out := next[r*m.l : (r+1)*m.l]
		copy(out, in)
		for j, x := range hid {
			for i, w := range m.w2[j*m.l : (j+1)*m.l] {
				out[i] += 0.1 * x * w
			}
		}
		if sample {
			for i := range out {
				out[i] += 0.01 * float32(rng.NormFloat64())
			}
		}
		reward[r], cont[r] = hid[0], 1
	}
}
func (m *mlp) Value(dst, z []float32, rows int) {
	for r := range rows {
		dst[r] = z[r*m.l]
	}
}

func BenchmarkDecision(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 1))
	tests := []struct {
		name string
		cfg  Config
		spec ActionSpec
		m    Model
	}{
		{"linear/cem/box2", Config{}, box(2, -1, 1), linear{[]float32{0.5, 0.5}}},
		{"linear/mppi/box2", Config{Method: MPPI}, box(2, -1, 1), linear{[]float32{0.5, 0.5}}},
		{"gamble/cem/discrete2", Config{}, ActionSpec{Discrete: 2}, gamble{}},
		{"mlp32x64/cem/discrete4", Config{}, ActionSpec{Discrete: 4}, newMLP(32, 4, 64, rng)},
	}
	for _, tt := range tests {
		b.Run(tt.name, func(b *testing.B) {
			p := mustNew(b, tt.cfg, tt.spec, tt.m)
			z := make([]float32, tt.m.LatentDim())
			z[0] = start // the gamble's start; harmless for the others
			p.Plan(z, rng)
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				p.Plan(z, rng)
			}
		})
	}
}
