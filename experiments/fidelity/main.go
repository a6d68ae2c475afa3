// Command fidelity scores how close a trained run's imagined futures are
// to the true ones, h = 1 … H steps ahead, with the weights the agent acts
// with (the averaged ones where the model keeps them):
//
//	go run ./experiments/fidelity [flags] RUN_DIR [RUN_DIR...]
//
// # Gridworlds
//
// Every cell c an episode can reach from the start tile is encoded, as at
// the first step of an episode (every stacked slot holds its
// observation), into its real latent z_c; terminal cells (holes, goals)
// too. For each reachable non-terminal start cell s and each action
// sequence a_1 … a_h (all 4^h of them when there are at most --sequences,
// else --sequences drawn uniformly, the same for every run given --seed):
//
//	p(c)  = P(c_h = c | c_0 = s, a_1 … a_h)           the true distribution
//	q(c)  = (1/K) Σ_k 1[c_h^k = c]                    the imagined one
//	TV    = ½ Σ_c |p(c) − q(c)|
//
// p follows the map's true transitions (gridworld's Transitions, the model
// OptimalValues and PolicySuccess solve), terminal cells absorbing. q rolls
// the model K = --samples times from z_s, each step a draw
// ẑ_t ~ model(· | ẑ_{t−1}, a_t) (Step with sampling; the deterministic
// model's K rollouts share their latents), and reads each imagined latent
// as the cell of the nearest real latent, c_t^k = κ(ẑ_t^k) with
//
//	κ(ẑ) = argmin_c ‖ẑ − z_c‖²   over the reachable cells, terminal ones included.
//
// A rollout that ends keeps its cell from then on, as an ended episode
// does; --termination says when it ends: "sample" (default) ends it after
// step t with probability 1 − ĉ(ẑ_{t−1}, a_t), ĉ the continuation head's
// probability of continuing, drawn as a Bernoulli, which in expectation is the planner's own
// weighting of a future by Π ĉ; "threshold" ends it when ĉ < ½; "cell"
// ends it when it maps to a terminal cell, which scores the dynamics
// alone. At h = 1 they give the same distribution (up to the random
// stream the Bernoulli draws shift).
//
// The table gives, per h, the mean TV over the (start, sequence) pairs
// with its standard error; the floor, the mean expected TV of a perfect
// sampler of p with K draws (what finite K costs even an exact model);
// the mean TV over the pairs whose true distribution covers one cell, two,
// and three or more (at h = 1: moves without slip or wind noise, and
// moves whose noise leads to two or to three distinct cells, where a
// Gaussian, a mixture and a deterministic model should differ most); and
// the value error
//
//	|ΔV| imagined = mean over pairs of |E_p[V*(c_h)] − (1/K) Σ_k 1[k lives] V(ẑ_h^k)|
//	|ΔV| real     = mean over pairs of |E_p[V*(c_h)] − E_p[V(z_{c_h})]|
//
// with V* the optimal value (gridworld.OptimalValues at the run's
// discount, 0 on terminal cells), V the learned value and ended rollouts
// counting 0. The first is the error of the value an h-step plan
// bootstraps from (before the factor γ^h), dynamics and value together;
// the second is that error had the dynamics been exact, the value's own.
// The last column, the gap, is the mean distance from an imagined latent
// to its nearest real one, over the mean distance between neighbouring
// cells' latents: 0 when imagination stays on the encoder's manifold,
// about ½ when samples fall between cells.
//
// # Other environments
//
// A linear probe ŝ(z) (ridge regression, as experiments/probe fits it) is
// fitted from real latents to the state vector on --probe-episodes
// episodes of uniformly random actions. On --episodes further such
// episodes, up to --starts start steps t are drawn, K rollouts run from
// the real latent z_t under the actions the episode then took, and the
// probe of the rollouts' mean latent is compared with the true state
// s_{t+h} after the same actions from the same state (the episode's own
// continuation, so pendulum-gusty's gusts are one draw of its noise):
// RMSE per state element and h, beside the RMSE of each sample and of the
// probe at the real latent z_{t+h} (the probe's own error). nRMSE divides
// by each element's standard deviation and averages over the elements.
// Rollouts are compared only while the episode lasts.
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"image"
	"io"
	"math/rand/v2"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/dreamrl/dream/agent"
	"github.com/dreamrl/dream/envs"
	"github.com/dreamrl/dream/envs/gridworld"
	"github.com/dreamrl/dream/envs/registry"
	"github.com/dreamrl/dream/worldmodel"
)

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "fidelity:", err)
		}
		os.Exit(1)
	}
}

// options are the command's flags.
type options struct {
	grid          Options
	probe         ProbeOptions
	seed          uint64
	json          bool
	imagine       string // "samples" or "components"
	probeEpisodes int
	episodes      int
	ridge         float64
	planners      []plannerSpec
	draws         int
}

// Result is one run's score, as --json writes it.
type Result struct {
	Run      string  `json:"run"`
	Env      string  `json:"env"`
	Obs      string  `json:"obs"`
	Dynamics string  `json:"dynamics"`
	Discount float64 `json:"discount"`
	Seconds  float64 `json:"seconds"`
	// Samples, Sequences and Termination are the settings scored with.
	Samples     int    `json:"samples"`
	Imagine     string `json:"imagine"`
	Sequences   int    `json:"sequences,omitempty"`
	Termination string `json:"termination,omitempty"`
	// Gridworld holds a gridworld run's scores, one per h.
	Gridworld []GridScore `json:"gridworld,omitempty"`
	// Decisions grades two-step lookaheads against the one-step action
	// value at every cell of a gridworld run with an action value.
	Decisions []DecisionScore `json:"decisions,omitempty"`
	// Planners holds the exact success of each --planners entry's
	// stochastic policy on a gridworld run.
	Planners []PlannerScore `json:"planners,omitempty"`
	// Probe holds another run's probe scores, one per h, and the
	// standard deviation of each state element.
	Probe   []ProbeScore `json:"probe,omitempty"`
	StateSD []float64    `json:"state_sd,omitempty"`
}

func run(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("fidelity", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o options
	var term string
	fs.IntVar(&o.grid.Horizon, "horizon", 5, "score h = 1 … `H` steps ahead")
	fs.IntVar(&o.grid.Samples, "samples", 256, "imagined rollouts `K` per start and action sequence")
	fs.IntVar(&o.grid.Sequences, "sequences", 64, "action sequences per start cell and h: all when there are at most `N`, else N drawn")
	fs.StringVar(&term, "termination", "sample", "when an imagined rollout ends: sample (Bernoulli of the continuation head), threshold (ĉ < ½) or cell (on a terminal cell)")
	fs.Uint64Var(&o.seed, "seed", 1, "seed of the action sequences, start steps, episodes and rollouts")
	fs.BoolVar(&o.json, "json", false, "write JSON instead of a table")
	fs.StringVar(&o.imagine, "imagine", "samples", "how a step is imagined: samples (Step with sampling) or components (a drawn mixture component's mean, StepComponents; the mean for one component)")
	fs.IntVar(&o.probeEpisodes, "probe-episodes", 20, "random episodes the state probe is fitted on (non-gridworld runs)")
	fs.IntVar(&o.episodes, "episodes", 10, "random episodes the futures are scored on (non-gridworld runs)")
	fs.IntVar(&o.probe.Starts, "starts", 200, "most start steps scored (non-gridworld runs)")
	fs.Float64Var(&o.ridge, "ridge", 1e-3, "ridge λ of the state probe (non-gridworld runs)")
	var planners string
	fs.StringVar(&planners, "planners", "", "comma-separated planners METHOD:H:K[:snap] whose policies are scored exactly on a gridworld (snap: imagined latents snap to the nearest cell's latent)")
	fs.IntVar(&o.draws, "draws", 100, "decisions drawn per cell for --planners")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: fidelity [flags] RUN_DIR [RUN_DIR...]")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return errors.New("no run directory")
	}
	ps, err := parsePlanners(planners)
	if err != nil {
		return err
	}
	o.planners = ps
	t, err := parseTermination(term)
	if err != nil {
		return err
	}
	o.grid.Termination = t
	if o.imagine != "samples" && o.imagine != "components" {
		return fmt.Errorf("--imagine %q (allowed: samples, components)", o.imagine)
	}
	if o.grid.Horizon < 1 || o.grid.Samples < 1 || o.grid.Sequences < 1 || o.probe.Starts < 1 || o.probeEpisodes < 1 || o.episodes < 1 || o.ridge < 0 {
		return errors.New("--horizon, --samples, --sequences, --starts, --probe-episodes and --episodes must be at least 1, --ridge at least 0")
	}
	o.probe.Horizon, o.probe.Samples = o.grid.Horizon, o.grid.Samples
	var results []Result
	for _, dir := range fs.Args() {
		res, err := score(dir, o)
		if err != nil {
			return fmt.Errorf("%s: %w", dir, err)
		}
		results = append(results, res)
	}
	if o.json {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(results)
	}
	return writeTables(stdout, results)
}

// rollStream is the second PCG seed word of a run's scoring stream.
const rollStream = 0x666964656c697479

// score opens one run and scores it.
func score(dir string, o options) (Result, error) {
	begin := time.Now()
	r, err := agent.OpenTrained(dir)
	if err != nil {
		return Result{}, err
	}
	cfg := r.Config()
	m := r.Model().Averaged() // what the agent acts with
	env, err := registry.Make(cfg.Env, envs.Options{Obs: envs.ObsMode(cfg.Obs), Size: cfg.Size, MapFile: cfg.Map})
	if err != nil {
		return Result{}, err
	}
	res := Result{Run: dir, Env: cfg.Env, Obs: cfg.Obs, Dynamics: m.Config().Dynamics, Discount: m.Config().Discount, Samples: o.grid.Samples, Imagine: o.imagine}
	var im Model = m
	if o.imagine == "components" {
		im = componentModel{m}
	}
	rng := rand.New(rand.NewPCG(o.seed, rollStream))
	if g, ok := env.Simulator().(*gridworld.Env); ok {
		grid := gridOf(m, g)
		res.Sequences, res.Termination = o.grid.Sequences, string(o.grid.Termination)
		res.Gridworld = grid.Score(im, o.grid, rng)
		if m.HasActionValue() {
			res.Decisions = grid.Decisions(g, im, m, m.Config().Discount, o.grid.Samples, rng)
		}
		for _, ps := range o.planners {
			sc, err := grid.scorePlanner(g, im, m, m.Config().Discount, ps, o.draws, rng)
			if err != nil {
				return Result{}, err
			}
			res.Planners = append(res.Planners, sc)
		}
	} else {
		enc := &observerEncoder{obs: agent.NewObserver(m.Spec()), m: m}
		seeds := func(first uint64, n int) []uint64 {
			s := make([]uint64, n)
			for i := range s {
				s[i] = first + uint64(i)
			}
			return s
		}
		fit := Play(env, enc, m.LatentDim(), seeds(o.seed, o.probeEpisodes), rng)
		var zs []float32
		var ss []float64
		for _, ep := range fit {
			zs = append(zs, ep.Z...)
			ss = append(ss, ep.S...)
		}
		sdim := env.Simulator().VectorSpace().Dim()
		p, err := FitProbe(zs, ss, len(ss)/sdim, m.LatentDim(), sdim, o.ridge)
		if err != nil {
			return Result{}, err
		}
		eps := Play(env, enc, m.LatentDim(), seeds(o.seed+uint64(o.probeEpisodes), o.episodes), rng)
		res.Probe = ScoreProbe(im, p, eps, o.probe, rng)
		res.StateSD = stateSD(eps, sdim)
	}
	res.Seconds = time.Since(begin).Seconds()
	return res, nil
}

// gridOf encodes the reachable cells of a gridworld run as the run sees
// them at the first step of an episode.
func gridOf(m *worldmodel.Model, g *gridworld.Env) *Grid {
	spec := m.Spec()
	var o envs.Observation
	if spec.Pixels() {
		o.Frame = image.NewRGBA(image.Rect(0, 0, spec.Frame[1], spec.Frame[0]))
	} else {
		o.Vector = make([]float64, g.VectorSpace().Dim())
	}
	obs := agent.NewObserver(spec)
	encode := func(z []float32, row, col int) {
		if err := g.SetState([]float64{float64(row), float64(col)}); err != nil {
			panic(err) // reachable cells are never walls
		}
		if o.Frame != nil {
			g.Render(o.Frame)
		} else {
			g.Vector(o.Vector)
		}
		obs.Reset(o)
		copy(z, obs.Encode(m))
	}
	return NewGrid(g, m.LatentDim(), encode, gridworld.OptimalValues(g, 1000, m.Config().Discount))
}

// observerEncoder encodes observations with a run's model and frame stack.
type observerEncoder struct {
	obs *agent.Observer
	m   *worldmodel.Model
}

func (e *observerEncoder) Reset(o envs.Observation) []float32 {
	e.obs.Reset(o)
	return e.obs.Encode(e.m)
}

func (e *observerEncoder) Push(o envs.Observation) []float32 {
	e.obs.Push(o)
	return e.obs.Encode(e.m)
}

// writeTables prints the gridworld runs' table, then the others'.
func writeTables(w io.Writer, results []Result) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	grid, other := false, false
	for _, r := range results {
		grid = grid || r.Gridworld != nil
		other = other || r.Probe != nil
	}
	if grid {
		fmt.Fprintln(tw, "run\tdynamics\th\tpairs\tTV\t± se\tfloor\tTV 1 outcome (n)\tTV 2 (n)\tTV 3+ (n)\t|ΔV| imagined\t|ΔV| real\tV̄ − V*\tgap\t")
		for _, r := range results {
			for _, s := range r.Gridworld {
				fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%.3f\t%.3f\t%.3f\t%s\t%s\t%s\t%.3f\t%.3f\t%+.3f\t%.3f\t\n",
					r.Run, r.Dynamics, s.H, s.Pairs, s.TV, s.TVSE, s.Floor,
					group(s.ByOutcomes[0]), group(s.ByOutcomes[1]), group(s.ByOutcomes[2]),
					s.ValueError, s.ValueErrorReal, s.ValueBias, s.Gap)
			}
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	planned := false
	for _, r := range results {
		planned = planned || r.Planners != nil
	}
	if planned {
		fmt.Fprintln(w)
		fmt.Fprintln(tw, "run\tdynamics\tplanner\toptimal draws\texact success\t")
		for _, r := range results {
			for _, s := range r.Planners {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%.3f\t%.3f\t\n", r.Run, r.Dynamics, s.Planner, s.Optimal, s.Success)
			}
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	decided := false
	for _, r := range results {
		decided = decided || r.Decisions != nil
	}
	if decided {
		fmt.Fprintln(w)
		fmt.Fprintln(tw, "run\tdynamics\tscorer\toptimal\tregret\tsuccess\t")
		for _, r := range results {
			for _, s := range r.Decisions {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%.3f\t%.4f\t%.3f\t\n", r.Run, r.Dynamics, s.Scorer, s.Optimal, s.Regret, s.Success)
			}
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	if other {
		if grid {
			fmt.Fprintln(w)
		}
		fmt.Fprintln(tw, "run\tdynamics\th\tpairs\tnRMSE mean\tnRMSE samples\tnRMSE real\tRMSE mean (per element)\tRMSE real (per element)\t")
		for _, r := range results {
			for _, s := range r.Probe {
				fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%.3f\t%.3f\t%.3f\t%s\t%s\t\n", r.Run, r.Dynamics, s.H, s.Pairs,
					s.NRMSE, s.SampleNRMSE, s.RealNRMSE, floats(s.RMSE), floats(s.RealRMSE))
			}
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	for _, r := range results {
		how := fmt.Sprintf("K = %d", r.Samples)
		if r.Gridworld != nil {
			how += fmt.Sprintf(", %d sequences, termination %s", r.Sequences, r.Termination)
		}
		fmt.Fprintf(w, "%s: %s (%s, %s dynamics, γ = %g), %s, scored in %.1f s\n", r.Run, r.Env, r.Obs, r.Dynamics, r.Discount, how, r.Seconds)
	}
	return nil
}

// group formats a group's mean TV and size, or a dash when it is empty.
func group(g Group) string {
	if g.Pairs == 0 {
		return "–"
	}
	return fmt.Sprintf("%.3f (%d)", g.TV, g.Pairs)
}

// floats formats a vector compactly.
func floats(x []float64) string {
	s := make([]string, len(x))
	for i, v := range x {
		s[i] = fmt.Sprintf("%.3g", v)
	}
	return strings.Join(s, " ")
}

// componentModel imagines each sampled step as a drawn mixture
// component's mean (worldmodel.Model.StepComponents), as the planner does
// with plan_with components.
type componentModel struct{ *worldmodel.Model }

func (c componentModel) Step(next, reward, cont, z, a []float32, rows int, sample bool, rng *rand.Rand) {
	if !sample {
		c.Model.Step(next, reward, cont, z, a, rows, false, rng)
		return
	}
	c.Model.StepComponents(next, reward, cont, z, a, rows, rng)
}
