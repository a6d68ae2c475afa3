// Command viz is dream's viewer: a window that plays a trained agent live
// and shows, at every step, the futures its world model imagines along
// the plan next to the real frames that followed (the picture of
// `dream imagine`).
//
//	go run ./cmd/viz --run-dir DIR [--compare DIR2] [--seed S] [--samples K] [--horizon H] [--screenshot FILE --frames N]
//
// Keys: space pause/resume, → one step, r reset the episode, + and − the
// number of samples, [ and ] the horizon, s save a PNG of the window,
// q quit. --compare shows a second run beside the first on the same
// environment seeds. --screenshot FILE --frames N runs N frames and
// writes the window's image to FILE (for tests and docs; under a virtual
// display such as xvfb-run).
//
// The viewer's logic lives in package viewer, free of the engine; this
// command is a thin ebiten adapter. ebiten needs a display from start-up.
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"

	"github.com/dreamrl/dream/cmd/viz/internal/viewer"
	"github.com/dreamrl/dream/envs"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return
		}
		fmt.Fprintln(os.Stderr, "viz:", err)
		os.Exit(1)
	}
}

// run parses the command line, opens the runs (every error about them is
// reported before a window opens) and runs the window.
func run(args []string) (err error) {
	defer envs.RecoverFailure(&err) // a Gymnasium child that died while the viewer started
	cfg, err := viewer.ParseArgs(args, os.Stderr)
	if err != nil {
		return err
	}
	v, err := viewer.Setup(cfg)
	if err != nil {
		return err
	}
	return play(v, cfg.Screenshot, cfg.Frames)
}
