package planner

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// repeat is k copies of atoms, sorted: the outcomes of k alike futures.
func repeat(k int, atoms []float64) []float64 {
	var out []float64
	for range k {
		out = append(out, atoms...)
	}
	slices.Sort(out)
	return out
}

// TestOutcomesAreWhatTheRiskAggregated checks that the recorded outcomes
// of every first action are the sample its score aggregated: the risk
// measure of Returns plus the bonus is the planner's score of that
// candidate (1e-12: the mean's sum is reordered by the sort), and on the
// analytic tasks Returns are the closed-form outcomes (1e-6: the models
// compute in float32).
func TestOutcomesAreWhatTheRiskAggregated(t *testing.T) {
	const gamma = 0.9
	cvar := Risk{Kind: RiskCVaR, Level: 0.1}
	tailsWant := func(k, h int, lambda float64) [][]float64 {
		return [][]float64{
			tailsRisky: repeat(k, tailsReturns(true, h, gamma, lambda)),
			tailsSafe:  repeat(k, tailsReturns(false, h, gamma, lambda)),
		}
	}
	tests := []struct {
		name  string
		cfg   Config
		spec  ActionSpec
		m     Model
		z     []float32
		bonus []float64
		want  [][]float64 // per action, nil: not checked
	}{
		{"rollout cvar quantiles λ", Config{Method: Rollout, Horizon: 3, Samples: 3, Discount: gamma, Lambda: 0.5, Risk: cvar},
			ActionSpec{Discrete: 2}, tails{quantiles: true}, []float32{0, 0}, nil, tailsWant(3, 3, 0.5)},
		// 8 candidates, 2 actions, H = 3: every sequence once (exhaustive).
		{"cem cvar quantiles", Config{Horizon: 3, Samples: 2, Candidates: 8, Iterations: 2, Discount: gamma, Risk: cvar},
			ActionSpec{Discrete: 2}, tails{quantiles: true}, []float32{0, 0}, nil, tailsWant(2, 3, 1)},
		{"mppi mean quantiles H1", Config{Method: MPPI, Horizon: 1, Samples: 2, Candidates: 16, Discount: gamma},
			ActionSpec{Discrete: 2}, tails{quantiles: true}, []float32{0, 0}, nil, tailsWant(2, 1, 1)},
		// fork: a slip then the right move, 0 + γ·1, or the safe 0.6.
		{"rollout mean bonus", Config{Method: Rollout, Horizon: 2, Samples: 8, Discount: gamma},
			ActionSpec{Discrete: 2}, fork{}, []float32{0}, []float64{0, 0.5},
			[][]float64{repeat(8, []float64{gamma}), repeat(8, []float64{0.6})}},
		// 2^2 sequences, more than the 3 candidates: sampled.
		{"cem cvar sampled", Config{Horizon: 2, Samples: 16, Candidates: 3, Iterations: 3, Risk: Risk{Kind: RiskCVaR, Level: 0.25}},
			ActionSpec{Discrete: 2}, gamble{}, []float32{start}, nil, nil},
		{"cem box", Config{Horizon: 3, Candidates: 40, Iterations: 2, Samples: 2},
			box(2, -1, 1), linear{[]float32{0.5, -0.25}}, []float32{0, 0}, nil, nil},
		{"mppi box quantile", Config{Method: MPPI, Horizon: 2, Candidates: 20, Elites: 3, Risk: Risk{Kind: RiskQuantile, Level: 0.7}},
			box(1, -1, 1), linear{[]float32{0.5}}, []float32{0}, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := mustNew(t, tt.cfg, tt.spec, tt.m)
			p.SetFirstBonus(tt.bonus)
			if p.Outcomes() != nil {
				t.Fatal("outcomes before recording")
			}
			p.RecordOutcomes(true)
			if p.Outcomes() != nil {
				t.Fatal("outcomes before the first Plan")
			}
			rng := rand.New(rand.NewPCG(1, 2))
			for range 2 { // the second decision overwrites the first's
				p.Plan(tt.z, rng)
			}
			act := p.action[0]
			cfg, h := p.Config(), p.Config().Horizon
			got := p.Outcomes()
			wantN := cfg.Elites
			if tt.spec.Discrete > 0 {
				wantN = tt.spec.Discrete
			}
			if len(got) != wantN {
				t.Fatalf("%d entries, want %d", len(got), wantN)
			}
			per := cfg.Samples * max(p.nq, 1)
			chosen := 0
			for j, e := range got {
				if len(e.Returns) == 0 && tt.spec.Discrete > 0 {
					if !math.IsNaN(e.Score) {
						t.Errorf("entry %d: no outcomes, score %g", j, e.Score)
					}
					continue
				}
				if len(e.Returns) != per || !slices.IsSorted(e.Returns) {
					t.Fatalf("entry %d: %d outcomes (sorted %v), want %d sorted", j, len(e.Returns), slices.IsSorted(e.Returns), per)
				}
				agg := cfg.Risk.Aggregate(slices.Clone(e.Returns)) + e.Bonus
				if math.Abs(agg-e.Score) > 1e-12*(1+math.Abs(e.Score)) {
					t.Errorf("entry %d: risk of the outcomes + bonus %.15g, score %.15g", j, agg, e.Score)
				}
				if e.Chosen {
					chosen++
				}
				switch {
				case tt.spec.Discrete == 0:
					// The best candidates of the last iteration, best first.
					i := p.order.idx[j]
					if e.Score != p.scores[i] || !slices.Equal(e.Action, p.cand[i*h*p.width:i*h*p.width+p.width]) {
						t.Errorf("entry %d: score %g action %v, want candidate %d's %g %v", j, e.Score, e.Action, i, p.scores[i], p.cand[i*h*p.width:i*h*p.width+p.width])
					}
					if j > 0 && e.Score > got[j-1].Score {
						t.Errorf("entry %d scores %g above entry %d's %g", j, e.Score, j-1, got[j-1].Score)
					}
				case cfg.Method == Rollout:
					if e.Action[0] != float64(j) || e.Score != p.scores[j] || e.Chosen != (act == float64(j)) {
						t.Errorf("entry %d: action %v score %g chosen %v; want %d, %g, %v", j, e.Action, e.Score, e.Chosen, j, p.scores[j], act == float64(j))
					}
				default:
					// The best of the last iteration's candidates that begin
					// with the action.
					best := math.Inf(-1)
					for i := range p.Config().Candidates {
						if p.cand[i*h] == float64(j) {
							best = max(best, p.scores[i])
						}
					}
					if e.Action[0] != float64(j) || e.Score != best || e.Chosen != (act == float64(j)) {
						t.Errorf("entry %d: action %v score %g chosen %v; want %d, %g, %v", j, e.Action, e.Score, e.Chosen, j, best, act == float64(j))
					}
				}
				if tt.bonus != nil && e.Bonus != tt.bonus[j] {
					t.Errorf("entry %d: bonus %g, want %g", j, e.Bonus, tt.bonus[j])
				}
				if j < len(tt.want) && tt.want[j] != nil {
					for i, v := range e.Returns {
						if math.Abs(v-tt.want[j][i]) > 1e-6 {
							t.Fatalf("action %d: outcomes %v, want %v", j, e.Returns, tt.want[j])
						}
					}
				}
				if _, ok := tt.m.(gamble); ok {
					// Safe: γ·1 always; risky: γ·3 or γ·(−0.6).
					for _, v := range e.Returns {
						ok := math.Abs(v-DefaultDiscount*payoffSafe) < 1e-6
						if e.Action[0] == 1 {
							ok = math.Abs(v-DefaultDiscount*payoffWin) < 1e-6 || math.Abs(v-DefaultDiscount*payoffLose) < 1e-6
						}
						if !ok {
							t.Fatalf("action %v: outcome %g is no outcome of the gamble", e.Action[0], v)
						}
					}
				}
			}
			if want := map[bool]int{true: 1, false: 0}[tt.spec.Discrete > 0]; chosen != want {
				t.Errorf("%d entries chosen, want %d", chosen, want)
			}
			p.RecordOutcomes(false)
			p.Plan(tt.z, rng)
			if p.Outcomes() != nil {
				t.Error("outcomes after recording was turned off")
			}
		})
	}
}
