package main

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"

	"github.com/dreamrl/dream/envs/gridworld"
	"github.com/dreamrl/dream/planner"
)

// ActionValuer is a model with an action value q(z, a) (see
// planner.ActionValuer).
type ActionValuer interface {
	ActionValue(dst, z, a []float32, rows int)
}

// DecisionScore grades one way of scoring the first action, applied at
// every reachable non-terminal cell, against the optimal action values
// Q*(s, a) = Σ_o P(o | s, a) [r_o + γ (1 − term_o) V*(o)].
type DecisionScore struct {
	Scorer string `json:"scorer"`
	// Optimal is the share of cells whose chosen action is optimal (its
	// Q* within 1e-6 of the best).
	Optimal float64 `json:"optimal"`
	// Regret is the mean over the cells of max_a Q*(s, a) − Q*(s, chosen).
	Regret float64 `json:"regret"`
	// Success is the exact probability that the policy of the chosen
	// actions (one draw of the sampled scorers) reaches the goal within
	// the map's step limit (gridworld.PolicySuccess).
	Success float64 `json:"success"`
}

// Decisions scores the first action at every non-terminal cell in six
// ways, from the one-step action value to two-step lookaheads whose parts
// are the model's or the truth, so that the loss of a lookahead can be
// put on the part that causes it:
//
//	q                 q(z_s, a)
//	true-model        Σ_o P(o) [r_o + γ (1 − term_o) max_b q(z_o, b)]      the true outcomes, on the cells' latents
//	true-outcomes     r̂(z_s, a) + γ ĉ(z_s, a) Σ_o P(o) max_b q(z_o, b)     the model's reward and continuation
//	samples           r̂ + γ ĉ (1/K) Σ_k max_b q(ẑ_k, b),  ẑ_k ~ p(· | z_s, a)
//	snapped           samples with each ẑ_k replaced by the nearest cell's latent
//	snapped-cell-end  snapped, with the continuation read off the cell: r̂ + γ (1/K) Σ_k (1 − term_k) max_b q(z_k, b)
//
// The last three are what the rollout planner at H = 2 scores (without
// and with snap_latents), the first what it scores at H = 1.
func (g *Grid) Decisions(env *gridworld.Env, m Model, q ActionValuer, gamma float64, samples int, rng *rand.Rand) []DecisionScore {
	n, d := g.actions, g.d
	// max_b q(z_c, b) of every cell.
	qmax := make([]float64, len(g.cells))
	qs := make([]float32, n)
	for c := range g.cells {
		qs = g.qAll(q, qs, g.Latent(c))
		qmax[c] = float64(maxf(qs))
	}
	names := []string{"q", "true-model", "true-outcomes", "samples", "snapped", "snapped-cell-end"}
	scores := make([]DecisionScore, len(names))
	for i, name := range names {
		scores[i].Scorer = name
	}
	mp := env.Map()
	z := make([]float32, samples*d)
	next := make([]float32, samples*d)
	act := make([]float32, samples*n)
	rew, cont := make([]float32, samples), make([]float32, samples)
	choice := make([][]float64, len(names)) // per scorer, per action
	for i := range choice {
		choice[i] = make([]float64, n)
	}
	qstar := make([]float64, n)
	policies := make([][]int, len(names))
	for i := range policies {
		policies[i] = make([]int, g.rows*g.cols)
	}
	for _, s := range g.starts {
		row, col := g.cells[s]/g.cols, g.cells[s]%g.cols
		qs = g.qAll(q, qs, g.Latent(s))
		g.optimalQ(env, s, gamma, qstar)
		for a := range n {
			trueModel := 0.0
			sumQ := 0.0
			for _, o := range env.Transitions(row, col, a) {
				to := g.pos[o.Row*mp.Cols+o.Col]
				end := 0.0
				if o.Terminal {
					end = 1
				}
				trueModel += o.Prob * (o.Reward + gamma*(1-end)*qmax[to])
				sumQ += o.Prob * qmax[to]
			}
			for k := range samples {
				copy(z[k*d:(k+1)*d], g.Latent(s))
				row := act[k*n : (k+1)*n]
				clear(row)
				row[a] = 1
			}
			m.Step(next, rew, cont, z, act, samples, samples > 1, rng)
			r, c := float64(rew[0]), float64(cont[0])
			var sampled, snapped, cellEnd float64
			for k := range samples {
				zk := next[k*d : (k+1)*d]
				qs2 := g.qAll(q, make([]float32, n), zk)
				sampled += float64(maxf(qs2))
				cell := g.Nearest(zk)
				snapped += qmax[cell]
				if !g.terminal[cell] {
					cellEnd += qmax[cell]
				}
			}
			kf := float64(samples)
			choice[0][a] = float64(qs[a])
			choice[1][a] = trueModel
			choice[2][a] = r + gamma*c*sumQ
			choice[3][a] = r + gamma*c*sampled/kf
			choice[4][a] = r + gamma*c*snapped/kf
			choice[5][a] = r + gamma*cellEnd/kf
		}
		best := math.Inf(-1)
		for _, v := range qstar {
			best = max(best, v)
		}
		for i := range names {
			a := argmax64(choice[i])
			policies[i][g.cells[s]] = a
			if qstar[a] >= best-1e-6 {
				scores[i].Optimal++
			}
			scores[i].Regret += best - qstar[a]
		}
	}
	for i := range scores {
		scores[i].Optimal /= float64(len(g.starts))
		scores[i].Regret /= float64(len(g.starts))
		scores[i].Success = gridworld.PolicySuccess(env, policies[i], mp.MaxSteps)
	}
	return scores
}

// optimalQ writes Q*(s, a) = Σ_o P(o | s, a) [r_o + γ (1 − term_o) V*(o)]
// of every action a at cell position s into dst and returns it.
func (g *Grid) optimalQ(env *gridworld.Env, s int, gamma float64, dst []float64) []float64 {
	row, col, cols := g.cells[s]/g.cols, g.cells[s]%g.cols, env.Map().Cols
	for a := range dst {
		dst[a] = 0
		for _, o := range env.Transitions(row, col, a) {
			end := 0.0
			if o.Terminal {
				end = 1
			}
			dst[a] += o.Prob * (o.Reward + gamma*(1-end)*g.optimal[g.pos[o.Row*cols+o.Col]])
		}
	}
	return dst
}

// qAll writes q(z, b) of every action b into dst.
func (g *Grid) qAll(q ActionValuer, dst, z []float32) []float32 {
	n, d := g.actions, g.d
	zs := make([]float32, n*d)
	as := make([]float32, n*n)
	for b := range n {
		copy(zs[b*d:(b+1)*d], z)
		as[b*n+b] = 1
	}
	q.ActionValue(dst, zs, as, n)
	return dst
}

func maxf(x []float32) float32 {
	m := x[0]
	for _, v := range x[1:] {
		m = max(m, v)
	}
	return m
}

func argmax64(x []float64) int {
	best := 0
	for i, v := range x {
		if v > x[best] {
			best = i
		}
	}
	return best
}

// Planner chooses the first action from a latent, as planner.MPC.Plan.
type Planner interface {
	Plan(z []float32, rng *rand.Rand) []float64
}

// PlannerSuccess is the exact success of the stochastic policy that asks
// p for the action at every non-terminal cell: draws decisions per cell
// give the policy's action frequencies π(a | s), and the probability of
// entering a goal tile within the map's step limit follows as in
// gridworld.PolicySuccess, with each cell's actions weighted by π. It
// also returns the share of draws that take an optimal action (by Q*,
// within 1e-6), over all cells.
func (g *Grid) PlannerSuccess(env *gridworld.Env, p Planner, gamma float64, draws int, rng *rand.Rand) (success, optimal float64) {
	n, mp := g.actions, env.Map()
	pi := make([][]float64, len(g.cells))
	hits := 0
	for _, s := range g.starts {
		pi[s] = make([]float64, n)
		qstar := g.optimalQ(env, s, gamma, make([]float64, n))
		best := qstar[argmax64(qstar)]
		z := append([]float32(nil), g.Latent(s)...)
		for range draws {
			a := int(p.Plan(z, rng)[0])
			pi[s][a] += 1 / float64(draws)
			if qstar[a] >= best-1e-6 {
				hits++
			}
		}
	}
	prev := make([]float64, len(g.cells))
	cur := make([]float64, len(g.cells))
	for range mp.MaxSteps {
		for _, s := range g.starts {
			row, col := g.cells[s]/g.cols, g.cells[s]%g.cols
			v := 0.0
			for a, w := range pi[s] {
				if w == 0 {
					continue
				}
				for _, o := range env.Transitions(row, col, a) {
					to := g.pos[o.Row*mp.Cols+o.Col]
					switch {
					case mp.At(o.Row, o.Col) == gridworld.Goal:
						v += w * o.Prob
					case !g.terminal[to]:
						v += w * o.Prob * prev[to]
					}
				}
			}
			cur[s] = v
		}
		prev, cur = cur, prev
	}
	start := g.pos[mp.StartRow*mp.Cols+mp.StartCol]
	return prev[start], float64(hits) / float64(draws*len(g.starts))
}

// plannerSpec is one --planners entry.
type plannerSpec struct {
	method  planner.Method
	horizon int
	samples int
	snap    bool
	lambda  float64 // 0: the planner's default
}

func (p plannerSpec) String() string {
	s := fmt.Sprintf("%s:%d:%d", p.method, p.horizon, p.samples)
	if p.snap {
		s += ":snap"
	}
	if p.lambda != 0 {
		s += fmt.Sprintf(":λ%g", p.lambda)
	}
	return s
}

// parsePlanners reads "METHOD:H:K[:snap][:lλ],…".
func parsePlanners(s string) ([]plannerSpec, error) {
	if s == "" {
		return nil, nil
	}
	var out []plannerSpec
	for _, f := range strings.Split(s, ",") {
		parts := strings.Split(f, ":")
		bad := fmt.Errorf("--planners entry %q (allowed: METHOD:H:K with :snap and :lλ optional, METHOD cem, mppi or rollout, H and K at least 1, 0 < λ ≤ 1)", f)
		if len(parts) < 3 {
			return nil, bad
		}
		var ps plannerSpec
		for _, opt := range parts[3:] {
			switch {
			case opt == "snap":
				ps.snap = true
			case strings.HasPrefix(opt, "l"):
				v, err := strconv.ParseFloat(opt[1:], 64)
				if err != nil || !(v > 0 && v <= 1) {
					return nil, bad
				}
				ps.lambda = v
			default:
				return nil, bad
			}
		}
		h, err1 := strconv.Atoi(parts[1])
		k, err2 := strconv.Atoi(parts[2])
		m := planner.Method(parts[0])
		if err1 != nil || err2 != nil || h < 1 || k < 1 || (m != planner.CEM && m != planner.MPPI && m != planner.Rollout) {
			return nil, bad
		}
		ps.method, ps.horizon, ps.samples = m, h, k
		out = append(out, ps)
	}
	return out, nil
}

// PlannerScore is the exact success of one planner's policy.
type PlannerScore struct {
	Planner string  `json:"planner"`
	Optimal float64 `json:"optimal"`
	Success float64 `json:"success"`
}

// cellSnap is a model whose imagined latents snap to the nearest cell's
// latent: what snap_latents does with a replay buffer that holds every
// cell.
type cellSnap struct {
	Model
	q ActionValuer
	g *Grid
}

func (c cellSnap) Step(next, reward, cont, z, a []float32, rows int, sample bool, rng *rand.Rand) {
	c.Model.Step(next, reward, cont, z, a, rows, sample, rng)
	d := c.g.d
	for r := range rows {
		copy(next[r*d:(r+1)*d], c.g.Latent(c.g.Nearest(next[r*d:(r+1)*d])))
	}
}
func (c cellSnap) HasActionValue() bool { return true }
func (c cellSnap) ActionValue(dst, z, a []float32, rows int) {
	c.q.ActionValue(dst, z, a, rows)
}

// qModel adds the action value to a Model.
type qModel struct {
	Model
	q ActionValuer
}

func (c qModel) HasActionValue() bool { return true }
func (c qModel) ActionValue(dst, z, a []float32, rows int) {
	c.q.ActionValue(dst, z, a, rows)
}

func (g *Grid) scorePlanner(env *gridworld.Env, m Model, q ActionValuer, gamma float64, ps plannerSpec, draws int, rng *rand.Rand) (PlannerScore, error) {
	var pm planner.Model = qModel{m, q}
	if ps.snap {
		pm = cellSnap{m, q, g}
	}
	p, err := planner.New(planner.Config{Method: ps.method, Horizon: ps.horizon, Samples: ps.samples, Discount: gamma, Lambda: ps.lambda}, planner.ActionSpec{Discrete: g.actions}, pm)
	if err != nil {
		return PlannerScore{}, err
	}
	succ, opt := g.PlannerSuccess(env, p, gamma, draws, rng)
	return PlannerScore{Planner: ps.String(), Optimal: opt, Success: succ}, nil
}
