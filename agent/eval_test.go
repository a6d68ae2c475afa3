package agent

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/dreamrl/dream/worldmodel"
)

func TestWilsonInterval(t *testing.T) {
	cases := []struct {
		name           string
		successes, n   int
		wantLo, wantHi float64
		tol            float64
	}{
		// The formula to four decimals, and its closed forms at the ends:
		// hi = (z²/n)/(1 + z²/n) at 0 of n, lo = 1/(1 + z²) at 1 of 1.
		{"0 of 20", 0, 20, 0, 0.1611, 1e-4},
		{"20 of 20", 20, 20, 0.8389, 1, 1e-4},
		{"9 of 20", 9, 20, 0.2582, 0.6579, 1e-4},
		{"0 of 20 closed form", 0, 20, 0, (z95 * z95 / 20) / (1 + z95*z95/20), 1e-15},
		{"1 of 1", 1, 1, 1 / (1 + z95*z95), 1, 1e-15},
		{"no trials", 0, 0, 0, 1, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			lo, hi := WilsonInterval(c.successes, c.n)
			if math.Abs(lo-c.wantLo) > c.tol || math.Abs(hi-c.wantHi) > c.tol {
				t.Errorf("WilsonInterval(%d, %d) = [%.6f, %.6f], want [%.4f, %.4f]", c.successes, c.n, lo, hi, c.wantLo, c.wantHi)
			}
		})
	}
	t.Run("inside [0, 1] and holds the rate", func(t *testing.T) {
		for n := 0; n <= 200; n++ {
			for k := 0; k <= n; k++ {
				lo, hi := WilsonInterval(k, n)
				p := 0.5
				if n > 0 {
					p = float64(k) / float64(n)
				}
				if !(0 <= lo && lo <= p && p <= hi && hi <= 1) {
					t.Fatalf("WilsonInterval(%d, %d) = [%g, %g]", k, n, lo, hi)
				}
			}
		}
	})
	t.Run("bad counts panic", func(t *testing.T) {
		for _, c := range [][2]int{{-1, 3}, {4, 3}} {
			func() {
				defer func() {
					if recover() == nil {
						t.Errorf("WilsonInterval(%d, %d) did not panic", c[0], c[1])
					}
				}()
				WilsonInterval(c[0], c[1])
			}()
		}
	})
}

func TestEvalUnmarshalJSON(t *testing.T) {
	lo, hi := WilsonInterval(9, 20)
	cases := []struct {
		name   string
		json   string
		lo, hi float64
	}{
		{"written before the interval", `{"steps":400,"episodes":20,"return":0.45,"success":0.45,"has_goal":true}`, lo, hi},
		{"with the interval", `{"episodes":20,"success":0.45,"success_lo":0.3,"success_hi":0.6,"has_goal":true}`, 0.3, 0.6},
		{"no goal", `{"episodes":20,"return":3,"has_goal":false}`, 0, 0},
		{"no evaluation yet", `{"steps":0,"episodes":0,"has_goal":false}`, 0, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var ev Eval
			if err := json.Unmarshal([]byte(c.json), &ev); err != nil {
				t.Fatal(err)
			}
			if ev.SuccessLo != c.lo || ev.SuccessHi != c.hi {
				t.Errorf("success interval [%g, %g], want [%g, %g]", ev.SuccessLo, ev.SuccessHi, c.lo, c.hi)
			}
			back, err := json.Marshal(ev)
			if err != nil {
				t.Fatal(err)
			}
			var again Eval
			if err := json.Unmarshal(back, &again); err != nil || again != ev {
				t.Errorf("round trip %+v, want %+v (%v)", again, ev, err)
			}
		})
	}
	if err := json.Unmarshal([]byte(`{"episodes":"many"}`), new(Eval)); err == nil {
		t.Errorf("a bad field was accepted")
	}
}

// writeCSV writes records to path.
func writeCSV(t *testing.T, path string, recs [][]string) {
	t.Helper()
	var b strings.Builder
	cw := csv.NewWriter(&b)
	cw.WriteAll(recs)
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

// withoutColumns returns recs without the named columns.
func withoutColumns(recs [][]string, names ...string) [][]string {
	var drop []int
	for i, name := range recs[0] {
		if slices.Contains(names, name) {
			drop = append(drop, i)
		}
	}
	out := make([][]string, len(recs))
	for r, rec := range recs {
		for i, v := range rec {
			if !slices.Contains(drop, i) {
				out[r] = append(out[r], v)
			}
		}
	}
	return out
}

func TestOpenMetricsOlderHeader(t *testing.T) {
	names := worldmodel.Metrics{}.Names()
	header := append(append([]string{}, baseColumns...), names...)
	row := func(kind, steps, success, skipped string) map[string]string {
		return map[string]string{"kind": kind, "env_steps": steps, "success": success, "skipped_steps": skipped, names[0]: "0.5"}
	}
	rows := []map[string]string{row("log", "50", "", "1"), row("eval", "100", "0.5", "2"), row("log", "150", "", "3")}
	format := func(cols []string, rows []map[string]string) [][]string {
		recs := [][]string{cols}
		for _, r := range rows {
			rec := make([]string, len(cols))
			for i, c := range cols {
				rec[i] = r[c]
			}
			recs = append(recs, rec)
		}
		return recs
	}
	older := withoutColumns([][]string{header}, "success_lo", "success_hi")[0]
	cases := []struct {
		name     string
		written  [][]string
		keepUpTo int
		want     [][]string
	}{
		{"current header", format(header, rows), 100, format(header, rows[:2])},
		{"older header", format(older, rows), 150, format(header, rows)},
		{"older header, rows after the checkpoint", format(older, rows), 100, format(header, rows[:2])},
		{"not a metrics log", [][]string{{"a", "b"}, {"1", "2"}}, 100, [][]string{header}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), MetricsFile)
			writeCSV(t, path, c.written)
			if _, err := openMetrics(path, names, c.keepUpTo); err != nil {
				t.Fatal(err)
			}
			if got := readMetrics(t, filepath.Dir(path)); !slices.EqualFunc(got, c.want, slices.Equal) {
				t.Errorf("metrics.csv\n%v\nwant\n%v", got, c.want)
			}
		})
	}
}

// TestResumeOlderMetrics resumes a run whose metrics.csv has the header
// of an older version: the rows before keep their values under the
// current header and the new evaluations log their success interval.
func TestResumeOlderMetrics(t *testing.T) {
	dir := t.TempDir()
	run, err := New(debugConfig(t, "gridworld/frozenlake-4x4", 200), dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := run.Train(context.Background()); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, MetricsFile)
	before := readMetrics(t, dir)
	older := withoutColumns(before, "success_lo", "success_hi")
	writeCSV(t, path, older)

	resumed, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := resumed.SetSteps(300); err != nil {
		t.Fatal(err)
	}
	if err := resumed.Train(context.Background()); err != nil {
		t.Fatal(err)
	}
	after := readMetrics(t, dir)
	if !slices.Equal(after[0], before[0]) {
		t.Fatalf("header %v, want %v", after[0], before[0])
	}
	if len(after) <= len(before) {
		t.Fatalf("%d rows after resuming, had %d", len(after), len(before))
	}
	col := func(name string) int { return slices.Index(after[0], name) }
	lo, hi := col("success_lo"), col("success_hi")
	for i, rec := range after[1:] {
		if i+1 < len(before) {
			// A row from before: the same values, its interval empty.
			kept := withoutColumns([][]string{after[0], rec}, "success_lo", "success_hi")[1]
			if !slices.Equal(kept, older[i+1]) || rec[lo] != "" || rec[hi] != "" {
				t.Errorf("row %d %v, want %v with an empty interval", i+1, rec, older[i+1])
			}
			continue
		}
		if rec[0] == "eval" && (rec[lo] == "" || rec[hi] == "") {
			t.Errorf("evaluation after resuming without a success interval: %v", rec)
		}
	}
}

// TestEvaluateContextStops checks that an evaluation whose context is done
// stops before its next episode with ErrInterrupted, and that one whose
// context is live plays every episode.
func TestEvaluateContextStops(t *testing.T) {
	cfg := debugConfig(t, "gridworld/frozenlake-4x4", 100)
	r, err := New(cfg, filepath.Join(t.TempDir(), "run"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ev, err := r.EvaluateContext(ctx, 2, 1, nil)
	if err != nil || ev.Episodes != 2 {
		t.Fatalf("live context: %+v, %v", ev, err)
	}
	cancel()
	if _, err := r.EvaluateContext(ctx, 2, 1, nil); !errors.Is(err, ErrInterrupted) {
		t.Fatalf("done context: %v, want ErrInterrupted", err)
	}
}
