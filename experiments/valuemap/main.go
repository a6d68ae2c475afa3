// Command valuemap prints, for a trained gridworld run, the learned value
// of every cell next to the optimal one, and the action a one-step
// lookahead in the model (or the learned action value q, where the model
// has one, or the mean of its quantiles, where it has them, as the
// planner reads them) picks next to the optimal action, with the weights
// the agent acts with (the averaged ones where the model keeps them):
//
//	go run ./experiments/valuemap RUN_DIR
//
// The optimal values come from value iteration on the true transition
// model (gridworld.OptimalValues) at the run's discount. The last line is
// the exact probability that the greedy policy reaches the goal within
// the map's time limit (gridworld.PolicySuccess), next to the best
// policy's; before it, for each cell where the greedy action is not
// optimal, how much that success would gain with that cell alone fixed;
// and, where the model has an action value q, how far q sits from the
// one-step return of the learned value under the true transitions (its
// regression target in expectation), at the greedy actions and at the
// others, with the success of the policy greedy on that return instead.
package main

import (
	"fmt"
	"image"
	"io"
	"math"
	"os"

	"github.com/dreamrl/dream/agent"
	"github.com/dreamrl/dream/envs"
	"github.com/dreamrl/dream/envs/gridworld"
	"github.com/dreamrl/dream/envs/registry"
	"github.com/dreamrl/dream/worldmodel"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: valuemap RUN_DIR")
		os.Exit(2)
	}
	if err := run(os.Args[1], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "valuemap:", err)
		os.Exit(1)
	}
}

func run(dir string, w io.Writer) error {
	r, err := agent.OpenTrained(dir)
	if err != nil {
		return err
	}
	cfg := r.Config()
	m := r.Model().Averaged() // what the agent acts with
	env, err := registry.Make(cfg.Env, envs.Options{Obs: envs.ObsMode(cfg.Obs), Size: cfg.Size, MapFile: cfg.Map})
	if err != nil {
		return err
	}
	g, ok := env.Simulator().(*gridworld.Env)
	if !ok {
		return fmt.Errorf("%s is not a gridworld", cfg.Env)
	}
	env.Reset(0)
	mp := g.Map()
	gamma := m.Config().Discount
	opt := gridworld.OptimalValues(g, 1000, gamma)
	spec := m.Spec()
	d, A := m.LatentDim(), spec.ActionDim
	z := make([]float32, d)
	v := make([]float32, 1)
	za := make([]float32, A*d)
	acts := make([]float32, A*A)
	for a := 0; a < A; a++ {
		acts[a*A+a] = 1
	}
	next := make([]float32, A*d)
	rew := make([]float32, A)
	cont := make([]float32, A)
	vn := make([]float32, A)
	qa := make([]float32, A)
	qt := make([]float32, A*m.QuantileCount())
	var o envs.Observation
	if spec.Pixels() {
		o.Frame = image.NewRGBA(image.Rect(0, 0, spec.Frame[1], spec.Frame[0]))
	} else {
		o.Vector = make([]float64, g.VectorSpace().Dim())
	}
	obs := agent.NewObserver(spec)
	names := []string{"L", "D", "R", "U"}
	// encodeCell puts the agent on a cell (not a wall: the caller skips
	// walls, and outcomes never land on one) and encodes what it sees, as
	// at the first step of an episode.
	encodeCell := func(row, col int, z []float32) {
		if err := g.SetState([]float64{float64(row), float64(col)}); err != nil {
			panic(err)
		}
		if o.Frame != nil {
			g.Render(o.Frame)
		} else {
			g.Vector(o.Vector)
		}
		obs.Reset(o)
		copy(z, obs.Encode(m))
	}
	zo := make([]float32, d)
	vo := make([]float32, 1)
	fmt.Fprintf(w, "cell     tile  V       V*      Q(L,D,R,U) model                 a  a*\n")
	agree, cells := 0, 0
	policy := make([]int, mp.Rows*mp.Cols)
	optimal := make([]int, mp.Rows*mp.Cols)
	for row := 0; row < mp.Rows; row++ {
		for col := 0; col < mp.Cols; col++ {
			t := mp.At(row, col)
			if t == gridworld.Wall || t == gridworld.Hole || t == gridworld.Goal {
				continue
			}
			encodeCell(row, col, z)
			m.Value(v, z, 1)
			for a := 0; a < A; a++ {
				copy(za[a*d:], z)
			}
			m.Step(next, rew, cont, za, acts, A, false, nil)
			m.Value(vn, next, A)
			if m.HasActionValue() {
				m.ActionValue(qa, za, acts, A)
			}
			if nq := m.QuantileCount(); nq > 0 {
				// The planner acts on the quantiles' mean, not on q.
				m.ActionValueQuantiles(qt, za, acts, A)
				for a := range A {
					sum := 0.0
					for _, v := range qt[a*nq : (a+1)*nq] {
						sum += float64(v)
					}
					qa[a] = float32(sum / float64(nq))
				}
			}
			best, bq := 0, math.Inf(-1)
			qs := ""
			for a := 0; a < A; a++ {
				q := float64(rew[a]) + gamma*float64(cont[a])*float64(vn[a])
				if m.HasActionValue() {
					q = float64(qa[a])
				}
				qs += fmt.Sprintf("%6.3f ", q)
				if q > bq {
					best, bq = a, q
				}
			}
			// The optimal action from the true model.
			ob, obq := 0, math.Inf(-1)
			for a := 0; a < A; a++ {
				if q := qOf(g, row, col, a, gamma, opt, mp.Cols); q > obq+1e-9 {
					ob, obq = a, q
				}
			}
			policy[row*mp.Cols+col], optimal[row*mp.Cols+col] = best, ob
			same := " "
			if math.Abs(qOf(g, row, col, best, gamma, opt, mp.Cols)-obq) < 1e-6 {
				agree++
				same = "="
			}
			cells++
			// At the optimal action: the model's reward, continuation and
			// value at the predicted mean against the truth.
			tr, tc, tv := 0.0, 0.0, 0.0
			for _, o := range g.Transitions(row, col, ob) {
				tr += o.Prob * o.Reward
				if !o.Terminal {
					tc += o.Prob
					encodeCell(o.Row, o.Col, zo)
					m.Value(vo, zo, 1)
					tv += o.Prob * float64(vo[0])
				}
			}
			fmt.Fprintf(w, "    a*: r̂ %.3f (%.3f)  ĉ %.3f (%.3f)  V(μ) %.3f  E[c V(s')] %.3f\n", rew[ob], tr, cont[ob], tc, vn[ob], tv)
			fmt.Fprintf(w, "(%d,%d)    %c   %6.3f  %6.3f  %s %s  %s %s\n", row, col, rune(t), v[0], opt[row*mp.Cols+col], qs, names[best], names[ob], same)
		}
	}
	fmt.Fprintf(w, "greedy one-step lookahead optimal in %d of %d cells\n", agree, cells)
	if m.HasActionValue() {
		qAgainstValue(w, m, g, encodeCell, policy)
	}
	base := gridworld.PolicySuccess(g, policy, mp.MaxSteps)
	// What each wrong cell costs: the success with that cell's action
	// alone set to the optimal one.
	for s, a := range policy {
		if a == optimal[s] || math.Abs(qOf(g, s/mp.Cols, s%mp.Cols, a, gamma, opt, mp.Cols)-qOf(g, s/mp.Cols, s%mp.Cols, optimal[s], gamma, opt, mp.Cols)) < 1e-6 {
			continue
		}
		fixed := append([]int(nil), policy...)
		fixed[s] = optimal[s]
		fmt.Fprintf(w, "(%d,%d) %s instead of %s: success %+.3f if fixed\n", s/mp.Cols, s%mp.Cols, names[a], names[optimal[s]],
			gridworld.PolicySuccess(g, fixed, mp.MaxSteps)-base)
	}
	fmt.Fprintf(w, "its exact success within %d steps: %.3f (best policy %.3f)\n", mp.MaxSteps, base, gridworld.OptimalSuccess(g, mp.MaxSteps))
	return nil
}

// qAgainstValue prints how far the learned q sits from the one-step
// return of the learned value under the true transitions,
// E[r + γ(1−d)V(s')], which q regresses: the mean error at the actions
// the greedy policy takes and at the others; and the exact success of the
// policy greedy on that one-step return, which ranks the actions by the
// learned V alone.
func qAgainstValue(w io.Writer, m *worldmodel.Model, g *gridworld.Env, encodeCell func(row, col int, z []float32), policy []int) {
	mp := g.Map()
	d, A := m.LatentDim(), m.ActionDim()
	gamma := m.Config().Discount
	z := make([]float32, d)
	v := make([]float32, 1)
	q := make([]float32, 1)
	act := make([]float32, A)
	byValue := make([]int, len(policy))
	var taken, other []float64
	for row := 0; row < mp.Rows; row++ {
		for col := 0; col < mp.Cols; col++ {
			t := mp.At(row, col)
			if t == gridworld.Wall || t == gridworld.Hole || t == gridworld.Goal {
				continue
			}
			best := math.Inf(-1)
			for a := 0; a < A; a++ {
				ret := 0.0
				for _, o := range g.Transitions(row, col, a) {
					ret += o.Prob * o.Reward
					if !o.Terminal {
						encodeCell(o.Row, o.Col, z)
						m.Value(v, z, 1)
						ret += o.Prob * gamma * float64(v[0])
					}
				}
				if ret > best {
					best, byValue[row*mp.Cols+col] = ret, a
				}
				encodeCell(row, col, z)
				clear(act)
				act[a] = 1
				m.ActionValue(q, z, act, 1)
				if a == policy[row*mp.Cols+col] {
					taken = append(taken, float64(q[0])-ret)
				} else {
					other = append(other, float64(q[0])-ret)
				}
			}
		}
	}
	mean := func(x []float64) float64 {
		s := 0.0
		for _, v := range x {
			s += v
		}
		return s / float64(max(len(x), 1))
	}
	fmt.Fprintf(w, "q − E[r + γ(1−d)V(s')] (true transitions): mean %+.3f at the greedy actions, %+.3f at the others\n", mean(taken), mean(other))
	fmt.Fprintf(w, "greedy on E[r + γ(1−d)V(s')] instead of q: exact success %.3f\n", gridworld.PolicySuccess(g, byValue, mp.MaxSteps))
}

// qOf is the true action value of a in the cell under the optimal values.
func qOf(g *gridworld.Env, row, col, a int, gamma float64, opt []float64, cols int) float64 {
	q := 0.0
	for _, o := range g.Transitions(row, col, a) {
		q += o.Prob * o.Reward
		if !o.Terminal {
			q += o.Prob * gamma * opt[o.Row*cols+o.Col]
		}
	}
	return q
}
