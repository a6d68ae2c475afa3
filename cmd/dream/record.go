package main

import (
	"context"
	"fmt"
	"image"
	"io"
	"math/rand/v2"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/dreamrl/dream/agent"
	"github.com/dreamrl/dream/agent/picture"
	"github.com/dreamrl/dream/envs"
	"github.com/dreamrl/dream/envs/registry"
	"github.com/dreamrl/dream/internal/atomicfile"
)

type recordOptions struct {
	out      io.Writer
	env      string
	mapFile  string
	episodes int
	seed     uint64
	size     int
	maxSteps int
	gif      string
	gym      gymFlags
	flags    *pflag.FlagSet
}

func newRecordCmd(runF func(context.Context, *recordOptions) error) *cobra.Command {
	opts := &recordOptions{}
	cmd := &cobra.Command{
		Use:   "record --env NAME --episodes N --gif OUT.gif",
		Short: "Record episodes of a random policy as an animated GIF",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.out = cmd.OutOrStdout()
			opts.flags = cmd.Flags()
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runRecord(cmd.Context(), opts)
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.env, "env", "", "environment name (see `dream envs`)")
	f.StringVar(&opts.mapFile, "map", "", "map file for the environment \"gridworld\"")
	f.IntVar(&opts.episodes, "episodes", 1, "number of episodes")
	f.Uint64Var(&opts.seed, "seed", 0, "seed of the environment and the random policy")
	f.IntVar(&opts.size, "size", 256, "side of the GIF in pixels")
	f.IntVar(&opts.maxSteps, "max-steps", 500, "stop an episode after this many steps even if it goes on")
	f.StringVar(&opts.gif, "gif", "", "output GIF file")
	addGymFlags(f, &opts.gym)
	return cmd
}

func runRecord(_ context.Context, opts *recordOptions) error {
	switch {
	case opts.env == "":
		return fmt.Errorf("--env is required (known: %s)", knownEnvs())
	case opts.episodes < 1 || opts.episodes > 1000:
		return fmt.Errorf("--episodes %d is not valid (allowed: 1 to 1000)", opts.episodes)
	case opts.size < 8 || opts.size > 1024:
		return fmt.Errorf("--size %d is not valid (allowed: 8 to 1024)", opts.size)
	case opts.maxSteps < 1:
		return fmt.Errorf("--max-steps %d is not valid (allowed: 1 or more)", opts.maxSteps)
	case opts.gif == "":
		return fmt.Errorf("--gif is required: the output file")
	}
	if err := opts.gym.check(changed(opts.flags), opts.env); err != nil {
		return err
	}
	env, err := registry.Make(opts.env, envs.Options{Obs: envs.ObsState, MapFile: opts.mapFile, Python: opts.gym.python, GymKwargs: opts.gym.kwargs})
	if err != nil {
		return fmt.Errorf("--env %s: %w", opts.env, err)
	}
	defer envs.Close(env)
	rng := rand.New(rand.NewPCG(opts.seed, 0x7265636f7264))
	space := env.ActionSpace()
	action := make([]float64, space.Dim())
	var frames []*image.RGBA
	snap := func() {
		f := image.NewRGBA(image.Rect(0, 0, opts.size, opts.size))
		env.Render(f)
		frames = append(frames, f)
	}
	for ep := 0; ep < opts.episodes; ep++ {
		env.Reset(opts.seed + uint64(ep))
		snap()
		for t := 0; t < opts.maxSteps; t++ {
			agent.RandomAction(action, space, rng)
			_, _, term, trunc := env.Step(action)
			snap()
			if term || trunc {
				break
			}
		}
	}
	if err := atomicfile.Write(opts.gif, func(w io.Writer) error { return picture.WriteGIF(w, frames, 5) }); err != nil {
		return fmt.Errorf("--gif %s: %w", opts.gif, err)
	}
	fmt.Fprintf(opts.out, "wrote %d frames of %d episode(s) to %s\n", len(frames), opts.episodes, opts.gif)
	return nil
}
