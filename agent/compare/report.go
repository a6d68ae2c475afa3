package compare

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/dreamrl/dream/internal/atomicfile"
)

// Files a comparison writes in its output directory.
const (
	CurvesCSV   = "curves.csv"
	CurvesPNG   = "curves.png"
	SummaryMD   = "summary.md"
	SummaryJSON = "summary.json"
)

// WriteReport writes curves.csv, curves.png, summary.md and summary.json
// of the runs and their summary into dir (created if needed), each file
// atomically.
func WriteReport(dir string, runs []RunResult, s *Summary) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("compare: report %s: %w", dir, err)
	}
	files := []struct {
		name  string
		write func(io.Writer) error
	}{
		{CurvesCSV, func(w io.Writer) error { return WriteCurves(w, runs) }},
		{CurvesPNG, func(w io.Writer) error { return PlotCurves(w, s) }},
		{SummaryMD, func(w io.Writer) error { return WriteMarkdown(w, s) }},
		{SummaryJSON, func(w io.Writer) error {
			enc := json.NewEncoder(w)
			enc.SetIndent("", "  ")
			return enc.Encode(s)
		}},
	}
	for _, f := range files {
		path := filepath.Join(dir, f.name)
		if err := atomicfile.Write(path, f.write); err != nil {
			return fmt.Errorf("compare: write %s: %w", path, err)
		}
	}
	return nil
}

// WriteCurves writes every evaluation of every run as CSV with the header
// env_steps,dynamics,seed,eval_return,success (success empty where the
// environment has no goal), and a last column, variant, holding the
// run's variant label where any run has one; sorted by variant,
// dynamics, seed and steps.
func WriteCurves(w io.Writer, runs []RunResult) error {
	cw := csv.NewWriter(w)
	header := []string{"env_steps", "dynamics", "seed", "eval_return", "success"}
	variants := slices.ContainsFunc(runs, func(r RunResult) bool { return r.Job.Variant != "" })
	if variants {
		header = append(header, "variant")
	}
	cw.Write(header)
	sorted := append([]RunResult(nil), runs...)
	sortRuns(sorted)
	for _, r := range sorted {
		for _, p := range r.Curve {
			succ := ""
			if !math.IsNaN(p.Success) {
				succ = strconv.FormatFloat(p.Success, 'g', -1, 64)
			}
			rec := []string{strconv.Itoa(p.Steps), r.Job.Dynamics, strconv.FormatUint(r.Job.Seed, 10),
				strconv.FormatFloat(p.Return, 'g', -1, 64), succ}
			if variants {
				rec = append(rec, r.Job.Variant)
			}
			cw.Write(rec)
		}
	}
	cw.Flush()
	return cw.Error()
}

// num formats a number for the summary table.
func num(v float64) string {
	if math.IsNaN(v) {
		return "–"
	}
	return strconv.FormatFloat(v, 'g', 4, 64)
}

func interval(iv Interval) string {
	if math.IsNaN(iv.Mean) {
		return "–"
	}
	return fmt.Sprintf("%s [%s, %s]", num(iv.Mean), num(iv.Lo), num(iv.Hi))
}

func seedList(seeds []uint64) string {
	parts := make([]string, len(seeds))
	for i, s := range seeds {
		parts[i] = strconv.FormatUint(s, 10)
	}
	return strings.Join(parts, ", ")
}

// armColumns names the arms in the report's tables: a column per varied
// key, then the dynamics.
type armColumns []string

// header is the tables' first columns, such as "| planner.horizon |
// dynamics |", and rule their separator.
func (c armColumns) header() (header, rule string) {
	for _, k := range c {
		header += "| " + k + " "
		rule += "|---"
	}
	return header + "| dynamics |", rule + "|---|"
}

// cells is the arm's first cells in the tables.
func (c armColumns) cells(d ArmSummary) string {
	values := map[string]string{}
	for _, p := range parseLabel(d.Variant) {
		values[p.key] = p.value
	}
	var b strings.Builder
	for _, k := range c {
		fmt.Fprintf(&b, "| %s ", values[k])
	}
	fmt.Fprintf(&b, "| %s |", d.Dynamics)
	return b.String()
}

// WriteMarkdown writes the summary as a Markdown report. Each arm is
// named by its dynamics and, where the comparison varies config keys,
// by its values of them.
func WriteMarkdown(w io.Writer, s *Summary) error {
	var b strings.Builder
	names := make([]string, len(s.Arms))
	for i, d := range s.Arms {
		names[i] = d.Name
	}
	cols := armColumns(s.Varied)
	head, rule := cols.header()
	pct := strconv.FormatFloat(100*s.Level, 'g', -1, 64) + "%"
	fmt.Fprintf(&b, "# %s: %s\n\n", s.Env, strings.Join(names, " vs "))
	env := s.Env
	if s.Map != "" {
		env += " (map " + s.Map + ")"
	}
	// The shared settings, less those the variants differ in.
	varied := func(key string) bool { return slices.Contains(s.Varied, key) }
	line := "Environment " + env
	if !varied("obs") {
		line += " observing " + s.Obs
	}
	if !varied("steps") {
		line += fmt.Sprintf(", %d environment steps per run", s.Steps)
	}
	if !varied("eval_every") && !varied("eval_episodes") {
		line += fmt.Sprintf(", evaluated every %d steps on %d episodes", s.EvalEvery, s.EvalEpisodes)
	}
	if !varied("plan_with") {
		line += "; planning on " + s.PlanWith
	}
	fmt.Fprintf(&b, "%s.\n", line)
	if len(s.Varied) > 0 {
		fmt.Fprintf(&b, "Varied: %s; every other setting is shared.\n", strings.Join(s.Varied, ", "))
	}
	for _, d := range s.Arms {
		fmt.Fprintf(&b, "%s: seeds %s.\n", d.Name, seedList(d.Seeds))
	}
	fmt.Fprintf(&b, "\nIntervals are %s percentile bootstrap intervals over seeds (%d resamples). "+
		"AUC is the area under the evaluation-return curve divided by its step range: the mean return over training.\n\n", pct, s.Resamples)

	b.WriteString(head + " final return | AUC |")
	if s.HasGoal {
		b.WriteString(" final success |")
	}
	fmt.Fprintf(&b, " steps to %s | not reached |\n", num(float64(s.Threshold)))
	b.WriteString(rule + "---|---|")
	if s.HasGoal {
		b.WriteString("---|")
	}
	b.WriteString("---|---|\n")
	for _, d := range s.Arms {
		fmt.Fprintf(&b, "%s %s | %s |", cols.cells(d), interval(d.FinalReturn), interval(d.AUC))
		if s.HasGoal {
			fs := "–"
			if d.FinalSuccess != nil {
				fs = interval(*d.FinalSuccess)
			}
			fmt.Fprintf(&b, " %s |", fs)
		}
		fmt.Fprintf(&b, " %s | %d of %d |\n", interval(d.StepsToThreshold.Steps), d.StepsToThreshold.NotReached, len(d.Seeds))
	}
	fmt.Fprintf(&b, "\nThreshold %s (%s). Steps to threshold are the first evaluation at or above it; the mean and interval cover the seeds that reached it.\n\n",
		num(float64(s.Threshold)), s.ThresholdRule)

	b.WriteString("## Steps to threshold per seed\n\n" + head + " seed: steps |\n" + rule + "---|\n")
	for _, d := range s.Arms {
		parts := make([]string, len(d.Seeds))
		for i, seed := range d.Seeds {
			v := "not reached"
			if p := d.StepsToThreshold.PerSeed[i]; p != nil {
				v = strconv.Itoa(*p)
			}
			parts[i] = fmt.Sprintf("%d: %s", seed, v)
		}
		fmt.Fprintf(&b, "%s %s |\n", cols.cells(d), strings.Join(parts, ", "))
	}

	b.WriteString("\n## Held-out calibration of the world model\n\n")
	fmt.Fprintf(&b, "One-step predictions on transitions from %d episodes per run played by the trained greedy agent on seeds not used in training, "+
		"scored against the target embedding and averaged over seeds. Coverage comes from the probability integral transform of each dimension's predicted marginal: "+
		"a calibrated model puts 0.683 of the targets within its central 68.3%% interval (\"1σ\") and 0.954 within the 95.4%% one (\"2σ\"), which for a Gaussian are the ±1σ and ±2σ intervals; "+
		"ECE is the mean gap between nominal and observed coverage of central intervals. The deterministic model is scored as a Gaussian with unit variance, the mixture by its mixture density.\n\n",
		s.CalibrationEpisodes)
	b.WriteString(head + " transitions | NLL per dim | within 1σ | within 2σ | ECE |\n" + rule + "---|---|---|---|---|\n")
	for _, d := range s.Arms {
		c := d.Calibration
		fmt.Fprintf(&b, "%s %d | %s | %s | %s | %s |\n", cols.cells(d), c.N, num(float64(c.NLLPerDim)),
			num(float64(c.Within1)), num(float64(c.Within2)), num(float64(c.ECE)))
	}

	b.WriteString("\n## Difference in AUC\n\n")
	if len(s.Comparisons) == 0 {
		b.WriteString("Only one dynamics was run: nothing to compare.\n")
	}
	for _, c := range s.Comparisons {
		fmt.Fprintf(&b, "%s The AUC difference %s − %s is %s, %s bootstrap interval [%s, %s]; Welch's t = %s with %s degrees of freedom.\n\n",
			c.Verdict(s.Alpha), c.A, c.B, num(c.Difference.Mean), pct, num(c.Difference.Lo), num(c.Difference.Hi),
			num(c.Welch.T), num(c.Welch.DF))
	}
	_, err := io.WriteString(w, b.String())
	return err
}
