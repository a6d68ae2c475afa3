package compare

import (
	"bytes"
	"encoding/json"
	"fmt"
	"image/png"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dreamrl/dream/agent"
)

// syntheticRuns makes runs of the given dynamics whose curves are
// R(s) = level·s/1000 + offset_seed at s = 100, 200, …, 1000, with the
// offsets given per seed.
func syntheticRuns(t testing.TB, dynamics string, level float64, offsets []float64, cal Calibration) []RunResult {
	t.Helper()
	cfg, err := agent.Preset("debug")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Env = "physics/cartpole"
	cfg.Steps = 1000
	var runs []RunResult
	for seed, off := range offsets {
		c := cfg
		c.Model.Dynamics = dynamics
		c.Seed = uint64(seed)
		r := RunResult{Job: Job{Dynamics: dynamics, Seed: uint64(seed)}, Config: c.WithDefaults(), Calibration: cal}
		for s := 100; s <= 1000; s += 100 {
			r.Curve = append(r.Curve, Point{Steps: s, Return: level*float64(s)/1000 + off, Success: math.NaN()})
		}
		runs = append(runs, r)
	}
	return runs
}

func TestAnalyzeKnownCurves(t *testing.T) {
	calA := Calibration{N: 10, NLLPerDim: 1, Within1: 0.6, Within2: 0.9, ECE: 0.1}
	calB := Calibration{N: 30, NLLPerDim: 3, Within1: 0.8, Within2: 1, ECE: 0.3}
	// "better" rises to 100 (+ seed offsets ±1), "worse" to 50. The AUC
	// of a line from s = 100 to 1000 is its value at s = 550.
	better := syntheticRuns(t, "gaussian", 100, []float64{-1, 0, 1}, calA)
	worse := syntheticRuns(t, "deterministic", 50, []float64{-1, 1, 0}, calB)
	worse[2].Calibration = calA
	runs := append(append([]RunResult{}, better...), worse...)
	s, err := Analyze(runs, Analysis{Resamples: 2000})
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Arms) != 2 || s.Arms[0].Name != "deterministic" || s.Arms[1].Name != "gaussian" {
		t.Fatalf("arms %+v", s.Arms)
	}
	det, gau := s.Arms[0], s.Arms[1]
	cases := []struct {
		name      string
		got, want float64
		tol       float64
	}{
		{"gaussian final", gau.FinalReturn.Mean, 100, 1e-12},
		{"deterministic final", det.FinalReturn.Mean, 50, 1e-12},
		{"gaussian AUC", gau.AUC.Mean, 55, 1e-12},
		{"deterministic AUC", det.AUC.Mean, 27.5, 1e-12},
		// Seeds at −1, 0, +1: the resampled mean ranges over [−1, 1].
		{"gaussian AUC lo", gau.AUC.Lo, 55 - 1, 1e-12},
		{"gaussian AUC hi", gau.AUC.Hi, 55 + 1, 1e-12},
		// The best final mean is 100: the default threshold is 0.9·100.
		{"threshold", float64(s.Threshold), 90, 1e-12},
		{"calibration NLL", float64(det.Calibration.NLLPerDim), (3 + 3 + 1) / 3.0, 1e-12},
		{"calibration within 1σ", float64(det.Calibration.Within1), (0.8 + 0.8 + 0.6) / 3, 1e-12},
		{"calibration ECE", float64(gau.Calibration.ECE), 0.1, 1e-12},
		{"calibration N", float64(det.Calibration.N), 70, 0},
		{"difference", s.Comparisons[0].Difference.Mean, 27.5 - 55, 1e-12},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if !near(c.got, c.want, c.tol) {
				t.Errorf("got %.15g, want %.15g", c.got, c.want)
			}
		})
	}
	// Gaussian seed k reaches 90 when 100·s/1000 + (k−1) ≥ 90: s = 1000,
	// 900, 900; the deterministic runs (at most 51) never do.
	want := []int{1000, 900, 900}
	for i, p := range gau.StepsToThreshold.PerSeed {
		if p == nil || *p != want[i] {
			t.Errorf("gaussian seed %d reached at %v, want %d", i, p, want[i])
		}
	}
	if gau.StepsToThreshold.Reached != 3 || det.StepsToThreshold.NotReached != 3 || !math.IsNaN(det.StepsToThreshold.Steps.Mean) {
		t.Errorf("threshold steps: gaussian %+v, deterministic %+v", gau.StepsToThreshold, det.StepsToThreshold)
	}
	if m := gau.StepsToThreshold.Steps.Mean; !near(m, 2800.0/3, 1e-9) {
		t.Errorf("mean steps to threshold %g, want %g", m, 2800.0/3)
	}
	c := s.Comparisons[0]
	if c.A != "deterministic" || c.B != "gaussian" || c.Higher != "gaussian" || !c.Significant || !c.Testable || c.BootstrapP != 0 {
		t.Errorf("comparison %+v", c)
	}
	if v := c.Verdict(0.05); !strings.HasPrefix(v, "gaussian had the higher AUC than deterministic (55 vs 27.5); the difference is significant at 0.05") {
		t.Errorf("verdict %q", v)
	}
	if len(gau.Curve) != 10 || gau.Curve[9].Steps != 1000 || !near(gau.Curve[9].Return.Mean, 100, 1e-12) || gau.Curve[9].Seeds != 3 {
		t.Errorf("mean curve %+v", gau.Curve)
	}

	// The order of the runs does not matter.
	rev := make([]RunResult, len(runs))
	for i, r := range runs {
		rev[len(runs)-1-i] = r
	}
	s2, err := Analyze(rev, Analysis{Resamples: 2000})
	if err != nil {
		t.Fatal(err)
	}
	if jsonOf(t, s) != jsonOf(t, s2) {
		t.Errorf("the summary depends on the order of the runs")
	}

	// A threshold set by the user, and a negative-return default.
	th := 40.0
	s3, _ := Analyze(runs, Analysis{Resamples: 100, Threshold: &th})
	if s3.Arms[0].StepsToThreshold.Reached != 3 || s3.ThresholdRule != "set by the user" {
		t.Errorf("user threshold: %+v, rule %q", s3.Arms[0].StepsToThreshold, s3.ThresholdRule)
	}
	neg := syntheticRuns(t, "gaussian", -200, []float64{0}, calA)
	s4, _ := Analyze(neg, Analysis{Resamples: 100})
	if !near(float64(s4.Threshold), -220, 1e-12) {
		t.Errorf("negative returns: threshold %g, want -220", float64(s4.Threshold))
	}
}

// One seed per dynamics: no test, no interval width, and the report
// still writes (NaNs become null in JSON and a dash in Markdown).
func TestAnalyzeOneSeed(t *testing.T) {
	runs := append(syntheticRuns(t, "gaussian", 10, []float64{0}, Calibration{}),
		syntheticRuns(t, "deterministic", 10, []float64{0}, Calibration{})...)
	s, err := Analyze(runs, Analysis{Resamples: 100})
	if err != nil {
		t.Fatal(err)
	}
	c := s.Comparisons[0]
	if c.Testable || c.Significant || !math.IsNaN(c.Welch.P) || c.Higher != "" {
		t.Errorf("comparison %+v", c)
	}
	if v := c.Verdict(0.05); !strings.Contains(v, "same AUC") || !strings.Contains(v, "cannot be tested") {
		t.Errorf("verdict %q", v)
	}
	dir := t.TempDir()
	if err := WriteReport(dir, runs, s); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(filepath.Join(dir, SummaryJSON))
	if !bytes.Contains(data, []byte(`"p": null`)) {
		t.Errorf("summary.json without null p:\n%s", data)
	}
	img, err := os.ReadFile(filepath.Join(dir, CurvesPNG))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := png.Decode(bytes.NewReader(img)); err != nil {
		t.Errorf("curves.png: %v", err)
	}
}

func TestAnalyzeErrors(t *testing.T) {
	if _, err := Analyze(nil, Analysis{}); err == nil {
		t.Errorf("no runs: no error")
	}
	nan := math.NaN()
	runs := syntheticRuns(t, "gaussian", 1, []float64{0}, Calibration{})
	if _, err := Analyze(runs, Analysis{Threshold: &nan}); err == nil || !strings.Contains(err.Error(), "threshold") {
		t.Errorf("NaN threshold: %v", err)
	}
}

func BenchmarkBootstrapMean(b *testing.B) {
	for _, n := range []int{5, 50} {
		b.Run(fmt.Sprintf("n=%d/B=10000", n), func(b *testing.B) {
			rng := rand.New(rand.NewPCG(1, 2))
			x := make([]float64, n)
			for i := range x {
				x[i] = rng.NormFloat64()
			}
			b.ReportAllocs()
			for b.Loop() {
				BootstrapMean(x, 0.95, 10000, rng)
			}
		})
	}
}

func BenchmarkAnalyze(b *testing.B) {
	for _, seeds := range []int{5, 20} {
		b.Run(fmt.Sprintf("2x%d-seeds", seeds), func(b *testing.B) {
			off := make([]float64, seeds)
			for i := range off {
				off[i] = float64(i % 3)
			}
			runs := append(syntheticRuns(b, "gaussian", 10, off, Calibration{}), syntheticRuns(b, "deterministic", 8, off, Calibration{})...)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Analyze(runs, Analysis{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkPlotCurves(b *testing.B) {
	runs := append(syntheticRuns(b, "gaussian", 10, []float64{0, 1, 2, 3, 4}, Calibration{}),
		syntheticRuns(b, "deterministic", 8, []float64{0, 1, 2, 3, 4}, Calibration{})...)
	s, err := Analyze(runs, Analysis{Resamples: 1000})
	if err != nil {
		b.Fatal(err)
	}
	b.Run("2-dynamics", func(b *testing.B) {
		b.ReportAllocs()
		var buf bytes.Buffer
		for b.Loop() {
			buf.Reset()
			if err := PlotCurves(&buf, s); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(buf.Len()), "png-bytes")
	})
}

// The summary's JSON names are stable: programs read them.
func TestSummaryJSONNames(t *testing.T) {
	runs := append(syntheticRuns(t, "gaussian", 10, []float64{0, 1}, Calibration{}),
		syntheticRuns(t, "deterministic", 8, []float64{0, 1}, Calibration{})...)
	s, err := Analyze(runs, Analysis{Resamples: 100})
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal([]byte(jsonOf(t, s)), &doc); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"env", "steps", "threshold", "threshold_rule", "dynamics", "comparisons", "level", "resamples"} {
		if _, ok := doc[k]; !ok {
			t.Errorf("summary.json lacks %q", k)
		}
	}
	d := doc["dynamics"].([]any)[0].(map[string]any)
	for _, k := range []string{"name", "seeds", "final_return", "auc", "auc_per_seed", "steps_to_threshold", "calibration", "curve"} {
		if _, ok := d[k]; !ok {
			t.Errorf("summary.json dynamics lacks %q", k)
		}
	}
	c := doc["comparisons"].([]any)[0].(map[string]any)
	for _, k := range []string{"a", "b", "difference", "bootstrap_p", "welch", "higher", "significant"} {
		if _, ok := c[k]; !ok {
			t.Errorf("summary.json comparison lacks %q", k)
		}
	}
}
