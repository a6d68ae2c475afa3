package viewer

import (
	"flag"
	"fmt"
	"io"
	"path/filepath"

	"github.com/dreamrl/dream/agent"
)

// Config is the viewer's command line.
type Config struct {
	// RunDir is the trained run to show; Compare, when set, a second one
	// shown beside it on the same episodes.
	RunDir, Compare string
	// Seed is the seed of the first episode (episode i uses Seed+i).
	Seed uint64
	// Samples and Horizon are K and H; 0 means the run's planner's.
	Samples, Horizon int
	// Cell is the side of each frame tile in pixels.
	Cell int
	// Speed is the number of steps per second while running.
	Speed float64
	// Screenshot, when set, runs Frames frames and writes the window's
	// picture to this PNG file, then exits.
	Screenshot string
	Frames     int
	// SaveDir is where the s key saves pictures.
	SaveDir string
}

// Usage is the command line of the viewer.
const Usage = "viz --run-dir DIR [--compare DIR2] [--seed S] [--samples K] [--horizon H] [--cell N] [--speed S] [--screenshot FILE --frames N]"

// ParseArgs reads the viewer's command line (without the program name).
// Help (-h) returns flag.ErrHelp after printing the usage to stderr; a bad
// value returns an error naming the flag and what is allowed.
func ParseArgs(args []string, stderr io.Writer) (Config, error) {
	var c Config
	fs := flag.NewFlagSet("viz", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: %s\n\nKeys: %s\n\nFlags:\n", Usage, Help)
		fs.PrintDefaults()
	}
	fs.StringVar(&c.RunDir, "run-dir", "", "run directory of a trained agent")
	fs.StringVar(&c.Compare, "compare", "", "a second trained run to show beside the first, on the same episodes")
	fs.Uint64Var(&c.Seed, "seed", 1_000_000, "seed of the first episode (episode i uses seed+i)")
	fs.IntVar(&c.Samples, "samples", 0, "futures drawn per picture, K (default: the planner's)")
	fs.IntVar(&c.Horizon, "horizon", 0, "planned and imagined steps, H (default: the planner's)")
	fs.IntVar(&c.Cell, "cell", 64, "side of each frame tile in pixels")
	fs.Float64Var(&c.Speed, "speed", 2, "steps per second while running")
	fs.StringVar(&c.Screenshot, "screenshot", "", "run --frames frames, write the window to this PNG and exit")
	fs.IntVar(&c.Frames, "frames", 0, "frames to run before the screenshot (with --screenshot)")
	fs.StringVar(&c.SaveDir, "save-dir", ".", "directory of the PNGs saved with the s key")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	switch {
	case fs.NArg() > 0:
		return c, fmt.Errorf("unexpected argument %q (usage: %s)", fs.Arg(0), Usage)
	case c.RunDir == "":
		return c, fmt.Errorf("--run-dir is required: the run directory of a trained agent")
	case c.Samples < 0 || c.Samples > agent.MaxImagineSamples:
		return c, fmt.Errorf("--samples %d is not valid (allowed: 1 to %d, 0 for the planner's)", c.Samples, agent.MaxImagineSamples)
	case c.Horizon < 0 || c.Horizon > agent.MaxImagineHorizon:
		return c, fmt.Errorf("--horizon %d is not valid (allowed: 1 to %d, 0 for the planner's)", c.Horizon, agent.MaxImagineHorizon)
	case c.Cell < 16 || c.Cell > 256:
		return c, fmt.Errorf("--cell %d is not valid (allowed: 16 to 256)", c.Cell)
	case !(c.Speed > 0 && c.Speed <= TicksPerSecond):
		return c, fmt.Errorf("--speed %g is not valid (allowed: above 0, at most %d steps per second)", c.Speed, TicksPerSecond)
	case c.Screenshot == "" && c.Frames != 0:
		return c, fmt.Errorf("--frames needs --screenshot FILE")
	case c.Screenshot != "" && (c.Frames < 1 || c.Frames > 1_000_000):
		return c, fmt.Errorf("--frames %d is not valid with --screenshot (allowed: 1 to 1000000)", c.Frames)
	}
	return c, nil
}

// Setup opens the runs of the command line and returns a Viewer of them,
// before any window opens: a missing or unreadable run directory is an
// error naming its flag.
func Setup(c Config) (*Viewer, error) {
	var compare []string
	if c.Compare != "" {
		compare = append(compare, c.Compare)
	}
	runs, err := Open(c.RunDir, compare...)
	if err != nil {
		return nil, err
	}
	dirs := append([]string{c.RunDir}, compare...)
	panes := make([]Pane, len(runs))
	for i, r := range runs {
		im, err := agent.NewImaginer(r, c.Seed)
		if err != nil {
			return nil, err
		}
		if c.Samples > 0 {
			im.SetSamples(c.Samples)
		}
		if c.Horizon > 0 {
			if _, err := im.SetHorizon(c.Horizon); err != nil {
				return nil, fmt.Errorf("--horizon %d: %w", c.Horizon, err)
			}
		}
		panes[i] = Pane{Name: filepath.Base(filepath.Clean(dirs[i])), Imaginer: im}
	}
	return New(panes, Options{Cell: c.Cell, Speed: c.Speed, SaveDir: c.SaveDir}), nil
}
