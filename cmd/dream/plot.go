package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/dreamrl/dream/agent"
	"github.com/dreamrl/dream/agent/runplot"
	"github.com/dreamrl/dream/internal/atomicfile"
)

// Limits of --width and --height, in pixels.
const (
	minPlotSide = 200
	maxPlotSide = 8000
)

// pngSignature starts every PNG file.
const pngSignature = "\x89PNG\r\n\x1a\n"

type plotOptions struct {
	out     io.Writer
	runDirs []string
	outFile string
	width   int
	height  int
}

func newPlotCmd(runF func(context.Context, *plotOptions) error) *cobra.Command {
	opts := &plotOptions{}
	cmd := &cobra.Command{
		Use:   "plot --run-dir DIR [--run-dir DIR2 ...] --out FILE.png",
		Short: "Draw the learning curves and losses of runs from their metrics.csv",
		Long: `Draw what dream train logged in the metrics.csv of one or more run directories,
against environment steps, one colour per run: the evaluation return with its
95% interval as a band, the success rate where the environment has a goal, and
under them one small panel per main loss of the world model (prediction,
collapse guard, reward, continuation, value) and the spread of its embeddings
(near zero: collapse), on a log scale where a loss spans two decades or more.

The legend names each run by its directory's base name, with its dynamics and
seed where runs share a base name. The runs must be of one environment. A run
still in progress can be drawn at any time; one that has not evaluated yet has
its losses drawn. --out is written atomically; an existing file is replaced
only if it is a PNG.`,
		Example: `  dream plot --run-dir runs/fl-s0 --out fl.png
  dream plot --run-dir runs/cmp/gaussian-s0 --run-dir runs/cmp/deterministic-s0 --out cmp-s0.png`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.out = cmd.OutOrStdout()
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runPlot(cmd.Context(), opts)
		},
	}
	f := cmd.Flags()
	f.StringArrayVar(&opts.runDirs, "run-dir", nil, "run directory to draw (repeat for several runs)")
	f.StringVar(&opts.outFile, "out", "", "output PNG file")
	f.IntVar(&opts.width, "width", runplot.DefaultWidth, "width of the picture in pixels")
	f.IntVar(&opts.height, "height", runplot.DefaultHeight, "height of the picture in pixels")
	return cmd
}

// checkPlot validates the flags before any run is read.
func checkPlot(opts *plotOptions) error {
	const allowedOut = "allowed: a file name ending in .png"
	switch {
	case len(opts.runDirs) == 0:
		return fmt.Errorf("--run-dir is required (allowed: the directory of a run started by dream train; repeat --run-dir for several runs)")
	case opts.outFile == "":
		return fmt.Errorf("--out is required (%s)", allowedOut)
	case !strings.EqualFold(filepath.Ext(opts.outFile), ".png"):
		return fmt.Errorf("--out %s is not valid (%s)", opts.outFile, allowedOut)
	case opts.width < minPlotSide || opts.width > maxPlotSide:
		return fmt.Errorf("--width %d is not valid (allowed: %d to %d pixels)", opts.width, minPlotSide, maxPlotSide)
	case opts.height < minPlotSide || opts.height > maxPlotSide:
		return fmt.Errorf("--height %d is not valid (allowed: %d to %d pixels)", opts.height, minPlotSide, maxPlotSide)
	}
	seen := map[string]string{}
	for _, d := range opts.runDirs {
		abs, err := filepath.Abs(d)
		if err != nil {
			return fmt.Errorf("--run-dir %s: %v", d, err)
		}
		if first, ok := seen[abs]; ok {
			return fmt.Errorf("--run-dir %s is the same directory as --run-dir %s (allowed: each run once)", d, first)
		}
		seen[abs] = d
	}
	return checkPlotOut(opts.outFile)
}

// checkPlotOut refuses an --out that cannot be written or that would
// overwrite something other than a PNG: a picture is redrawn in place,
// anything else is kept.
func checkPlotOut(path string) error {
	dir := filepath.Dir(path)
	if info, err := os.Stat(dir); err != nil || !info.IsDir() {
		why := "does not exist"
		if err == nil {
			why = "is not a directory"
		}
		return fmt.Errorf("--out %s: %s %s (allowed: a file in an existing directory)", path, dir, why)
	}
	info, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case err != nil:
		return fmt.Errorf("--out %s: %v", path, err)
	case !info.Mode().IsRegular():
		return fmt.Errorf("--out %s is not a regular file (allowed: a new file or a PNG to redraw)", path)
	}
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("--out %s: %v", path, err)
	}
	defer f.Close()
	head := make([]byte, len(pngSignature))
	if _, err := io.ReadFull(f, head); err != nil || !bytes.Equal(head, []byte(pngSignature)) {
		return fmt.Errorf("--out %s exists and is not a PNG, so it is kept (allowed: a new file or a PNG to redraw)", path)
	}
	return nil
}

func runPlot(_ context.Context, opts *plotOptions) error {
	if err := checkPlot(opts); err != nil {
		return err
	}
	runs := make([]runplot.Run, 0, len(opts.runDirs))
	for _, d := range opts.runDirs {
		if err := runDirFlag(d); err != nil {
			return err
		}
		r, err := runplot.Load(d)
		if err != nil {
			return fmt.Errorf("--run-dir: %v (allowed: the directory of a run started by dream train)", err)
		}
		runs = append(runs, r)
	}
	if err := runplot.SameEnv(runs); err != nil {
		return fmt.Errorf("--run-dir: %v (allowed: runs of one environment)", err)
	}
	runplot.SetLabels(runs)
	for _, r := range runs {
		m := r.Metrics
		if m.Damaged > 0 {
			fmt.Fprintf(opts.out, "%s: %s line %d cannot be read: drawing the %d rows before it\n", r.Dir, agent.MetricsFile, m.Damaged, len(m.Rows))
		}
		switch {
		case m.Evaluations() > 0:
		case m.LossRows() > 0:
			fmt.Fprintf(opts.out, "%s: no evaluation yet: drawing its losses only\n", r.Dir)
		default:
			fmt.Fprintf(opts.out, "%s: no evaluation and no loss logged yet: nothing to draw\n", r.Dir)
		}
	}
	err := atomicfile.Write(opts.outFile, func(w io.Writer) error {
		return runplot.Draw(w, runs, opts.width, opts.height)
	})
	if errors.Is(err, runplot.ErrNothing) {
		return fmt.Errorf("--run-dir %s: no evaluation and no loss logged yet (allowed: a run that has trained for log_every steps or more)",
			strings.Join(opts.runDirs, ", "))
	}
	if err != nil {
		if pe := (*fs.PathError)(nil); errors.As(err, &pe) {
			err = pe.Err
		}
		return fmt.Errorf("--out %s: cannot write it: %v", opts.outFile, err)
	}
	labels := make([]string, len(runs))
	for i, r := range runs {
		labels[i] = r.Label
	}
	fmt.Fprintf(opts.out, "wrote %s (%d×%d pixels): %s\n", opts.outFile, opts.width, opts.height, strings.Join(labels, ", "))
	return nil
}
