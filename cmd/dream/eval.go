package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/dreamrl/dream/agent"
	"github.com/dreamrl/dream/planner"
)

type evalOptions struct {
	out      io.Writer
	flags    *pflag.FlagSet
	runDir   string
	episodes int
	seed     uint64
	json     bool
	// plan is the planner to act with, where set, instead of the run's.
	plan plannerFlags
	snap int // snap_latents, where set, instead of the run's
}

func newEvalCmd(runF func(context.Context, *evalOptions) error) *cobra.Command {
	opts := &evalOptions{}
	cmd := &cobra.Command{
		Use:   "eval --run-dir DIR",
		Short: "Evaluate a trained agent from its latest checkpoint",
		Long: `Evaluate a trained agent from its latest checkpoint: episodes with the greedy
planner, the mean return with its 95% interval and, where the environment has
a goal, the success rate with its 95% Wilson interval.

--planner, --horizon, --samples, --candidates, --iterations, --noise, --lambda,
--risk and --plan-with make the evaluation plan otherwise than the run was trained to
(config.json is not changed): what the same trained model does with longer
plans, more sampled futures, a wider search or a risk measure.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.out = cmd.OutOrStdout()
			opts.flags = cmd.Flags()
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runEval(cmd.Context(), opts)
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.runDir, "run-dir", "", "run directory")
	f.IntVar(&opts.episodes, "episodes", 100, "number of episodes")
	f.Uint64Var(&opts.seed, "seed", 1_000_000, "seed of the first episode (episode i uses seed+i)")
	f.BoolVar(&opts.json, "json", false, "print JSON")
	f.StringVar(&opts.plan.method, "planner", "", "plan with: cem, mppi or rollout (default: the run's)")
	f.IntVar(&opts.plan.samples, "samples", 0, "futures sampled per candidate (default: the run's)")
	f.IntVar(&opts.plan.horizon, "horizon", 0, "planning horizon (default: the run's)")
	f.IntVar(&opts.plan.cands, "candidates", 0, "action sequences per planning iteration, N (default: the run's)")
	f.IntVar(&opts.plan.iterations, "iterations", 0, "planning iterations per decision, I (default: the run's)")
	f.StringVar(&opts.plan.noise, "noise", "", "noise of the candidates' sampled futures: independent or common (default: the run's)")
	f.Float64Var(&opts.plan.lambda, "lambda", 0, "TD(λ) weight of a plan's h-step returns, 0 < λ ≤ 1 (default: the run's)")
	f.StringVar(&opts.plan.risk, "risk", "", "risk measure over the futures: mean, cvar:ALPHA or quantile:Q (default: the run's)")
	f.StringVar(&opts.plan.planWith, "plan-with", "", "plan on: samples, mean or components (default: the run's)")
	f.IntVar(&opts.snap, "snap-latents", 0, "snap imagined latents to the nearest of N latents encoded from the replay buffer, 0 for none (default: the run's)")
	return cmd
}

// evalPlanner returns the planner settings the flags set over the run's,
// and whether any was set.
func evalPlanner(opts *evalOptions, cfg agent.Config) (planner.Config, string, bool, error) {
	pc, with := cfg.Planner, cfg.PlanWith
	set := func(name string) bool { return opts.flags != nil && opts.flags.Changed(name) }
	changed, err := opts.plan.apply(set, &pc, &with)
	return pc, with, changed, err
}

func runEval(ctx context.Context, opts *evalOptions) error {
	if err := runDirFlag(opts.runDir); err != nil {
		return err
	}
	if opts.episodes < 1 || opts.episodes > 100000 {
		return fmt.Errorf("--episodes %d is not valid (allowed: 1 to 100000)", opts.episodes)
	}
	if opts.snap < 0 || opts.snap > 65536 {
		return fmt.Errorf("--snap-latents %d is not valid (allowed: 0 for none to 65536)", opts.snap)
	}
	// The planner flags are checked before anything is read.
	if _, _, _, err := evalPlanner(opts, agent.Config{}); err != nil {
		return err
	}
	ckpts, err := agent.Checkpoints(opts.runDir)
	if err != nil {
		return fmt.Errorf("--run-dir %s: %v", opts.runDir, err)
	}
	if len(ckpts) == 0 {
		return fmt.Errorf("--run-dir %s: %w: nothing to evaluate yet", opts.runDir, agent.ErrNoCheckpoint)
	}
	run, err := agent.Open(opts.runDir)
	if err != nil {
		return err
	}
	defer run.Close()
	pc, with, changed, err := evalPlanner(opts, run.Config())
	if err != nil {
		return err
	}
	if changed {
		if err := run.SetEvalPlanner(pc, with); err != nil {
			return err
		}
	}
	if opts.flags != nil && opts.flags.Changed("snap-latents") {
		if err := run.SetEvalSnapLatents(opts.snap); err != nil {
			return err
		}
	}
	ev, err := run.EvaluateContext(ctx, opts.episodes, opts.seed, nil)
	if err != nil {
		return err
	}
	ev.Steps = run.EnvSteps()
	if opts.json {
		enc := json.NewEncoder(opts.out)
		enc.SetIndent("", "  ")
		return enc.Encode(struct {
			Env      string         `json:"env"`
			Dynamics string         `json:"dynamics"`
			Planner  planner.Config `json:"planner"`
			PlanWith string         `json:"plan_with"`
			agent.Eval
		}{run.Config().Env, run.Config().Model.Dynamics, pc.WithDefaults(), with, ev})
	}
	fmt.Fprintf(opts.out, "%s (%s dynamics) after %d steps, %d episodes:\n", run.Config().Env, run.Config().Model.Dynamics, ev.Steps, ev.Episodes)
	if changed {
		p, own := pc.WithDefaults(), run.Config().Planner.WithDefaults()
		fmt.Fprintf(opts.out, "  planned with %s, horizon %d, %d samples, λ %g, risk %s, on %s, %d candidates × %d iterations, %s noise (the run's own: horizon %d, %d samples, λ %g, risk %s, on %s, %d × %d, %s noise)\n",
			p.Method, p.Horizon, p.Samples, p.Lambda, p.Risk, with, p.Candidates, p.Iterations, p.Noise,
			own.Horizon, own.Samples, own.Lambda, own.Risk, run.Config().PlanWith, own.Candidates, own.Iterations, own.Noise)
	}
	fmt.Fprintf(opts.out, "  return  %.3f  95%% CI [%.3f, %.3f]\n", ev.Return, ev.ReturnLo, ev.ReturnHi)
	if ev.HasGoal {
		fmt.Fprintf(opts.out, "  success %.3f  95%% CI [%.3f, %.3f]\n", ev.Success, ev.SuccessLo, ev.SuccessHi)
	}
	fmt.Fprintf(opts.out, "  worst 10%%  %.3f  (the mean of the lowest tenth of the returns)\n", ev.Worst10)
	fmt.Fprintf(opts.out, "  length  %.1f\n", ev.Length)
	return nil
}
