package main

import (
	"context"
	"errors"
	"fmt"
	"github.com/dreamrl/dream/envs"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/dreamrl/dream/agent"
	"github.com/dreamrl/dream/envs/registry"
	"github.com/dreamrl/dream/planner"
	"github.com/dreamrl/dream/worldmodel"
)

type trainOptions struct {
	out      io.Writer
	flags    *pflag.FlagSet
	env      string
	mapFile  string
	obs      string
	dynamics string
	steps    int
	seed     uint64
	runDir   string
	preset   string
	config   string
	resume   bool
	plan     plannerFlags
	gym      gymFlags
	now      func() time.Time
}

func newTrainCmd(runF func(context.Context, *trainOptions) error) *cobra.Command {
	opts := &trainOptions{now: time.Now}
	cmd := &cobra.Command{
		Use:   "train",
		Short: "Train an agent (default: Gaussian dynamics on gridworld/frozenlake-4x4)",
		Long: `Train a world-model agent. Without flags it trains the default agent on
gridworld/frozenlake-4x4 from 32x32 pixels with Gaussian latent dynamics, in a
new run directory under runs/. Settings come from the preset, then the config
file (--config, YAML or JSON), then the flags. Ctrl-C writes a checkpoint; run
again with --resume --run-dir DIR to continue.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.out = cmd.OutOrStdout()
			opts.flags = cmd.Flags()
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runTrain(cmd.Context(), opts)
		},
	}
	f := cmd.Flags()
	addConfigFlags(f, opts)
	f.StringVar(&opts.runDir, "run-dir", "", "run directory (default: a new one under runs/)")
	f.BoolVar(&opts.resume, "resume", false, "continue the run in --run-dir from its latest checkpoint")
	return cmd
}

// addConfigFlags adds the flags that resolveTrainConfig reads, which
// `dream train` and `dream config` share.
func addConfigFlags(f *pflag.FlagSet, opts *trainOptions) {
	f.StringVar(&opts.env, "env", "", "environment (see `dream envs`; default gridworld/frozenlake-4x4)")
	f.StringVar(&opts.mapFile, "map", "", "map file, with --env gridworld")
	f.StringVar(&opts.obs, "obs", "", "observations: pixels (default) or state")
	f.StringVar(&opts.dynamics, "dynamics", "", "latent dynamics: gaussian (default), deterministic or mixture")
	f.IntVar(&opts.steps, "steps", 0, "total environment steps (default: the environment's budget)")
	f.Uint64Var(&opts.seed, "seed", 0, "seed of every random stream of the run")
	f.StringVar(&opts.preset, "preset", "default", "preset: default or debug (tiny, seconds)")
	f.StringVar(&opts.config, "config", "", "config file (YAML or JSON); flags override it")
	f.StringVar(&opts.plan.method, "planner", "", "planner: cem (default), mppi or rollout (discrete actions)")
	f.IntVar(&opts.plan.samples, "samples", 0, "futures sampled per candidate (K)")
	f.IntVar(&opts.plan.horizon, "horizon", 0, "planning horizon (H)")
	f.Float64Var(&opts.plan.lambda, "lambda", 0, "TD(λ) weight of a plan's h-step returns, 0 < λ ≤ 1 (default 1: the H-step return)")
	f.StringVar(&opts.plan.risk, "risk", "", "risk measure over the K futures and the return past the horizon: mean, cvar:ALPHA or quantile:Q (a risk other than mean learns 16 quantiles of the return unless model.q_quantiles says otherwise)")
	f.StringVar(&opts.plan.planWith, "plan-with", "", "plan on: samples (default), mean or components")
	addGymFlags(f, &opts.gym)
}

// resolveTrainConfig builds a run config from the preset, the config file
// and the flags that were set.
func resolveTrainConfig(opts *trainOptions) (agent.Config, error) {
	cfg, err := agent.Preset(opts.preset)
	if err != nil {
		return cfg, fmt.Errorf("--preset %q is not valid (allowed: default, debug)", opts.preset)
	}
	if opts.config != "" {
		if cfg, err = agent.LoadConfigFile(opts.config, cfg); err != nil {
			return cfg, err
		}
	}
	set := func(name string) bool { return opts.flags != nil && opts.flags.Changed(name) }
	if set("env") {
		if _, err := registry.Lookup(opts.env); err != nil {
			return cfg, fmt.Errorf("--env %q is not valid (allowed: %s)", opts.env, knownEnvs())
		}
		cfg.Env = opts.env
	}
	if set("map") {
		cfg.Map = opts.mapFile
		if !set("env") && opts.config == "" {
			cfg.Env = "gridworld"
		}
		if cfg.Env != "gridworld" {
			return cfg, fmt.Errorf("--map applies only to --env gridworld, not %q (allowed: --env gridworld --map FILE)", cfg.Env)
		}
	}
	if err := opts.gym.apply(set, cfg.WithDefaults().Env, &cfg.Python, &cfg.GymKwargs); err != nil {
		return cfg, err
	}
	if set("obs") {
		if opts.obs != "pixels" && opts.obs != "state" {
			return cfg, fmt.Errorf("--obs %q is not valid (allowed: pixels, state)", opts.obs)
		}
		cfg.Obs = opts.obs
	}
	if set("dynamics") {
		switch opts.dynamics {
		case worldmodel.DynamicsGaussian, worldmodel.DynamicsDeterministic, worldmodel.DynamicsMixture:
		default:
			return cfg, fmt.Errorf("--dynamics %q is not valid (allowed: gaussian, deterministic, mixture)", opts.dynamics)
		}
		cfg.Model.Dynamics = opts.dynamics
	}
	if set("steps") {
		if opts.steps < 1 {
			return cfg, fmt.Errorf("--steps %d is not valid (allowed: a positive number of environment steps)", opts.steps)
		}
		cfg.Steps = opts.steps
	}
	if set("seed") {
		cfg.Seed = opts.seed
	}
	if _, err := opts.plan.apply(set, &cfg.Planner, &cfg.PlanWith); err != nil {
		return cfg, err
	}
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return cfg, err
	}
	return cfg, nil
}

// plannerFlags are the values of the flags that choose how to plan:
// --planner, --samples, --horizon, --lambda, --risk and --plan-with, and
// eval's --candidates, --iterations and --noise.
type plannerFlags struct {
	method, risk, planWith, noise       string
	samples, horizon, cands, iterations int
	lambda                              float64
}

// apply checks the flags that set reports as given and writes them over
// pc and planWith; it reports whether any was given.
func (p plannerFlags) apply(set func(string) bool, pc *planner.Config, planWith *string) (bool, error) {
	changed := false
	if set("planner") {
		if p.method != "cem" && p.method != "mppi" && p.method != "rollout" {
			return false, fmt.Errorf("--planner %q is not valid (allowed: cem, mppi, rollout)", p.method)
		}
		pc.Method, changed = planner.Method(p.method), true
	}
	for _, f := range []struct {
		name    string
		v, hi   int
		setting *int
	}{
		{"samples", p.samples, 1024, &pc.Samples},
		{"horizon", p.horizon, 256, &pc.Horizon},
		{"candidates", p.cands, 4096, &pc.Candidates},
		{"iterations", p.iterations, 64, &pc.Iterations},
	} {
		if !set(f.name) {
			continue
		}
		if f.v < 1 || f.v > f.hi {
			return false, fmt.Errorf("--%s %d is not valid (allowed: 1 to %d)", f.name, f.v, f.hi)
		}
		*f.setting, changed = f.v, true
	}
	if set("lambda") {
		if !(p.lambda > 0 && p.lambda <= 1) {
			return false, fmt.Errorf("--lambda %g is not valid (allowed: 0 < λ ≤ 1)", p.lambda)
		}
		pc.Lambda, changed = p.lambda, true
	}
	if set("risk") {
		r, err := planner.ParseRisk(p.risk)
		if err != nil {
			return false, fmt.Errorf("--risk: %v", err)
		}
		pc.Risk, changed = r, true
	}
	if set("noise") {
		if p.noise != planner.NoiseIndependent && p.noise != planner.NoiseCommon {
			return false, fmt.Errorf("--noise %q is not valid (allowed: independent, common)", p.noise)
		}
		pc.Noise, changed = p.noise, true
	}
	if set("plan-with") {
		if err := checkPlanWith(p.planWith); err != nil {
			return false, err
		}
		*planWith, changed = p.planWith, true
	}
	return changed, nil
}

// checkPlanWith checks the value of a --plan-with flag.
func checkPlanWith(v string) error {
	switch v {
	case agent.PlanSamples, agent.PlanMean, agent.PlanComponents:
		return nil
	}
	return fmt.Errorf("--plan-with %q is not valid (allowed: samples, mean, components)", v)
}

// defaultRunDir names a new run directory under runs/.
func defaultRunDir(cfg agent.Config, now time.Time) string {
	env := envDirName(cfg.Env)
	return filepath.Join("runs", fmt.Sprintf("%s-%s-s%d-%s", env, cfg.Model.Dynamics, cfg.Seed, now.Format("20060102-150405")))
}

func runTrain(ctx context.Context, opts *trainOptions) error {
	var run *agent.Run
	var err error
	if opts.resume {
		if opts.runDir == "" {
			return fmt.Errorf("--resume needs --run-dir: the run directory to continue")
		}
		if err := runDirFlag(opts.runDir); err != nil {
			return err
		}
		for _, name := range []string{"env", "map", "obs", "dynamics", "seed", "preset", "config", "planner", "samples", "horizon", "risk", "plan-with", "python", "gym-kwargs"} {
			if opts.flags != nil && opts.flags.Changed(name) {
				return fmt.Errorf("--%s cannot be changed when resuming (allowed with --resume: --run-dir, --steps)", name)
			}
		}
		if run, err = agent.Open(opts.runDir); err != nil {
			return err
		}
		if opts.flags != nil && opts.flags.Changed("steps") {
			if opts.steps < 1 {
				return fmt.Errorf("--steps %d is not valid (allowed: a positive number of environment steps)", opts.steps)
			}
			if err := run.SetSteps(opts.steps); err != nil {
				return fmt.Errorf("--steps: %w", err)
			}
		}
		fmt.Fprintf(opts.out, "resuming %s at step %d of %d\n", opts.runDir, run.EnvSteps(), run.Config().Steps)
	} else {
		cfg, err := resolveTrainConfig(opts)
		if err != nil {
			return err
		}
		dir := opts.runDir
		if dir == "" {
			dir = defaultRunDir(cfg, opts.now())
		}
		if run, err = agent.New(cfg, dir); err != nil {
			return err
		}
		opts.runDir = dir
		c := run.Config()
		obs := "pixel"
		if c.Obs == string(envs.ObsState) {
			obs = "state"
		}
		fmt.Fprintf(opts.out, "training %s (%s dynamics, %s observations) for %d steps in %s\n", c.Env, c.Model.Dynamics, obs, c.Steps, dir)
	}
	defer run.Close()
	bar := newProgress(opts.out)
	run.Progress = bar.update
	err = run.Train(ctx)
	bar.finish()
	if errors.Is(err, agent.ErrInterrupted) {
		fmt.Fprintf(opts.out, "interrupted at step %d; checkpoint written. Continue with: dream train --resume --run-dir %s\n", run.EnvSteps(), opts.runDir)
		return err
	}
	if err != nil {
		return err
	}
	ev := run.LastEval()
	fmt.Fprintf(opts.out, "done: %d steps; last evaluation: return %.3f [%.3f, %.3f]", run.EnvSteps(), ev.Return, ev.ReturnLo, ev.ReturnHi)
	if ev.HasGoal {
		fmt.Fprintf(opts.out, ", success %s", successText(ev))
	}
	fmt.Fprintf(opts.out, "\nrun directory: %s\n", opts.runDir)
	return nil
}

// successText formats an evaluation's success rate with its 95% Wilson
// interval, such as "0.90 [0.70, 0.97]".
func successText(ev agent.Eval) string {
	return fmt.Sprintf("%.2f [%.2f, %.2f]", ev.Success, ev.SuccessLo, ev.SuccessHi)
}

// progress draws a progress bar on a terminal and plain lines otherwise.
type progress struct {
	out  io.Writer
	tty  bool
	last int
}

func newProgress(out io.Writer) *progress {
	return &progress{out: out, tty: isTerminal(out)}
}

// isTerminal tells whether out is a terminal, where a progress line can
// be redrawn in place.
func isTerminal(out io.Writer) bool {
	f, ok := out.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

func (p *progress) update(s agent.Status) {
	if !p.tty && !s.Log {
		return
	}
	eta := "-"
	if s.StepsPerSecond > 0 {
		eta = (time.Duration(float64(s.TotalSteps-s.EnvSteps)/s.StepsPerSecond) * time.Second).Round(time.Second).String()
	}
	ev := "no evaluation yet"
	if s.LastEval.Episodes > 0 {
		ev = fmt.Sprintf("eval@%d return %.3f", s.LastEval.Steps, s.LastEval.Return)
		if s.LastEval.HasGoal {
			ev += " success " + successText(s.LastEval)
		}
	}
	line := fmt.Sprintf("%d/%d steps  %.0f steps/s  ETA %s  %s", s.EnvSteps, s.TotalSteps, s.StepsPerSecond, eta, ev)
	if p.tty {
		fmt.Fprintf(p.out, "\r%s %s\x1b[K", progressBar(float64(s.EnvSteps)/float64(max(s.TotalSteps, 1))), line)
		p.last = len(line)
		return
	}
	fmt.Fprintln(p.out, line)
}

func (p *progress) finish() {
	if p.tty && p.last > 0 {
		fmt.Fprintln(p.out)
	}
}
