package worldmodel

import (
	"math/rand/v2"
	"testing"

	"github.com/dreamrl/dream/planner"
)

// gamble is the planner's risky-versus-safe choice as transitions a model
// learns: from the start region around the origin, the safe action moves
// to the safe state, the risky one to the win or the lose state with
// probability ½ each; the three outcome states are absorbing and pay their
// payoff at every step. The risky mean payoff 1.2 beats the safe 1, but
// its worse half pays −0.6.
type gamble struct{ noise float64 }

var (
	gambleStates  = [3][2]float64{{0, 2}, {3, -1}, {-3, -1}} // safe, win, lose
	gamblePayoffs = [3]float64{1, 3, -0.6}
)

// batch draws B transitions: half from the start region with a random
// action, half from an outcome state.
func (g gamble) batch(B int, rng *rand.Rand) *Batch {
	const n, A = 2, 2
	b := &Batch{B: B, K: 1,
		Obs:        make([]float32, 2*B*n),
		Actions:    make([]float32, B*A),
		Rewards:    make([]float32, B),
		Terminated: make([]float32, B),
	}
	jitter := func() [2]float64 { return [2]float64{g.noise * rng.NormFloat64(), g.noise * rng.NormFloat64()} }
	for bi := 0; bi < B; bi++ {
		var s, next [2]float64
		k := rng.IntN(A)
		if bi%2 == 0 {
			s = jitter()
			o := 0
			if k == 1 {
				o = 1 + rng.IntN(2)
			}
			next = gambleStates[o]
		} else {
			o := rng.IntN(3)
			s, next = gambleStates[o], gambleStates[o]
			b.Rewards[bi] = float32(gamblePayoffs[o])
			j := jitter()
			s[0], s[1] = s[0]+j[0], s[1]+j[1]
		}
		j := jitter()
		b.Obs[bi*n], b.Obs[bi*n+1] = float32(s[0]), float32(s[1])
		b.Obs[(B+bi)*n], b.Obs[(B+bi)*n+1] = float32(next[0]+j[0]), float32(next[1]+j[1])
		b.Actions[bi*A+k] = 1
	}
	return b
}

// noValue plans with the model's dynamics and rewards and a zero terminal
// value, as the analytic gamble of the planner's tests does.
type noValue struct{ *Model }

func (noValue) Value(dst, _ []float32, rows int) { clear(dst[:rows]) }

// TestMixturePlansRiskAware trains a mixture on the gamble and plans on its
// sampled futures: the mean risk measure takes the risky action, CVaR the
// safe one, as in the planner's analytic test. The mixture's samples land
// on the win and lose states, where its reward head knows the payoffs; a
// single Gaussian trained the same way fails the mean case (its samples
// fall between win and lose, where the reward head reads about 1).
func TestMixturePlansRiskAware(t *testing.T) {
	const steps = 1500
	rng := rand.New(rand.NewPCG(3, 5))
	cfg, _ := Preset("debug")
	cfg.LatentDim, cfg.Hidden = 2, 32
	cfg.Horizon = 1
	cfg.Guard = GuardNone
	cfg.MeanImageFrames = -1
	cfg.ValueTarget = ValueNStep
	cfg.Dynamics = DynamicsMixture
	m, err := New(cfg, Spec{ObsDim: 2, ActionDim: 2, Discrete: true}, rng)
	if err != nil {
		t.Fatal(err)
	}
	g := gamble{noise: 0.05}
	for i := 0; i < steps; i++ {
		identityEncoders(m)
		if _, err := m.TrainStep(g.batch(64, rng), rng); err != nil {
			t.Fatal(err)
		}
	}
	identityEncoders(m)

	const safe, risky = 0, 1
	for _, tt := range []struct {
		risk string
		want float64
	}{
		{"mean", risky},
		{"cvar:0.25", safe},
		{"cvar:0.5", safe},
	} {
		t.Run(tt.risk, func(t *testing.T) {
			risk, err := planner.ParseRisk(tt.risk)
			if err != nil {
				t.Fatal(err)
			}
			cfg := planner.Config{Horizon: 2, Candidates: 32, Samples: 128, Iterations: 3, Risk: risk}
			p, err := planner.New(cfg, planner.ActionSpec{Discrete: 2}, noValue{m})
			if err != nil {
				t.Fatal(err)
			}
			for trial := range 5 {
				p.Reset()
				if a := p.Plan([]float32{0, 0}, rng); a[0] != tt.want {
					t.Fatalf("trial %d: action %v, want %v (score %.3f)", trial, a[0], tt.want, p.Score())
				}
			}
		})
	}
}
