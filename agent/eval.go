package agent

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/dreamrl/dream/envs"
	"github.com/dreamrl/dream/planner"
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
	// Success is the share of episodes that reached a goal, when HasGoal;
	// SuccessLo and SuccessHi bound its 95% Wilson score interval
	// (WilsonInterval), which stays inside [0, 1].
	Success   float64 `json:"success"`
	SuccessLo float64 `json:"success_lo"`
	SuccessHi float64 `json:"success_hi"`
	HasGoal   bool    `json:"has_goal"`
	// Length is the mean episode length.
	Length float64 `json:"length"`
	// Worst10 is the mean of the lowest tenth of the episodes' returns,
	// the empirical CVaR at 10 % that the planner's cvar:0.1 measures
	// (planner.Risk.Aggregate; with fewer than ten episodes, the lowest
	// return).
	Worst10 float64 `json:"worst_10pct"`
}

// z95 is the standard normal quantile Φ⁻¹(0.975): a mean ± z95 standard
// errors is a 95% interval.
const z95 = 1.96

// WilsonInterval returns the 95% Wilson score interval of a success rate
// from successes of n trials (Wilson 1927, "Probable inference, the law
// of succession, and statistical inference", JASA 22(158)):
//
//	lo, hi = (p̂ + z²/(2n) ∓ z·√(p̂(1−p̂)/n + z²/(4n²))) / (1 + z²/n)
//
// where p̂ = successes/n is the observed rate and z = 1.96 the standard
// normal quantile of 0.975. Unlike the normal interval p̂ ± z·√(p̂(1−p̂)/n)
// it stays inside [0, 1] and does not shrink to a point at p̂ = 0 or 1:
// lo is 0 exactly when successes = 0 and hi is 1 exactly when
// successes = n. With n = 0 nothing is known and the interval is [0, 1].
// It panics unless 0 ≤ successes ≤ n.
func WilsonInterval(successes, n int) (lo, hi float64) {
	if successes < 0 || successes > n {
		panic(fmt.Sprintf("agent: WilsonInterval of %d successes in %d trials", successes, n))
	}
	if n == 0 {
		return 0, 1
	}
	nf := float64(n)
	p := float64(successes) / nf
	z2 := z95 * z95
	denom := 1 + z2/nf
	center := (p + z2/(2*nf)) / denom
	half := z95 * math.Sqrt(p*(1-p)/nf+z2/(4*nf*nf)) / denom
	lo, hi = math.Max(0, center-half), math.Min(1, center+half)
	if successes == 0 {
		lo = 0
	}
	if successes == n {
		hi = 1
	}
	return lo, hi
}

// UnmarshalJSON reads an Eval. One written before Eval carried the
// success interval (a checkpoint of an older version) gets the interval
// of its success rate over its episodes.
func (e *Eval) UnmarshalJSON(data []byte) error {
	type plain Eval // without this method
	var p plain
	if err := json.Unmarshal(data, &p); err != nil {
		return err
	}
	*e = Eval(p)
	// For n ≥ 1 the upper end is above 0, so [0, 0] means "not written".
	if e.HasGoal && e.Episodes > 0 && e.SuccessLo == 0 && e.SuccessHi == 0 {
		wins := int(math.Round(e.Success * float64(e.Episodes)))
		e.SuccessLo, e.SuccessHi = WilsonInterval(min(max(wins, 0), e.Episodes), e.Episodes)
	}
	return nil
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
// run. An environment that fails panics through it with its
// *envs.Failure (Train recovers it).
func (r *Run) Evaluate(episodes int, firstSeed uint64, hook EpisodeHook) Eval {
	ev, _ := r.evaluate(context.Background(), episodes, firstSeed, hook)
	return ev
}

// EvaluateContext is Evaluate that stops between episodes once ctx is
// done, returning an error wrapping ErrInterrupted (and the zero Eval).
// An environment that fails is an error too.
func (r *Run) EvaluateContext(ctx context.Context, episodes int, firstSeed uint64, hook EpisodeHook) (ev Eval, err error) {
	defer envs.RecoverFailure(&err)
	return r.evaluate(ctx, episodes, firstSeed, hook)
}

func (r *Run) evaluate(ctx context.Context, episodes int, firstSeed uint64, hook EpisodeHook) (Eval, error) {
	env, err := r.makeEnv()
	if err != nil {
		panic(fmt.Sprintf("agent: the run's environment cannot be made again: %v", err))
	}
	defer envs.Close(env)
	model := r.model.Averaged()
	cfg := r.cfg
	if r.evalPlan != nil {
		cfg.Planner, cfg.PlanWith = r.evalPlan.Planner, r.evalPlan.PlanWith
	}
	if r.evalSnap != nil {
		cfg.SnapLatents = *r.evalSnap
	}
	book := replayLatents(model, r.spec, r.buf, cfg.SnapLatents, rand.New(rand.NewPCG(firstSeed, streamSnap)))
	plan, err := newPlanner(cfg, env.ActionSpace(), model, book)
	if err != nil {
		panic(fmt.Sprintf("agent: the run's planner cannot be made again: %v", err))
	}
	obs := NewObserver(r.spec)
	rng := rand.New(rand.NewPCG(firstSeed, streamEval))
	succ, hasGoal := env.Simulator().(envs.Successor)
	var sum, sumSq, length float64
	returns := make([]float64, 0, episodes)
	wins := 0
	for ep := 0; ep < episodes; ep++ {
		if ctx.Err() != nil {
			return Eval{}, fmt.Errorf("%w: evaluation stopped after %d of %d episodes", ErrInterrupted, ep, episodes)
		}
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
		returns = append(returns, ret)
	}
	n := float64(episodes)
	mean := sum / n
	half := 0.0
	if episodes > 1 {
		sd := math.Sqrt(math.Max(0, (sumSq-n*mean*mean)/(n-1)))
		half = z95 * sd / math.Sqrt(n)
	}
	ev := Eval{Episodes: episodes, Return: mean, ReturnLo: mean - half, ReturnHi: mean + half, Length: length / n, HasGoal: hasGoal}
	if episodes > 0 {
		ev.Worst10 = planner.Risk{Kind: planner.RiskCVaR, Level: 0.1}.Aggregate(returns)
	}
	if hasGoal {
		ev.Success = float64(wins) / n
		ev.SuccessLo, ev.SuccessHi = WilsonInterval(wins, episodes)
	}
	return ev, nil
}

// SetEvalPlanner makes Evaluate plan with p and planWith (zero values:
// the run's own) instead of the run's planner, in this process only:
// config.json and training keep the planner the run was configured with.
// It answers what a trained model does under another horizon, number of
// samples, risk measure or way of imagining, without training again. The
// error wraps ErrConfig and names the setting that cannot be used.
func (r *Run) SetEvalPlanner(p planner.Config, planWith string) error {
	c := r.cfg
	c.Planner, c.PlanWith = p, planWith
	c = c.WithDefaultsIn(r.reg)
	if err := c.Planner.Validate(); err != nil {
		return fmt.Errorf("%w: planner: %v", ErrConfig, err)
	}
	if err := c.ValidateIn(r.reg); err != nil {
		return err
	}
	if _, err := newPlanner(c, r.env.ActionSpace(), r.model, nil); err != nil {
		return err
	}
	r.evalPlan = &evalPlan{Planner: c.Planner, PlanWith: c.PlanWith}
	return nil
}

// SetEvalSnapLatents makes Evaluate snap imagined latents to the nearest
// of n latents encoded from the replay buffer (0: none) instead of the
// run's snap_latents, in this process only.
func (r *Run) SetEvalSnapLatents(n int) error {
	c := r.cfg
	c.SnapLatents = n
	if err := c.Validate(); err != nil {
		return err
	}
	r.evalSnap = &n
	return nil
}

// evalPlan is the planner Evaluate acts with when SetEvalPlanner set one.
type evalPlan struct {
	Planner  planner.Config
	PlanWith string
}
