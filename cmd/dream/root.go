package main

import (
	"strings"

	"github.com/spf13/cobra"
)

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:   "dream",
		Short: "Model-based RL with Gaussian latent dynamics",
		Long: `dream trains agents that plan in the latent space of a learned world model.
An encoder maps frames to latents, a predictor outputs a Gaussian over the next
latent, and a planner samples many imagined futures from it to choose actions.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetFlagErrorFunc(flagError)
	root.AddCommand(
		newEnvsCmd(nil),
		newRolloutCmd(nil),
		newRecordCmd(nil),
		newTrainCmd(nil),
		newEvalCmd(nil),
		newCompareCmd(nil),
		newPlotCmd(nil),
		newImagineCmd(nil),
		newBenchCmd(nil),
		newConfigCmd(nil),
	)
	return root
}

// oneLine folds an error message onto one line for the terminal.
func oneLine(err error) string {
	return strings.Join(strings.Fields(err.Error()), " ")
}
