package main

import (
	"context"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/dreamrl/dream/envs"
	"github.com/dreamrl/dream/envs/gym"
	"github.com/dreamrl/dream/envs/registry"
)

type envsOptions struct {
	out io.Writer
}

func newEnvsCmd(runF func(context.Context, *envsOptions) error) *cobra.Command {
	opts := &envsOptions{}
	return &cobra.Command{
		Use:   "envs",
		Short: "List the built-in environments with their spaces, and gym:ID",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.out = cmd.OutOrStdout()
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runEnvs(cmd.Context(), opts)
		},
	}
}

func runEnvs(_ context.Context, opts *envsOptions) error {
	w := tabwriter.NewWriter(opts.out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "NAME\tOBSERVATION (pixels | state)\tACTION\tDESCRIPTION")
	for _, e := range registry.Entries() {
		obs, act := "Box(0, 255, (32,32,3))", "-"
		var state string
		if e.Name == "gridworld" {
			state = "one-hot of the cell"
			act = envs.Discrete(4).String()
		} else {
			sim, err := e.New(envs.Options{})
			if err != nil {
				return err
			}
			state = sim.VectorSpace().String()
			act = sim.ActionSpace().String()
		}
		fmt.Fprintf(w, "%s\t%s | %s\t%s\t%s\n", e.Name, obs, state, act, e.Description)
	}
	fmt.Fprintf(w, "%sID\tBox(0, 255, (32,32,3)) | Box, Discrete\tDiscrete, Box\tany Gymnasium environment, made in a Python child process (--python, --gym-kwargs; docs/gym.md)\n", gym.Prefix)
	return w.Flush()
}
