package agent

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/dreamrl/dream/envs"
	"github.com/dreamrl/dream/envs/registry"
)

// Eval summarises an evaluation: episodes played with the greedy planner
// (no exploration) on environments separate from the training one.
type Eval struct {
	// Steps is the number of environment steps trained when it was run.
	Steps    int `json:"steps"`
	Episodes int `json:"episodes"`
	// Return is the mean episode return; ReturnLo and ReturnHi bound its
	// 95% confidence interval (normal approximation, mean ± 1.96·s/√n).
	Return   float64 `json:"return"`
	ReturnLo float64 `json:"return_lo"`
	ReturnHi float64 `json:"return_hi"`
	// Success is the share of episodes that reached a goal, when HasGoal.
	Success float64 `json:"success"`
	HasGoal bool    `json:"has_goal"`
	// Length is the mean episode length.
	Length float64 `json:"length"`
}

// evalSeed is the first episode seed of every evaluation of a run: each
// evaluation plays the same start states, so curves are less noisy.
func evalSeed(seed uint64) uint64 {
	return rand.New(rand.NewPCG(seed, streamEval)).Uint64()
}

// EpisodeHook, when given to Evaluate, is called before every step of
// every episode with the environment and the planner's latent.
type EpisodeHook func(episode, t int, env envs.Env)

// Evaluate plays episodes with the greedy planner, episode i from seed
// firstSeed+i, and summarises them. It acts with the model's averaged
// weights where it keeps them (model.average_tau). It does not change the
// run.
func (r *Run) Evaluate(episodes int, firstSeed uint64, hook EpisodeHook) Eval {
	env, err := registry.Make(r.cfg.Env, envs.Options{Obs: envs.ObsMode(r.cfg.Obs), Size: r.cfg.Size, MapFile: r.cfg.Map})
	if err != nil {
		panic(fmt.Sprintf("agent: the run's environment cannot be made again: %v", err))
	}
	model := r.model.Averaged()
	plan, err := newPlanner(r.cfg, env.ActionSpace(), model)
	if err != nil {
		panic(fmt.Sprintf("agent: the run's planner cannot be made again: %v", err))
	}
	obs := NewObserver(r.spec)
	rng := rand.New(rand.NewPCG(firstSeed, streamEval))
	succ, hasGoal := env.Simulator().(envs.Successor)
	var sum, sumSq, wins, length float64
	for ep := 0; ep < episodes; ep++ {
		obs.Reset(env.Reset(firstSeed + uint64(ep)))
		plan.Reset()
		ret := 0.0
		for t := 0; ; t++ {
			if hook != nil {
				hook(ep, t, env)
			}
			a := plan.Plan(obs.Encode(model), rng)
			o, rew, term, trunc := env.Step(a)
			obs.Push(o)
			ret += rew
			length++
			if term || trunc {
				if hasGoal && succ.Success() {
					wins++
				}
				break
			}
		}
		sum += ret
		sumSq += ret * ret
	}
	n := float64(episodes)
	mean := sum / n
	half := 0.0
	if episodes > 1 {
		sd := math.Sqrt(math.Max(0, (sumSq-n*mean*mean)/(n-1)))
		half = 1.96 * sd / math.Sqrt(n)
	}
	ev := Eval{Episodes: episodes, Return: mean, ReturnLo: mean - half, ReturnHi: mean + half, Length: length / n, HasGoal: hasGoal}
	if hasGoal {
		ev.Success = wins / n
	}
	return ev
}
