package main

import (
	"context"
	"fmt"
	"io"
	"math"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/dreamrl/dream/agent"
	"github.com/dreamrl/dream/agent/compare"
	"github.com/dreamrl/dream/envs/registry"
	"github.com/dreamrl/dream/worldmodel"
)

type compareOptions struct {
	out         io.Writer
	flags       *pflag.FlagSet
	args        []string
	env         string
	mapFile     string
	obs         string
	dynamics    string
	vary        []string
	seeds       int
	steps       int
	outDir      string
	parallel    int
	preset      string
	config      string
	threshold   float64
	shard       string
	plan        plannerFlags // --risk and --plan-with
	gym         gymFlags
	merge       bool
	calEpisodes int
	statusEvery time.Duration
}

func newCompareCmd(runF func(context.Context, *compareOptions) error) *cobra.Command {
	opts := &compareOptions{}
	cmd := &cobra.Command{
		Use:   "compare --env NAME [flags] | compare --merge DIR... --out DIR",
		Short: "Compare latent dynamics (default: gaussian against deterministic), or any config values, on sample efficiency",
		Long: `Train each latent dynamics on the same seeds 0…N−1 with everything else
identical, and compare their learning curves. Under --out it writes one run
directory per (dynamics, seed), such as gaussian-s0, and then curves.csv,
curves.png, summary.md and summary.json: per dynamics the final return, the
area under the curve (the mean return over training), the steps to reach a
threshold, and the world model's held-out calibration; per pair of dynamics
Welch's t-test and a bootstrap interval of the difference in AUC.

--vary KEY=V1,V2,… (repeatable) compares config values as well, such as
--vary planner.horizon=1,3,5 or --vary model.frame_stack=1,3 (any key of a
config file but seed, model.dynamics, env and map; dream config lists them).
Every combination of the values is a variant, and every variant runs every
dynamics on every seed: each (variant, dynamics) is an arm of the
comparison, with run directories such as planner.horizon=3_gaussian-s0. A
variant is labelled by the keys in which the variants' resolved configs
differ, defaults that follow a varied key included (--vary steps=… also
varies explore_steps), each with its value as the config holds it.

Settings come from the preset, then the config file (--config), then the
flags, then --vary; every run shares them except its variant, dynamics and
seed. Rerunning with the same --out skips finished runs and resumes
interrupted ones (Ctrl-C writes a checkpoint in every run in progress); a
run directory whose config differs from the requested one is an error,
never overwritten.

While it trains it prints a line per run started and finished (its final
evaluation return and success rate with 95% intervals, and its wall time),
and a status line: the runs done and running, the environment steps per
second of all runs together and the ETA of the sweep. A terminal redraws
the status line every 2s; other output gets it every --status-every.

The threshold defaults to best − 0.1·|best| of the final mean returns: 90% of
the best for positive returns, 10% of |best| below it for negative ones.

Sharding: --shard i/n runs job k of the sorted grid (variant, then dynamics
by name, then seed) when k mod n = i and writes only its run directories.
Merge the shards with dream compare --merge DIR... --out DIR, which builds
the report from the finished runs it finds (the same report as an unsharded
run; the variants are the keys in which their configs differ). With Slurm:
  #SBATCH --array=0-3
  dream compare ... --out cmp-$SLURM_ARRAY_TASK_ID --shard $SLURM_ARRAY_TASK_ID/$SLURM_ARRAY_TASK_COUNT
and with a Kubernetes Indexed Job of 4 completions: --shard $JOB_COMPLETION_INDEX/4.`,
		Example: `  dream compare --env physics/cartpole --seeds 5 --parallel 2
  dream compare --env gridworld/frozenlake-4x4 --preset debug --seeds 2 --out runs/cmp-debug
  dream compare --env physics/cartpole --dynamics gaussian --vary planner.horizon=1,3,5 --out runs/cmp-horizon
  dream compare --merge runs/cmp-0 runs/cmp-1 --out runs/cmp`,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.out = cmd.OutOrStdout()
			opts.flags = cmd.Flags()
			opts.args = args
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runCompare(cmd.Context(), opts)
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.env, "env", "", "environment (see `dream envs`; default gridworld/frozenlake-4x4)")
	f.StringVar(&opts.mapFile, "map", "", "map file, with --env gridworld")
	f.StringVar(&opts.obs, "obs", "", "observations: pixels (default) or state")
	f.StringVar(&opts.dynamics, "dynamics", "gaussian,deterministic", "comma-separated latent dynamics to compare")
	f.StringArrayVar(&opts.vary, "vary", nil, "config values to compare too, as KEY=V1,V2,… such as planner.horizon=1,3,5 (repeatable: every combination is a variant)")
	f.IntVar(&opts.seeds, "seeds", 5, "number of seeds: each dynamics runs seeds 0…N−1")
	f.IntVar(&opts.steps, "steps", 0, "environment steps per run (default: the environment's budget)")
	f.StringVar(&opts.outDir, "out", "", "output directory (default runs/compare-ENV)")
	f.IntVar(&opts.parallel, "parallel", 1, "runs trained at a time")
	f.StringVar(&opts.preset, "preset", "default", "preset: default or debug (tiny, seconds)")
	f.StringVar(&opts.config, "config", "", "config file (YAML or JSON) shared by every run; flags override it")
	f.Float64Var(&opts.threshold, "threshold", 0, "return to reach for steps-to-threshold (default best − 0.1·|best| of the final means)")
	f.StringVar(&opts.shard, "shard", "", "run only part i of n of the grid, as i/n (0 ≤ i < n)")
	f.StringVar(&opts.plan.risk, "risk", "", "risk measure over the K futures and the return past the horizon: mean, cvar:ALPHA or quantile:Q (a risk other than mean learns 16 quantiles of the return unless model.q_quantiles says otherwise)")
	f.StringVar(&opts.plan.planWith, "plan-with", "", "plan on: samples (default), mean or components")
	f.BoolVar(&opts.merge, "merge", false, "build the report from the finished runs in the directories given as arguments")
	f.IntVar(&opts.calEpisodes, "calibration-episodes", 10, "held-out episodes per run for the world model's calibration")
	f.DurationVar(&opts.statusEvery, "status-every", 30*time.Second, "period of the status line when the output is not a terminal (a terminal redraws it every 2s)")
	addGymFlags(f, &opts.gym)
	return cmd
}

// compareAnalysis builds the analysis options from the flags.
func compareAnalysis(opts *compareOptions) (compare.Analysis, error) {
	a := compare.Analysis{CalibrationEpisodes: opts.calEpisodes}
	if opts.flags != nil && opts.flags.Changed("threshold") {
		if math.IsNaN(opts.threshold) || math.IsInf(opts.threshold, 0) {
			return a, fmt.Errorf("--threshold %g is not valid (allowed: a finite return)", opts.threshold)
		}
		t := opts.threshold
		a.Threshold = &t
	}
	if opts.calEpisodes < 1 || opts.calEpisodes > 10000 {
		return a, fmt.Errorf("--calibration-episodes %d is not valid (allowed: 1 to 10000)", opts.calEpisodes)
	}
	return a, nil
}

// compareBaseConfig builds the config every run shares from the preset,
// the config file and the flags, before defaults are filled in (so that
// a default that derives from a varied key follows it).
func compareBaseConfig(opts *compareOptions) (agent.Config, error) {
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
	}
	if set("obs") {
		if opts.obs != "pixels" && opts.obs != "state" {
			return cfg, fmt.Errorf("--obs %q is not valid (allowed: pixels, state)", opts.obs)
		}
		cfg.Obs = opts.obs
	}
	if set("steps") {
		if opts.steps < 1 {
			return cfg, fmt.Errorf("--steps %d is not valid (allowed: a positive number of environment steps)", opts.steps)
		}
		cfg.Steps = opts.steps
	}
	if _, err := opts.plan.apply(set, &cfg.Planner, &cfg.PlanWith); err != nil {
		return cfg, err
	}
	if err := opts.gym.apply(set, cfg.WithDefaults().Env, &cfg.Python, &cfg.GymKwargs); err != nil {
		return cfg, err
	}
	return cfg, nil
}

// parseVary parses the --vary flags and resolves their variants of base.
func parseVary(args []string, base agent.Config) ([]compare.Variant, error) {
	var vary []compare.Vary
	for _, arg := range args {
		v, err := compare.ParseVary(arg)
		if err != nil {
			return nil, fmt.Errorf("--vary %q is not valid: %s", arg, varyMessage(err))
		}
		vary = append(vary, v)
	}
	variants, err := compare.Variants(base, vary)
	if err != nil {
		return nil, fmt.Errorf("--vary: %s", varyMessage(err))
	}
	return variants, nil
}

// varyMessage is an error of package compare's --vary checks without its
// sentinels' prefixes.
func varyMessage(err error) string {
	msg := strings.TrimPrefix(err.Error(), compare.ErrVary.Error()+": ")
	return strings.TrimPrefix(msg, agent.ErrConfig.Error()+": ")
}

// parseDynamics splits the --dynamics list and checks every name.
func parseDynamics(list string) ([]string, error) {
	var out []string
	for _, d := range strings.Split(list, ",") {
		d = strings.TrimSpace(d)
		if d == "" {
			return nil, fmt.Errorf("--dynamics %q is not valid (allowed: a comma-separated list such as gaussian,deterministic)", list)
		}
		if err := (worldmodel.Config{Dynamics: d}).Validate(); err != nil {
			msg := strings.TrimPrefix(err.Error(), worldmodel.ErrConfig.Error()+": ")
			return nil, fmt.Errorf("--dynamics: %q is not valid: %s", d, msg)
		}
		out = append(out, d)
	}
	return out, nil
}

func runCompare(ctx context.Context, opts *compareOptions) error {
	analysis, err := compareAnalysis(opts)
	if err != nil {
		return err
	}
	if opts.merge {
		return runCompareMerge(opts, analysis)
	}
	if len(opts.args) > 0 {
		return fmt.Errorf("unexpected argument %q (directories are given only with --merge)", opts.args[0])
	}
	shard, err := compare.ParseShard(opts.shard)
	if err != nil {
		return fmt.Errorf("--shard %q is not valid (allowed: i/n with 0 ≤ i < n, such as 0/4)", opts.shard)
	}
	dynamics, err := parseDynamics(opts.dynamics)
	if err != nil {
		return err
	}
	if opts.seeds < 1 || opts.seeds > 1_000_000 {
		return fmt.Errorf("--seeds %d is not valid (allowed: 1 to 1000000)", opts.seeds)
	}
	if opts.parallel < 1 || opts.parallel > 1024 {
		return fmt.Errorf("--parallel %d is not valid (allowed: 1 to 1024)", opts.parallel)
	}
	if opts.statusEvery <= 0 {
		return fmt.Errorf("--status-every %v is not valid (allowed: a positive duration such as 30s)", opts.statusEvery)
	}
	base, err := compareBaseConfig(opts)
	if err != nil {
		return err
	}
	cfg := base.WithDefaults()
	variants, err := parseVary(opts.vary, base)
	if err != nil {
		return err
	}
	out := opts.outDir
	if out == "" {
		out = filepath.Join("runs", "compare-"+envDirName(cfg.Env))
	}
	sweep := compare.Sweep{Config: cfg, Variants: variants, Dynamics: dynamics, Seeds: opts.seeds, Out: out, Parallel: opts.parallel,
		Shard: shard, Analysis: analysis, Log: opts.out, StatusEvery: opts.statusEvery}
	if err := sweep.Validate(); err != nil {
		return err
	}
	jobs := sweep.Jobs()
	what := fmt.Sprintf("%d runs", len(jobs))
	if !shard.Whole() {
		what = fmt.Sprintf("shard %s: %d of %d runs", shard, len(jobs), len(sweep.Grid()))
	}
	seeds := "seed 0"
	if opts.seeds > 1 {
		seeds = fmt.Sprintf("seeds 0–%d", opts.seeds-1)
	}
	arms, steps := describeArms(cfg, variants, dynamics)
	fmt.Fprintf(opts.out, "comparing %s on %s: %s, %s steps per run, %s in %s, %d at a time\n",
		arms, cfg.Env, seeds, steps, what, out, opts.parallel)
	var live *liveLine
	if isTerminal(opts.out) {
		live = &liveLine{out: opts.out}
		sweep.Log = live
		sweep.StatusEvery = min(sweep.StatusEvery, redrawEvery)
		sweep.Status = func(p compare.Progress) { live.set(sweepLine(p)) }
	}
	sum, err := sweep.Run(ctx)
	if live != nil {
		live.finish()
	}
	if err != nil {
		return err
	}
	if sum != nil {
		printVerdicts(opts.out, sum, out)
	}
	return nil
}

// describeArms names the arms of a sweep, such as "gaussian,
// deterministic" or "planner.horizon=1, planner.horizon=3 × gaussian",
// and its steps per run, such as "2000" or "1000–2000".
func describeArms(cfg agent.Config, variants []compare.Variant, dynamics []string) (arms, steps string) {
	arms = strings.Join(dynamics, ", ")
	lo, hi := cfg.Steps, cfg.Steps
	var labels []string
	for i, v := range variants {
		if i == 0 {
			lo, hi = v.Config.Steps, v.Config.Steps
		}
		lo, hi = min(lo, v.Config.Steps), max(hi, v.Config.Steps)
		if v.Label != "" {
			labels = append(labels, v.Label)
		}
	}
	if len(labels) > 0 {
		arms = strings.Join(labels, ", ") + " × " + arms
	}
	steps = strconv.Itoa(lo)
	if hi > lo {
		steps += "–" + strconv.Itoa(hi)
	}
	return arms, steps
}

// redrawEvery is the period of the sweep line on a terminal.
const redrawEvery = 2 * time.Second

// sweepLine is the line a terminal redraws during a sweep: a bar of the
// steps trained and the counts, rate and ETA, such as
// "[#########...............] 1/4 runs done, 2 running, 1530 steps/s, ETA 1m5s".
func sweepLine(p compare.Progress) string {
	return progressBar(p.Fraction()) + " " + p.Line()
}

func runCompareMerge(opts *compareOptions, analysis compare.Analysis) error {
	for _, name := range []string{"env", "map", "obs", "dynamics", "vary", "seeds", "steps", "parallel", "preset", "config", "shard", "risk", "plan-with", "status-every", "python", "gym-kwargs"} {
		if opts.flags != nil && opts.flags.Changed(name) {
			return fmt.Errorf("--%s cannot be used with --merge (allowed with --merge: --out, --threshold, --calibration-episodes)", name)
		}
	}
	if len(opts.args) == 0 {
		return fmt.Errorf("--merge needs at least one directory of runs as an argument")
	}
	if opts.outDir == "" {
		return fmt.Errorf("--merge needs --out: the directory to write the report into")
	}
	if err := mergeDirs(opts.args); err != nil {
		return err
	}
	sum, err := compare.Merge(opts.args, opts.outDir, analysis, opts.out)
	if err != nil {
		return err
	}
	printVerdicts(opts.out, sum, opts.outDir)
	return nil
}

// printVerdicts prints the comparison's conclusions and where the report
// is.
func printVerdicts(w io.Writer, s *compare.Summary, dir string) {
	for _, d := range s.Arms {
		fmt.Fprintf(w, "%s: final return %.4g [%.4g, %.4g], AUC %.4g [%.4g, %.4g]\n", d.Name,
			d.FinalReturn.Mean, d.FinalReturn.Lo, d.FinalReturn.Hi, d.AUC.Mean, d.AUC.Lo, d.AUC.Hi)
	}
	for _, c := range s.Comparisons {
		fmt.Fprintln(w, c.Verdict(s.Alpha))
	}
	fmt.Fprintf(w, "report: %s, %s, %s, %s\n", filepath.Join(dir, compare.SummaryMD), filepath.Join(dir, compare.SummaryJSON),
		filepath.Join(dir, compare.CurvesCSV), filepath.Join(dir, compare.CurvesPNG))
}
