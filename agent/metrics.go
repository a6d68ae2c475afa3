package agent

import (
	"bufio"
	"encoding/csv"
	"fmt"
	"io"
	"os"
	"strconv"

	"github.com/dreamrl/dream/worldmodel"
)

// MetricsFile is the name of the metrics log in a run directory.
const MetricsFile = "metrics.csv"

// baseColumns are the first columns of metrics.csv; the world model's
// loss names follow them (averaged over the gradient steps since the
// previous row). success_lo and success_hi (the Wilson interval of
// success, see Eval) came after the others: rows of a log written
// before them leave them empty.
var baseColumns = []string{"kind", "env_steps", "grad_steps", "episodes", "wall_s", "steps_per_s",
	"train_return", "eval_return", "eval_return_lo", "eval_return_hi", "success", "success_lo", "success_hi",
	"skipped_steps"}

// metricsLog appends rows to metrics.csv.
type metricsLog struct {
	path  string
	names []string
	sums  []float64
	n     int
}

// openMetrics opens (creating with a header if needed) the metrics log of
// a run, dropping any row logged after env step keepUpTo (rows a killed
// run wrote past its last checkpoint). keepUpTo 0 keeps none. A log with
// other columns (written by an older version) is rewritten with the
// current header: each kept row moves its values to the columns of the
// same name and leaves the columns it lacked empty.
func openMetrics(path string, names []string, keepUpTo int) (*metricsLog, error) {
	l := &metricsLog{path: path, names: names, sums: make([]float64, len(names))}
	header := append(append([]string{}, baseColumns...), names...)
	var kept [][]string
	if f, err := os.Open(path); err == nil {
		// Read row by row: a damaged row (a write cut short by a full
		// disk or a crash) ends the log there but keeps the rows before.
		cr := csv.NewReader(f)
		if old, err := cr.Read(); err == nil {
			if from, ok := columnMap(old, header); ok {
				for keepUpTo > 0 {
					rec, err := cr.Read()
					if err != nil {
						break
					}
					if n, err := strconv.Atoi(rec[from[1]]); err == nil && n <= keepUpTo {
						kept = append(kept, remap(rec, from))
					}
				}
			}
		}
		f.Close()
	}
	err := writeFileAtomic(path, func(w io.Writer) error {
		cw := csv.NewWriter(w)
		cw.Write(header)
		cw.WriteAll(kept)
		return cw.Error()
	})
	if err != nil {
		return nil, fmt.Errorf("%w: metrics %s: %v", ErrRunDir, path, err)
	}
	return l, nil
}

// columnMap returns, for each column of header, its index in old (−1 if
// old lacks it), and false if old is not a metrics log (it has no kind
// or env_steps column).
func columnMap(old, header []string) ([]int, bool) {
	at := make(map[string]int, len(old))
	for i, name := range old {
		at[name] = i
	}
	from := make([]int, len(header))
	for i, name := range header {
		j, ok := at[name]
		if !ok {
			j = -1
		}
		from[i] = j
	}
	return from, from[0] >= 0 && from[1] >= 0
}

// remap returns rec's values in the columns given by from (see
// columnMap).
func remap(rec []string, from []int) []string {
	out := make([]string, len(from))
	for i, j := range from {
		if j >= 0 {
			out[i] = rec[j]
		}
	}
	return out
}

// observe adds one gradient step's metrics to the running sums.
func (l *metricsLog) observe(m worldmodel.Metrics) {
	vals := m.Values()
	for i := range l.sums {
		l.sums[i] += vals[i]
	}
	l.n++
}

// write appends a row and resets the sums.
func (l *metricsLog) write(row []string) error {
	for i, s := range l.sums {
		v := ""
		if l.n > 0 {
			v = strconv.FormatFloat(s/float64(l.n), 'g', 6, 64)
		}
		row = append(row, v)
		l.sums[i] = 0
	}
	l.n = 0
	f, err := os.OpenFile(l.path, os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return fmt.Errorf("%w: metrics: %v", ErrRunDir, err)
	}
	bw := bufio.NewWriter(f)
	cw := csv.NewWriter(bw)
	cw.Write(row)
	cw.Flush()
	if err := cw.Error(); err != nil {
		f.Close()
		return fmt.Errorf("%w: metrics: %v", ErrRunDir, err)
	}
	if err := bw.Flush(); err != nil {
		f.Close()
		return fmt.Errorf("%w: metrics: %v", ErrRunDir, err)
	}
	return f.Close()
}

// row formats the base columns of a log or eval row.
func (r *Run) row(kind string, s Status) []string {
	g := func(v float64) string { return strconv.FormatFloat(v, 'g', 6, 64) }
	train := ""
	if len(r.recentReturn) > 0 {
		sum := 0.0
		for _, v := range r.recentReturn {
			sum += v
		}
		train = g(sum / float64(len(r.recentReturn)))
	}
	row := []string{kind, strconv.Itoa(s.EnvSteps), strconv.Itoa(s.GradSteps), strconv.Itoa(s.Episodes),
		g(s.Elapsed.Seconds()), g(s.StepsPerSecond), train, "", "", "", "", "", "", strconv.Itoa(r.st.SkippedSteps)}
	if kind == "eval" {
		ev := r.st.LastEval
		row[7], row[8], row[9] = g(ev.Return), g(ev.ReturnLo), g(ev.ReturnHi)
		if ev.HasGoal {
			row[10], row[11], row[12] = g(ev.Success), g(ev.SuccessLo), g(ev.SuccessHi)
		}
	}
	return row
}
