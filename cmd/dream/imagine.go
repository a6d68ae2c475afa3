package main

import (
	"context"
	"fmt"
	"image"
	"image/png"
	"io"

	"github.com/spf13/cobra"

	"github.com/dreamrl/dream/agent"
	"github.com/dreamrl/dream/agent/picture"
	"github.com/dreamrl/dream/internal/atomicfile"
)

// imagineDelay is how long each picture of an imagine GIF is shown, in
// hundredths of a second.
const imagineDelay = 60

type imagineOptions struct {
	out     io.Writer
	runDir  string
	steps   int
	samples int
	horizon int
	seed    uint64
	gif     string
	png     string
	cell    int
}

func newImagineCmd(runF func(context.Context, *imagineOptions) error) *cobra.Command {
	opts := &imagineOptions{}
	cmd := &cobra.Command{
		Use:   "imagine --run-dir DIR (--gif OUT.gif | --png OUT.png)",
		Short: "Picture the futures a trained agent imagines, next to what really happened",
		Long: `Play a trained agent (greedy, from its latest checkpoint) on fresh episodes and
draw, at every step, the plan it made, K futures its world model sampled along
that plan (decoded by the probe decoder, with the predicted uncertainty of each
step as a green-to-red bar) and the real frames that followed. Under them, one
strip per first action shows the distribution of its return as the planner
saw it (the K sampled futures, or their K·M quantile atoms with q_quantiles):
its outcomes, 10-90% box, median, mean and the risk measure's value, the
action taken outlined. Each picture is complete: the real frames t+1 … t+H
are played before picture t is drawn.

--gif writes one picture per step for --steps steps; --png writes the first.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.out = cmd.OutOrStdout()
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runImagine(cmd.Context(), opts)
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.runDir, "run-dir", "", "run directory of a trained agent")
	f.IntVar(&opts.steps, "steps", 20, "number of steps (pictures) in the GIF")
	f.IntVar(&opts.samples, "samples", 0, "futures drawn per picture, K (default: the planner's; 1 for deterministic dynamics)")
	f.IntVar(&opts.horizon, "horizon", 0, "planned and imagined steps, H (default: the planner's)")
	f.Uint64Var(&opts.seed, "seed", 1_000_000, "seed of the first episode (episode i uses seed+i)")
	f.StringVar(&opts.gif, "gif", "", "output animated GIF, one picture per step")
	f.StringVar(&opts.png, "png", "", "output PNG of the first step")
	f.IntVar(&opts.cell, "cell", 64, "side of each frame tile in pixels")
	return cmd
}

// checkImagine validates the options before anything is loaded.
func checkImagine(opts *imagineOptions) error {
	switch {
	case opts.runDir == "":
		return fmt.Errorf("--run-dir is required: the run directory of a trained agent")
	case opts.gif == "" && opts.png == "":
		return fmt.Errorf("one of --gif FILE and --png FILE is required")
	case opts.gif != "" && opts.png != "":
		return fmt.Errorf("--gif and --png cannot be used together (allowed: one of them)")
	case opts.steps < 1 || opts.steps > 10000:
		return fmt.Errorf("--steps %d is not valid (allowed: 1 to 10000)", opts.steps)
	case opts.samples < 0 || opts.samples > agent.MaxImagineSamples:
		return fmt.Errorf("--samples %d is not valid (allowed: 1 to %d, 0 for the planner's)", opts.samples, agent.MaxImagineSamples)
	case opts.horizon < 0 || opts.horizon > agent.MaxImagineHorizon:
		return fmt.Errorf("--horizon %d is not valid (allowed: 1 to %d, 0 for the planner's)", opts.horizon, agent.MaxImagineHorizon)
	case opts.cell < 16 || opts.cell > 256:
		return fmt.Errorf("--cell %d is not valid (allowed: 16 to 256)", opts.cell)
	}
	return nil
}

func runImagine(_ context.Context, opts *imagineOptions) error {
	if err := checkImagine(opts); err != nil {
		return err
	}
	if err := runDirFlag(opts.runDir); err != nil {
		return err
	}
	run, err := agent.OpenTrained(opts.runDir)
	if err != nil {
		return fmt.Errorf("--run-dir: %w", err)
	}
	defer run.Close()
	im, err := agent.NewImaginer(run, opts.seed)
	if err != nil {
		return err
	}
	if opts.samples > 0 {
		im.SetSamples(opts.samples)
	}
	if opts.horizon > 0 {
		if _, err := im.SetHorizon(opts.horizon); err != nil {
			return fmt.Errorf("--horizon %d: %w", opts.horizon, err)
		}
	}
	if opts.png != "" {
		pic := picture.Compose(im.Step(), opts.cell)
		if err := atomicfile.Write(opts.png, func(w io.Writer) error { return png.Encode(w, pic) }); err != nil {
			return fmt.Errorf("--png %s: %w", opts.png, err)
		}
		fmt.Fprintf(opts.out, "wrote the picture of step 0 (K = %d, H = %d) to %s\n", im.Samples(), im.Horizon(), opts.png)
		return nil
	}
	frames := make([]*image.RGBA, 0, opts.steps)
	for range opts.steps {
		frames = append(frames, picture.Compose(im.Step(), opts.cell))
	}
	if err := atomicfile.Write(opts.gif, func(w io.Writer) error { return picture.WriteGIF(w, frames, imagineDelay) }); err != nil {
		return fmt.Errorf("--gif %s: %w", opts.gif, err)
	}
	fmt.Fprintf(opts.out, "wrote %d pictures (K = %d, H = %d, %d episode(s)) to %s\n", len(frames), im.Samples(), im.Horizon(), im.Episode()+1, opts.gif)
	return nil
}
