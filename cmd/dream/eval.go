package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/dreamrl/dream/agent"
)

type evalOptions struct {
	out      io.Writer
	runDir   string
	episodes int
	seed     uint64
	json     bool
}

func newEvalCmd(runF func(context.Context, *evalOptions) error) *cobra.Command {
	opts := &evalOptions{}
	cmd := &cobra.Command{
		Use:   "eval --run-dir DIR",
		Short: "Evaluate a trained agent from its latest checkpoint",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.out = cmd.OutOrStdout()
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
	return cmd
}

func runEval(_ context.Context, opts *evalOptions) error {
	if err := runDirFlag(opts.runDir); err != nil {
		return err
	}
	if opts.episodes < 1 || opts.episodes > 100000 {
		return fmt.Errorf("--episodes %d is not valid (allowed: 1 to 100000)", opts.episodes)
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
	ev := run.Evaluate(opts.episodes, opts.seed, nil)
	ev.Steps = run.EnvSteps()
	if opts.json {
		enc := json.NewEncoder(opts.out)
		enc.SetIndent("", "  ")
		return enc.Encode(struct {
			Env      string `json:"env"`
			Dynamics string `json:"dynamics"`
			agent.Eval
		}{run.Config().Env, run.Config().Model.Dynamics, ev})
	}
	fmt.Fprintf(opts.out, "%s (%s dynamics) after %d steps, %d episodes:\n", run.Config().Env, run.Config().Model.Dynamics, ev.Steps, ev.Episodes)
	fmt.Fprintf(opts.out, "  return  %.3f  95%% CI [%.3f, %.3f]\n", ev.Return, ev.ReturnLo, ev.ReturnHi)
	if ev.HasGoal {
		fmt.Fprintf(opts.out, "  success %.3f  95%% CI [%.3f, %.3f]\n", ev.Success, ev.SuccessLo, ev.SuccessHi)
	}
	fmt.Fprintf(opts.out, "  length  %.1f\n", ev.Length)
	return nil
}
