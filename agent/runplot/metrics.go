package runplot

import (
	"cmp"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"

	"gonum.org/v1/plot/plotter"
)

// Row kinds of metrics.csv.
const (
	// KindLog is a row written every log_every steps.
	KindLog = "log"
	// KindEval is a row written after an evaluation.
	KindEval = "eval"
)

// Metrics is a run's metrics.csv read by column name, so that it reads
// logs written before a column was added (the column is missing) and
// after (an unknown column is kept and ignored by the drawing).
type Metrics struct {
	// Columns are the header's names in file order.
	Columns []string
	// Rows are the rows read, in file order.
	Rows []Row
	// Damaged is the line number (the header is line 1) of the first row
	// that could not be read, where reading stopped: a write cut short by
	// a crash or a full disk, or a row being appended while it was read.
	// 0 when every row was read.
	Damaged int
}

// Row is one row of metrics.csv.
type Row struct {
	// Kind is KindLog or KindEval (other kinds are kept as written).
	Kind string
	// Steps is the environment step the row was written at.
	Steps int
	// values holds the row's finite numbers by column name.
	values map[string]float64
}

// Value returns the row's value in column name, and false where it has
// none: an empty cell, a column the file lacks, or a non-finite number.
func (r Row) Value(name string) (float64, bool) {
	v, ok := r.values[name]
	return v, ok
}

// ErrNotMetrics reports a file that is not a metrics log: empty, or
// without a kind or env_steps column.
var ErrNotMetrics = errors.New("not a metrics log")

// ReadMetrics reads a metrics.csv. Its header must have the columns kind
// and env_steps; every other column is optional. Reading stops at the
// first damaged row (a wrong number of fields, a step that is not an
// integer, a value that is not a number) and keeps the rows before it,
// as dream train does when it resumes; Metrics.Damaged says where.
func ReadMetrics(r io.Reader) (*Metrics, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	header, err := cr.Read()
	if err == io.EOF {
		return nil, fmt.Errorf("%w: the file is empty (want a header with kind and env_steps)", ErrNotMetrics)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: header: %v", ErrNotMetrics, err)
	}
	m := &Metrics{Columns: slices.Clone(header)}
	kind, steps := slices.Index(header, "kind"), slices.Index(header, "env_steps")
	if kind < 0 || steps < 0 {
		return nil, fmt.Errorf("%w: the header has no kind or env_steps column", ErrNotMetrics)
	}
	for line := 2; ; line++ {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			m.Damaged = line
			break
		}
		row, ok := parseRow(rec, header, kind, steps)
		if !ok {
			m.Damaged = line
			break
		}
		m.Rows = append(m.Rows, row)
	}
	return m, nil
}

// parseRow parses one record against header, and false if it is damaged.
func parseRow(rec, header []string, kind, steps int) (Row, bool) {
	if len(rec) != len(header) {
		return Row{}, false
	}
	n, err := strconv.Atoi(rec[steps])
	if err != nil || n < 0 {
		return Row{}, false
	}
	row := Row{Kind: rec[kind], Steps: n, values: make(map[string]float64, len(rec))}
	for i, s := range rec {
		if i == kind || i == steps || s == "" {
			continue
		}
		v, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return Row{}, false
		}
		if !math.IsNaN(v) && !math.IsInf(v, 0) {
			row.values[header[i]] = v
		}
	}
	return row, true
}

// Series returns the (steps, value) points of column in the rows of the
// given kind ("" for every kind) that have a value there, sorted by
// steps.
func (m *Metrics) Series(kind, column string) plotter.XYs {
	var xys plotter.XYs
	for _, r := range m.Rows {
		if kind != "" && r.Kind != kind {
			continue
		}
		if v, ok := r.Value(column); ok {
			xys = append(xys, plotter.XY{X: float64(r.Steps), Y: v})
		}
	}
	slices.SortStableFunc(xys, func(a, b plotter.XY) int { return cmp.Compare(a.X, b.X) })
	return xys
}

// Evaluations returns the number of evaluation rows that have a return.
func (m *Metrics) Evaluations() int {
	return len(m.Series(KindEval, "eval_return"))
}

// LossRows returns the number of rows with a value in the column of a
// loss panel (see Draw).
func (m *Metrics) LossRows() int {
	n := 0
	for _, r := range m.Rows {
		for _, pn := range lossPanels() {
			if _, ok := r.Value(pn.column); ok {
				n++
				break
			}
		}
	}
	return n
}
