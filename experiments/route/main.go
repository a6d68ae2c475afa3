// Command route counts, for trained gridworld runs, the share of
// evaluation episodes that never step on an ice tile, next to the mean
// return and the success rate, with the planner each run trained with
// (or the one the flags set):
//
//	go run ./experiments/route [--episodes N] [--seed S] [--risk R] RUN_DIR...
//
// On cliff-ice it tells the rock detour (no ice) from the route over the
// ice beside the lake. The episodes are those of dream eval (episode i
// from seed S+i, the averaged weights where the model keeps them); a
// state counts when the agent decides in it, so a time limit reached on
// ice after the last decision is not seen.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"text/tabwriter"

	"github.com/dreamrl/dream/agent"
	"github.com/dreamrl/dream/envs"
	"github.com/dreamrl/dream/envs/gridworld"
	"github.com/dreamrl/dream/planner"
)

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "route:", err)
		}
		os.Exit(1)
	}
}

// Route is one run's evaluation.
type Route struct {
	Run     string
	Risk    string
	Eval    agent.Eval
	Dry     int // episodes that never stepped on ice
	Touched int // episodes that did
}

func run(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("route", flag.ContinueOnError)
	fs.SetOutput(stderr)
	episodes := fs.Int("episodes", 100, "evaluation episodes per run")
	seed := fs.Uint64("seed", 1_000_000, "seed of the first episode")
	risk := fs.String("risk", "", "plan with this risk measure instead of the run's (mean, cvar:α, quantile:q)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() == 0 || *episodes < 1 {
		return errors.New("usage: route [--episodes N ≥ 1] [--seed S] [--risk R] RUN_DIR...")
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "run\trisk\tepisodes\tno ice\treturn\t95% CI\tsuccess\t")
	for _, dir := range fs.Args() {
		rt, err := route(dir, *episodes, *seed, *risk)
		if err != nil {
			return fmt.Errorf("%s: %w", dir, err)
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%.3f\t%.3f\t[%.3f, %.3f]\t%.3f\t\n", rt.Run, rt.Risk, rt.Eval.Episodes,
			float64(rt.Dry)/float64(rt.Eval.Episodes), rt.Eval.Return, rt.Eval.ReturnLo, rt.Eval.ReturnHi, rt.Eval.Success)
	}
	return tw.Flush()
}

// route evaluates one run and records which episodes stepped on ice.
func route(dir string, episodes int, seed uint64, risk string) (Route, error) {
	r, err := agent.OpenTrained(dir)
	if err != nil {
		return Route{}, err
	}
	cfg := r.Config()
	if risk != "" {
		rk, err := planner.ParseRisk(risk)
		if err != nil {
			return Route{}, err
		}
		pc := cfg.Planner
		pc.Risk = rk
		if err := r.SetEvalPlanner(pc, cfg.PlanWith); err != nil {
			return Route{}, err
		}
		cfg.Planner = pc
	}
	touched := make([]bool, episodes)
	grid := true
	hook := func(ep, _ int, env envs.Env) {
		g, ok := env.Simulator().(*gridworld.Env)
		if !ok {
			grid = false
			return
		}
		s := g.State()
		if g.Map().At(int(s[0]), int(s[1])) == gridworld.Ice {
			touched[ep] = true
		}
	}
	ev := r.Evaluate(episodes, seed, hook)
	if !grid {
		return Route{}, fmt.Errorf("environment %s is not a gridworld", cfg.Env)
	}
	rt := Route{Run: dir, Risk: cfg.Planner.Risk.String(), Eval: ev}
	for _, t := range touched {
		if t {
			rt.Touched++
		} else {
			rt.Dry++
		}
	}
	return rt, nil
}
