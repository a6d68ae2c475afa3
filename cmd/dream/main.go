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

	"github.com/dreamrl/dream/agent"
	"github.com/dreamrl/dream/worldmodel"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	worldmodel.UseFastBLAS()
	cmd := newRootCmd()
	if err := cmd.ExecuteContext(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "dream:", oneLine(err))
		if errors.Is(err, agent.ErrInterrupted) {
			os.Exit(130)
		}
		os.Exit(1)
	}
}
