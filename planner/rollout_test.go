package planner

import (
	"errors"
	"math/rand/v2"
	"strings"
	"testing"
)

// fork is a two-step slippery task on latents {0 start, 1 left, 2 right,
// 3 end}. From the start, action 0 slips to left or right with
// probability ½ each (reward 0); action 1 takes a safe reward of 0.6 and
// ends the episode. On the left only action 0 is worth 1, on the right
// only action 1. Its action value is exact on left and right and, as an
// untrained one would be, wrong at the start: q(start, ·) = (0, 0.1).
type fork struct{}

func (fork) LatentDim() int { return 1 }
func (fork) ActionDim() int { return 2 }
func (fork) Step(next, reward, cont, z, a []float32, rows int, sample bool, rng *rand.Rand) {
	for r := range rows {
		act := 0
		if a[2*r+1] > a[2*r] {
			act = 1
		}
		switch {
		case z[r] == 0 && act == 0:
			next[r], reward[r], cont[r] = 1.5, 0, 1 // the mean of left and right
			if sample {
				next[r] = float32(1 + rng.IntN(2))
			}
		case z[r] == 0:
			next[r], reward[r], cont[r] = 3, 0.6, 0
		case (z[r] == 1) == (act == 0):
			next[r], reward[r], cont[r] = 3, 1, 0
		default:
			next[r], reward[r], cont[r] = 3, 0, 0
		}
	}
}
func (fork) Value(dst, _ []float32, rows int) { clear(dst[:rows]) }
func (fork) HasActionValue() bool             { return true }
func (fork) ActionValue(dst, z, a []float32, rows int) {
	for r := range rows {
		act := 0
		if a[2*r+1] > a[2*r] {
			act = 1
		}
		switch z[r] {
		case 0:
			dst[r] = 0.1 * float32(act)
		case 1:
			dst[r] = float32(1 - act)
		case 2:
			dst[r] = float32(act)
		default:
			dst[r] = 0
		}
	}
}

func TestRolloutActsOnTheOutcomeItDrew(t *testing.T) {
	spec := ActionSpec{Discrete: 2}
	tests := []struct {
		name      string
		cfg       Config
		want      int
		wantScore float64 // −1: not checked (CEM's score is its elites')
	}{
		// H = 1 is greedy on q(start, ·), wrong at the start.
		{"rollout H1", Config{Method: Rollout, Horizon: 1, Samples: 8}, 1, 0.1},
		// Each sampled outcome takes its own best move: 0 + γ·1.
		{"rollout H2", Config{Method: Rollout, Horizon: 2, Samples: 8, Discount: 0.9}, 0, 0.9},
		{"rollout H3", Config{Method: Rollout, Horizon: 3, Samples: 8, Discount: 0.9}, 0, 0.9},
		{"rollout H2 cvar", Config{Method: Rollout, Horizon: 2, Samples: 8, Discount: 0.9, Risk: Risk{Kind: RiskCVaR, Level: 0.25}}, 0, 0.9},
		// A fixed second action pays off in half the futures: 0.45 < 0.6.
		{"cem H2", Config{Horizon: 2, Samples: 256, Discount: 0.9, Candidates: 32}, 1, -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := mustNew(t, tt.cfg, spec, fork{})
			a := p.Plan([]float32{0}, rand.New(rand.NewPCG(3, 4)))
			if int(a[0]) != tt.want {
				t.Errorf("action %v, want %d", a[0], tt.want)
			}
			if got := p.Score(); tt.wantScore >= 0 && (got < tt.wantScore-1e-6 || got > tt.wantScore+1e-6) {
				t.Errorf("score %g, want %g", got, tt.wantScore)
			}
			if seq := p.Sequence(); int(seq[0]) != tt.want || len(seq) != p.Config().Horizon {
				t.Errorf("sequence %v, want %d first and length %d", seq, tt.want, p.Config().Horizon)
			}
		})
	}
}

func TestRolloutScoresWithTheModelsReward(t *testing.T) {
	// constant has reward 1 and continuation c; q = q0 + a. With one
	// action, H = 3: G = 1 + γc + γ²c²(q0 + 1).
	const c, q0, gamma = 0.5, 4, 0.9
	m := withQ{constant: constant{c: c, v: 10}, q: q0, has: true}
	p := mustNew(t, Config{Method: Rollout, Horizon: 3, Samples: 2, Discount: gamma}, ActionSpec{Discrete: 1}, m)
	p.Plan([]float32{0}, rand.New(rand.NewPCG(1, 1)))
	want := 1 + gamma*c + gamma*gamma*c*c*(q0+1)
	if got := p.Score(); got < want-1e-5 || got > want+1e-5 {
		t.Errorf("score %.9g, want %.9g", got, want)
	}
}

func TestRolloutFirstBonus(t *testing.T) {
	p := mustNew(t, Config{Method: Rollout, Horizon: 2, Samples: 4, Discount: 0.9}, ActionSpec{Discrete: 2}, fork{})
	p.SetFirstBonus([]float64{0, 0.5})
	if a := p.Plan([]float32{0}, rand.New(rand.NewPCG(1, 1))); a[0] != 1 {
		t.Errorf("action %v with a bonus of 0.5 on action 1, want 1", a[0])
	}
}

func TestRolloutNeedsDiscreteActionsAndQ(t *testing.T) {
	cfg := Config{Method: Rollout}
	if _, err := New(cfg, box(1, -1, 1), withQ{has: true}); !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), "discrete") {
		t.Errorf("rollout over a box: %v, want an error naming the discrete space", err)
	}
	if _, err := New(cfg, ActionSpec{Discrete: 2}, gamble{}); !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), "action value") {
		t.Errorf("rollout without q: %v, want an error naming the action value", err)
	}
	if err := (Config{Method: "tree"}).Validate(); err == nil || !strings.Contains(err.Error(), "rollout") {
		t.Errorf("bad method: %v, want the allowed methods listed", err)
	}
}

func TestRolloutLambda(t *testing.T) {
	// constant: reward 1, continuation c; q = q0 + a with one action (a =
	// 1). G⁽¹⁾ = q0 + 1, G⁽²⁾ = 1 + γc(q0 + 1), G⁽³⁾ = 1 + γc + γ²c²(q0 + 1).
	const c, q0, gamma, lam = 0.5, 4, 0.9, 0.6
	m := withQ{constant: constant{c: c, v: 10}, q: q0, has: true}
	g1 := q0 + 1.0
	g2 := 1 + gamma*c*(q0+1)
	g3 := 1 + gamma*c + gamma*gamma*c*c*(q0+1)
	for _, method := range []Method{Rollout, CEM, MPPI} {
		for _, tt := range []struct {
			h    int
			want float64
		}{
			{1, g1},
			{2, (1-lam)*g1 + lam*g2},
			{3, (1-lam)*(g1+lam*g2) + lam*lam*g3},
		} {
			p := mustNew(t, Config{Method: method, Horizon: tt.h, Samples: 2, Candidates: 4, Discount: gamma, Lambda: lam}, ActionSpec{Discrete: 1}, m)
			p.Plan([]float32{0}, rand.New(rand.NewPCG(1, 1)))
			if got := p.Score(); got < tt.want-1e-5 || got > tt.want+1e-5 {
				t.Errorf("%s H %d: score %.9g, want %.9g", method, tt.h, got, tt.want)
			}
		}
	}
	if err := (Config{Lambda: 1.5}).Validate(); err == nil {
		t.Error("lambda 1.5 validated")
	}
}
