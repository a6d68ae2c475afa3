// Command dream trains and inspects model-based reinforcement-learning
// agents with probabilistic latent dynamics. Run `dream --help`.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/dreamrl/dream/agent"
	"github.com/dreamrl/dream/envs"
	"github.com/dreamrl/dream/worldmodel"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	worldmodel.UseFastBLAS()
	if err := execute(ctx, newRootCmd()); err != nil {
		fmt.Fprintln(os.Stderr, "dream:", oneLine(err))
		if errors.Is(err, agent.ErrInterrupted) {
			os.Exit(130)
		}
		os.Exit(1)
	}
}

// execute runs the command. An environment that fails outside a training
// run (which checkpoints and returns it itself), such as a Gymnasium
// child that dies during dream eval, is its error.
func execute(ctx context.Context, cmd *cobra.Command) (err error) {
	defer envs.RecoverFailure(&err)
	return cmd.ExecuteContext(ctx)
}
