package main

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/dreamrl/dream/envs"
	"github.com/dreamrl/dream/envs/registry"
)

type rolloutOptions struct {
	out     io.Writer
	env     string
	mapFile string
	seed    uint64
	state   string
	actions string
	format  string
	gym     gymFlags
	flags   *pflag.FlagSet
}

func newRolloutCmd(runF func(context.Context, *rolloutOptions) error) *cobra.Command {
	opts := &rolloutOptions{}
	cmd := &cobra.Command{
		Use:   "rollout --env NAME --actions a1,a2,...",
		Short: "Replay an action sequence and print the states",
		Long: `Replay an action sequence in an environment and print one row per step:
t,action,reward,terminated,truncated,s0,s1,... Row t=0 is the initial state.
It stops after the step that terminates or truncates. Discrete actions are
indices; a continuous action of several dimensions is written x:y:z.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.out = cmd.OutOrStdout()
			opts.flags = cmd.Flags()
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runRollout(cmd.Context(), opts)
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.env, "env", "", "environment name (see `dream envs`)")
	f.StringVar(&opts.mapFile, "map", "", "map file for the environment \"gridworld\"")
	f.Uint64Var(&opts.seed, "seed", 0, "reset seed")
	f.StringVar(&opts.state, "state", "", "start from this state instead of the reset one: v1,v2,...")
	f.StringVar(&opts.actions, "actions", "", "comma-separated actions")
	f.StringVar(&opts.format, "format", "csv", "output format: csv or json")
	addGymFlags(f, &opts.gym)
	return cmd
}

// parseFloats parses "v1,v2,..." (sep ',') or "x:y" (sep ':').
func parseFloats(s, sep string) ([]float64, error) {
	parts := strings.Split(s, sep)
	out := make([]float64, len(parts))
	for i, p := range parts {
		v, err := strconv.ParseFloat(strings.TrimSpace(p), 64)
		if err != nil {
			return nil, fmt.Errorf("%q is not a number", p)
		}
		out[i] = v
	}
	return out, nil
}

// parseActions parses the --actions flag against the action space.
func parseActions(s string, space envs.Space) ([][]float64, error) {
	if strings.TrimSpace(s) == "" {
		return nil, fmt.Errorf("--actions is required: a comma-separated list of actions")
	}
	var acts [][]float64
	for i, tok := range strings.Split(s, ",") {
		a, err := parseFloats(tok, ":")
		if err != nil || !space.Contains(a) {
			allowed := fmt.Sprintf("an integer in [0, %d]", space.N-1)
			if space.Kind == envs.KindBox {
				allowed = fmt.Sprintf("%d number(s) separated by ':' in %s", space.Dim(), space)
			}
			return nil, fmt.Errorf("--actions: action %d %q is not valid (allowed: %s)", i+1, tok, allowed)
		}
		acts = append(acts, a)
	}
	return acts, nil
}

func runRollout(_ context.Context, opts *rolloutOptions) error {
	if opts.format != "csv" && opts.format != "json" {
		return fmt.Errorf("--format %q is not valid (allowed: csv, json)", opts.format)
	}
	if opts.env == "" {
		return fmt.Errorf("--env is required (known: %s)", knownEnvs())
	}
	if err := opts.gym.check(changed(opts.flags), opts.env); err != nil {
		return err
	}
	env, err := registry.Make(opts.env, envs.Options{Obs: envs.ObsState, MapFile: opts.mapFile, Python: opts.gym.python, GymKwargs: opts.gym.kwargs})
	if err != nil {
		return fmt.Errorf("--env %s: %w", opts.env, err)
	}
	defer envs.Close(env)
	acts, err := parseActions(opts.actions, env.ActionSpace())
	if err != nil {
		return err
	}
	env.Reset(opts.seed)
	if opts.state != "" {
		s, err := parseFloats(opts.state, ",")
		if err != nil {
			return fmt.Errorf("--state: %v (allowed: %d comma-separated numbers)", err, len(env.State()))
		}
		setter, ok := env.Simulator().(envs.StateSetter)
		if !ok {
			return fmt.Errorf("--state: environment %s cannot be put into a given state", opts.env)
		}
		if err := setter.SetState(s); err != nil {
			return fmt.Errorf("--state: %w", err)
		}
	}
	type row struct {
		T          int       `json:"t"`
		Action     []float64 `json:"action,omitempty"`
		Reward     *float64  `json:"reward,omitempty"`
		Terminated bool      `json:"terminated"`
		Truncated  bool      `json:"truncated"`
		State      []float64 `json:"state"`
	}
	rows := []row{{T: 0, State: append([]float64(nil), env.State()...)}}
	for t, a := range acts {
		_, r, term, trunc := env.Step(a)
		rows = append(rows, row{T: t + 1, Action: a, Reward: &r, Terminated: term, Truncated: trunc, State: append([]float64(nil), env.State()...)})
		if term || trunc {
			break
		}
	}
	if opts.format == "json" {
		enc := json.NewEncoder(opts.out)
		enc.SetIndent("", "  ")
		return enc.Encode(rows)
	}
	w := csv.NewWriter(opts.out)
	header := []string{"t", "action", "reward", "terminated", "truncated"}
	for i := range rows[0].State {
		header = append(header, fmt.Sprintf("s%d", i))
	}
	w.Write(header)
	num := func(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }
	for _, r := range rows {
		rec := []string{strconv.Itoa(r.T), "", "", strconv.FormatBool(r.Terminated), strconv.FormatBool(r.Truncated)}
		if r.Action != nil {
			parts := make([]string, len(r.Action))
			for i, v := range r.Action {
				parts[i] = num(v)
			}
			rec[1] = strings.Join(parts, ":")
			rec[2] = num(*r.Reward)
		}
		for _, v := range r.State {
			rec = append(rec, num(v))
		}
		w.Write(rec)
	}
	w.Flush()
	return w.Error()
}
