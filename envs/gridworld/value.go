package gridworld

import "fmt"

// OptimalSuccess returns the largest probability, over all policies, that
// an episode from the start tile enters a goal tile within horizon steps,
// by finite-horizon value iteration on Transitions:
//
//	P_0(s) = 0
//	P_k(s) = max_a Σ_{s'} p(s' | s, a) · (1[s' = G] + 1[s' not terminal] · P_{k−1}(s'))
//
// where s ranges over the cells, a over the four actions, p is the
// distribution Transitions returns and 1[·] is 1 when its condition holds.
// With horizon equal to the map's max_steps it is the best success rate an
// agent can reach: ≈ 0.744 on FrozenLake4x4 and ≈ 0.913 on FrozenLake8x8.
func OptimalSuccess(e *Env, horizon int) float64 {
	v, _ := solve(e, horizon, 1, e.reachesGoal, false, nil)
	return v[e.m.StartRow*e.m.Cols+e.m.StartCol]
}

// reachesGoal is the reward of success: 1 for an outcome on a goal tile.
func (e *Env) reachesGoal(o Outcome) float64 {
	if e.m.At(o.Row, o.Col) == Goal {
		return 1
	}
	return 0
}

// OptimalValues returns, for every cell in row-major order, the best
// expected discounted return of at most horizon steps from that cell:
//
//	V_0(s) = 0
//	V_k(s) = max_a Σ_{s'} p(s' | s, a) · (r(s, a, s') + γ · 1[s' not terminal] · V_{k−1}(s'))
//
// with r the step's reward (Outcome.Reward) and γ = gamma ∈ [0, 1]. Walls
// and terminal tiles have value 0. A large horizon with γ < 1 approaches
// the infinite-horizon optimum: ≈ 0.542 at FrozenLake4x4's start for
// γ = 0.99.
func OptimalValues(e *Env, horizon int, gamma float64) []float64 {
	if !(gamma >= 0 && gamma <= 1) {
		panic(fmt.Sprintf("gridworld: OptimalValues with gamma %g outside [0, 1]", gamma))
	}
	v, _ := solve(e, horizon, gamma, func(o Outcome) float64 { return o.Reward }, false, nil)
	return v
}

// solve runs finite-horizon value iteration with the given per-outcome
// reward. It returns V_horizon and, when greedy is set, the optimal
// non-stationary policy: policy[t][s] is the action at cell s with
// horizon − t steps to go (t = 0 is the first step of an episode). With
// fixed not nil, every cell s takes the action fixed[s] instead of the
// best one, and V is that stationary policy's value.
func solve(e *Env, horizon int, gamma float64, reward func(Outcome) float64, greedy bool, fixed []int) ([]float64, [][]int) {
	if horizon < 0 {
		panic(fmt.Sprintf("gridworld: value iteration with horizon %d < 0", horizon))
	}
	m := e.m
	n := m.Rows * m.Cols
	table := make([][numActions][]Outcome, n)
	for s := range table {
		if t := m.Tiles[s]; t == Wall || t.Terminal() {
			continue
		}
		for a := range numActions {
			table[s][a] = e.Transitions(s/m.Cols, s%m.Cols, a)
		}
	}
	v, next := make([]float64, n), make([]float64, n)
	var policy [][]int
	if greedy {
		policy = make([][]int, horizon)
	}
	for k := 1; k <= horizon; k++ {
		var act []int
		if greedy {
			act = make([]int, n)
			policy[horizon-k] = act
		}
		for s := range next {
			if table[s][0] == nil {
				next[s] = 0
				continue
			}
			best, arg := 0.0, -1
			for a := range numActions {
				if fixed != nil && a != fixed[s] {
					continue
				}
				q := 0.0
				for _, o := range table[s][a] {
					q += o.Prob * reward(o)
					if !o.Terminal {
						q += o.Prob * gamma * v[o.Row*m.Cols+o.Col]
					}
				}
				if arg < 0 || q > best {
					best, arg = q, a
				}
			}
			next[s] = best
			if greedy {
				act[s] = arg
			}
		}
		v, next = next, v
	}
	return v, policy
}

// PolicySuccess returns the probability that an episode from the start
// tile enters a goal tile within horizon steps when every cell s takes
// the action policy[s] (row-major, one entry per cell; entries of walls
// and terminal tiles are ignored):
//
//	P_0(s) = 0
//	P_k(s) = Σ_{s'} p(s' | s, π(s)) · (1[s' = G] + 1[s' not terminal] · P_{k−1}(s'))
//
// It measures a learned policy exactly, where evaluation episodes only
// sample it. It panics if policy has the wrong length or an action
// outside 0 … 3 on a cell that can be left.
func PolicySuccess(e *Env, policy []int, horizon int) float64 {
	m := e.m
	if len(policy) != m.Rows*m.Cols {
		panic(fmt.Sprintf("gridworld: PolicySuccess with %d actions for %d cells", len(policy), m.Rows*m.Cols))
	}
	for s, a := range policy {
		if t := m.Tiles[s]; t != Wall && !t.Terminal() && (a < 0 || a >= numActions) {
			panic(fmt.Sprintf("gridworld: PolicySuccess with action %d at cell (%d, %d)", a, s/m.Cols, s%m.Cols))
		}
	}
	v, _ := solve(e, horizon, 1, e.reachesGoal, false, policy)
	return v[m.StartRow*m.Cols+m.StartCol]
}
