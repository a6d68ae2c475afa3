// Command curves compares the learning curves of groups of runs that no
// single dream compare trained together, such as runs of one setting
// against runs kept from an earlier one, with the statistics of dream
// compare: per run the area under the evaluation curve divided by its
// step range (the mean return over training) and the final return; per
// group their means with 95 % bootstrap intervals over the runs; and per
// pair of groups Welch's t-test and a bootstrap interval of the
// difference in AUC.
//
//	go run ./experiments/curves [--steps N] NAME=RUN,RUN... NAME=RUN,...
//
// A RUN is a run directory or a metrics file (metrics.csv, or a copy kept
// under another name). --steps N drops the evaluations after step N, so
// that runs of different lengths compare over the same range.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/dreamrl/dream/agent/compare"
)

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "curves:", err)
		}
		os.Exit(1)
	}
}

// Group is one named group of runs.
type Group struct {
	Name        string
	Runs        []string
	AUC, Finals []float64
}

func run(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("curves", flag.ContinueOnError)
	fs.SetOutput(stderr)
	steps := fs.Int("steps", 0, "drop the evaluations after this many environment steps (0: keep all)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *steps < 0 {
		return fmt.Errorf("--steps %d (allowed: 0 for all, or more)", *steps)
	}
	if fs.NArg() < 1 {
		return errors.New("no groups (usage: curves [--steps N] NAME=RUN,RUN... NAME=RUN,...)")
	}
	groups := make([]Group, 0, fs.NArg())
	for _, arg := range fs.Args() {
		g, err := readGroup(arg, *steps)
		if err != nil {
			return err
		}
		groups = append(groups, g)
	}
	report(stdout, groups)
	return nil
}

// readGroup reads NAME=RUN,RUN... and each run's curve.
func readGroup(arg string, steps int) (Group, error) {
	name, list, ok := strings.Cut(arg, "=")
	if !ok || name == "" || list == "" {
		return Group{}, fmt.Errorf("group %q (allowed: NAME=RUN,RUN..., a run being a run directory or a metrics file)", arg)
	}
	g := Group{Name: name}
	for _, r := range strings.Split(list, ",") {
		path := r
		if st, err := os.Stat(r); err == nil && st.IsDir() {
			path = filepath.Join(r, "metrics.csv")
		}
		curve, _, err := compare.ReadCurveFile(path)
		if err != nil {
			return Group{}, fmt.Errorf("group %s: %w", name, err)
		}
		kept := curve[:0]
		for _, p := range curve {
			if steps == 0 || p.Steps <= steps {
				kept = append(kept, p)
			}
		}
		if len(kept) == 0 {
			return Group{}, fmt.Errorf("group %s: run %s has no evaluation within %d steps", name, r, steps)
		}
		g.Runs = append(g.Runs, r)
		g.AUC = append(g.AUC, compare.AUC(kept))
		g.Finals = append(g.Finals, kept[len(kept)-1].Return)
	}
	return g, nil
}

// report prints the runs, the groups and the pairs.
func report(w io.Writer, groups []Group) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "group\trun\tAUC\tfinal")
	for _, g := range groups {
		for i, r := range g.Runs {
			fmt.Fprintf(tw, "%s\t%s\t%.4g\t%.4g\n", g.Name, r, g.AUC[i], g.Finals[i])
		}
	}
	tw.Flush()
	fmt.Fprintln(w)
	rng := rand.New(rand.NewPCG(1, 2))
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "group\truns\tAUC [95% bootstrap]\tfinal [95% bootstrap]")
	for _, g := range groups {
		a := compare.BootstrapMean(g.AUC, 0.95, 10000, rng)
		f := compare.BootstrapMean(g.Finals, 0.95, 10000, rng)
		fmt.Fprintf(tw, "%s\t%d\t%.4g [%.4g, %.4g]\t%.4g [%.4g, %.4g]\n", g.Name, len(g.Runs), a.Mean, a.Lo, a.Hi, f.Mean, f.Lo, f.Hi)
	}
	tw.Flush()
	if len(groups) < 2 {
		return
	}
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "pair\tAUC difference [95% bootstrap]\tWelch t\tν\tp")
	for i, a := range groups {
		for _, b := range groups[i+1:] {
			d, _ := compare.BootstrapDiff(a.AUC, b.AUC, 0.95, 10000, rng)
			t := compare.WelchTest(a.AUC, b.AUC)
			fmt.Fprintf(tw, "%s − %s\t%.4g [%.4g, %.4g]\t%.3g\t%.3g\t%.3g\n", a.Name, b.Name, d.Mean, d.Lo, d.Hi, t.T, t.DF, t.P)
		}
	}
	tw.Flush()
}
