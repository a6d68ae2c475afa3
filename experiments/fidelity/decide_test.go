package main

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/dreamrl/dream/envs/gridworld"
	"github.com/dreamrl/dream/planner"
)

// exactModel is a cellModel with the expected reward of a move and the
// optimal action value Q* as its action value.
type exactModel struct {
	*cellModel
	qstar [][]float64 // per row-major cell, per action
}

func newExactModel(env *gridworld.Env, slips bool, gamma float64) *exactModel {
	mp := env.Map()
	v := gridworld.OptimalValues(env, 1000, gamma)
	q := make([][]float64, len(v))
	for c := range q {
		q[c] = make([]float64, 4)
		if mp.Tiles[c].Terminal() {
			continue
		}
		for a := range 4 {
			for _, o := range env.Transitions(c/mp.Cols, c%mp.Cols, a) {
				end := 0.0
				if o.Terminal {
					end = 1
				}
				q[c][a] += o.Prob * (o.Reward + gamma*(1-end)*v[o.Row*mp.Cols+o.Col])
			}
		}
	}
	return &exactModel{cellModel: newCellModel(env, slips, endsOnTerminal(env), v), qstar: q}
}

func (m *exactModel) Step(next, reward, cont, z, a []float32, rows int, sample bool, rng *rand.Rand) {
	m.cellModel.Step(next, nil, cont, z, a, rows, sample, rng)
	d, mp := m.LatentDim(), m.env.Map()
	for i := range rows {
		c, act := argmax(z[i*d:(i+1)*d]), argmax(a[i*4:(i+1)*4])
		r := 0.0
		if !mp.Tiles[c].Terminal() {
			for _, o := range m.env.Transitions(c/mp.Cols, c%mp.Cols, act) {
				r += o.Prob * o.Reward
			}
		}
		if reward != nil {
			reward[i] = float32(r)
		}
		if !m.slips || cont == nil {
			continue
		}
		// The continuation of a move is its probability of not ending.
		p := 0.0
		for _, o := range m.env.Transitions(c/mp.Cols, c%mp.Cols, act) {
			if !o.Terminal {
				p += o.Prob
			}
		}
		if mp.Tiles[c].Terminal() {
			p = 0
		}
		cont[i] = float32(p)
	}
}

func (m *exactModel) HasActionValue() bool { return true }
func (m *exactModel) ActionValue(dst, z, a []float32, rows int) {
	d := m.LatentDim()
	for i := range rows {
		dst[i] = float32(m.qstar[argmax(z[i*d:(i+1)*d])][argmax(a[i*4:(i+1)*4])])
	}
}

func TestDecisionsOfAnExactModel(t *testing.T) {
	env := gridworld.FrozenLake4x4()
	const gamma = 0.99
	g, _ := oneHotGrid(env, gamma)
	m := newExactModel(env, true, gamma)
	rng := rand.New(rand.NewPCG(1, 2))
	greedy := make([]int, 16)
	for c := range greedy {
		greedy[c] = argmax64(m.qstar[c])
	}
	best := gridworld.PolicySuccess(env, greedy, env.Map().MaxSteps)
	for _, s := range g.Decisions(env, m, m, gamma, 64, rng) {
		switch s.Scorer {
		case "q", "true-model":
			// Both read Q* exactly (max_b Q*(o, b) = V*(o)).
			if s.Optimal != 1 || s.Regret > 1e-6 || math.Abs(s.Success-best) > 1e-9 {
				t.Errorf("%s: optimal %g, regret %g, success %g; want 1, 0, %g", s.Scorer, s.Optimal, s.Regret, s.Success, best)
			}
		}
		if s.Success < 0 || s.Success > 1 || s.Optimal < 0 || s.Optimal > 1 {
			t.Errorf("%s: optimal %g, success %g out of [0, 1]", s.Scorer, s.Optimal, s.Success)
		}
	}
	// The greedy planner on Q* is the greedy policy, drawn or not.
	p, err := planner.New(planner.Config{Method: planner.Rollout, Horizon: 1, Samples: 4, Discount: gamma}, planner.ActionSpec{Discrete: 4}, m)
	if err != nil {
		t.Fatal(err)
	}
	succ, opt := g.PlannerSuccess(env, p, gamma, 5, rng)
	if opt != 1 || math.Abs(succ-best) > 1e-9 {
		t.Errorf("greedy planner on Q*: optimal draws %g, success %g; want 1, %g", opt, succ, best)
	}
	// A lookahead over a model that never slips picks moves the true
	// dynamics punish.
	noSlip := newExactModel(env, false, gamma)
	sc, err := g.scorePlanner(env, noSlip, noSlip, gamma, plannerSpec{method: planner.Rollout, horizon: 3, samples: 1}, 5, rng)
	if err != nil {
		t.Fatal(err)
	}
	if sc.Success >= best-0.05 {
		t.Errorf("a lookahead over a model without slips succeeds %g, want well below the greedy policy's %g", sc.Success, best)
	}
}

func TestParsePlanners(t *testing.T) {
	got, err := parsePlanners("cem:1:4,rollout:3:16:snap:l0.5")
	if err != nil || len(got) != 2 || got[1].String() != "rollout:3:16:snap:λ0.5" || got[0].samples != 4 {
		t.Errorf("parsePlanners: %v, %v", got, err)
	}
	for _, bad := range []string{"rollout:0:4", "tree:2:4", "rollout:2", "rollout:2:4:snip", "rollout:x:4", "rollout:2:4:l0", "rollout:2:4:l1.5"} {
		if _, err := parsePlanners(bad); err == nil {
			t.Errorf("parsePlanners(%q) took it", bad)
		}
	}
}
