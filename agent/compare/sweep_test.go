package compare

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dreamrl/dream/agent"
)

// testSteps is the budget of every test run: a few hundred steps of the
// debug preset, evaluated three times.
const testSteps = 240

// testSweep is a two-seed sweep of the debug preset on CartPole (whose
// returns differ from seed to seed, unlike an untrained FrozenLake's).
func testSweep(t *testing.T, out string) Sweep {
	t.Helper()
	cfg, err := agent.Preset("debug")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Env = "physics/cartpole"
	cfg.Steps = testSteps
	cfg.SeedSteps = 80
	cfg.EvalEvery = 80
	cfg.EvalEpisodes = 2
	cfg.LogEvery = 40
	cfg.CheckpointEvery = 80
	return Sweep{Config: cfg, Seeds: 2, Out: out, Parallel: 2, StatusEvery: time.Hour,
		Analysis: Analysis{CalibrationEpisodes: 1, Resamples: 2000}}
}

// syncBuffer is a bytes.Buffer safe for the sweep's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func readCSV(t *testing.T, path string) [][]string {
	t.Helper()
	recs, err := csv.NewReader(bytes.NewReader(readFile(t, path))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	return recs
}

// TestSweepShardsMergeEqualUnsharded runs a sweep (two dynamics, two
// seeds, two at a time), checks its files, reruns it (nothing is
// trained again), then runs it as two shards, merges them and checks
// that the merge equals the unsharded sweep.
func TestSweepShardsMergeEqualUnsharded(t *testing.T) {
	root := t.TempDir()
	full := testSweep(t, filepath.Join(root, "full"))
	var log syncBuffer
	full.Log = &log
	sum, err := full.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(sum.Arms) != 2 || sum.Arms[0].Name != "deterministic" || sum.Arms[1].Name != "gaussian" {
		t.Fatalf("summary dynamics %+v", sum.Arms)
	}
	for _, j := range full.Jobs() {
		dir := filepath.Join(full.Out, j.Name())
		if ck, _ := agent.Checkpoints(dir); len(ck) == 0 {
			t.Errorf("%s: no checkpoint", dir)
		}
		if _, err := os.Stat(filepath.Join(dir, CalibrationFile)); err != nil {
			t.Errorf("%s: %v", dir, err)
		}
	}
	if got := strings.Count(log.String(), "finished in"); got != 4 {
		t.Errorf("log has %d finished lines, want 4:\n%s", got, log.String())
	}

	// Files.
	curves := readCSV(t, filepath.Join(full.Out, CurvesCSV))
	if want := []string{"env_steps", "dynamics", "seed", "eval_return", "success"}; !reflect.DeepEqual(curves[0], want) {
		t.Errorf("curves.csv header %v", curves[0])
	}
	if len(curves) != 1+4*3 {
		t.Errorf("curves.csv has %d rows, want 12 evaluations", len(curves)-1)
	}
	for _, rec := range curves[1:] {
		if _, err := strconv.ParseFloat(rec[3], 64); err != nil || rec[4] != "" {
			t.Errorf("curves.csv row %v", rec)
		}
	}
	img, err := png.Decode(bytes.NewReader(readFile(t, filepath.Join(full.Out, CurvesPNG))))
	if err != nil {
		t.Fatalf("curves.png: %v", err)
	}
	if b := img.Bounds(); b.Dx() < 300 || b.Dy() < 200 {
		t.Errorf("curves.png is %v", b)
	}
	md := string(readFile(t, filepath.Join(full.Out, SummaryMD)))
	for _, want := range []string{"deterministic", "gaussian", "physics/cartpole", "had the higher AUC", "significant at 0.05", "within 1σ"} {
		if !strings.Contains(md, want) {
			t.Errorf("summary.md lacks %q:\n%s", want, md)
		}
	}
	var fromJSON Summary
	if err := json.Unmarshal(readFile(t, filepath.Join(full.Out, SummaryJSON)), &fromJSON); err != nil {
		t.Fatal(err)
	}
	if len(fromJSON.Arms) != 2 || len(fromJSON.Comparisons) != 1 || fromJSON.Env != "physics/cartpole" {
		t.Errorf("summary.json %+v", fromJSON)
	}
	for _, d := range sum.Arms {
		if d.Calibration.N == 0 || len(d.Curve) != 3 || d.Curve[2].Steps != testSteps {
			t.Errorf("%s: calibration %+v, curve %+v", d.Name, d.Calibration, d.Curve)
		}
	}

	// A rerun trains nothing and writes the same report.
	log = syncBuffer{}
	full.Log = &log
	again, err := full.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Count(log.String(), "already finished"); got != 4 || strings.Contains(log.String(), "training ") {
		t.Errorf("rerun log:\n%s", log.String())
	}
	if !reflect.DeepEqual(jsonOf(t, again), jsonOf(t, sum)) {
		t.Errorf("rerun summary differs")
	}

	// Two shards into separate directories, then a merge.
	var shardDirs []string
	for i := 0; i < 2; i++ {
		s := testSweep(t, filepath.Join(root, "shard"+strconv.Itoa(i)))
		s.Shard = Shard{Index: i, Count: 2}
		s.Parallel = 1
		part, err := s.Run(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if part != nil {
			t.Errorf("shard %d returned a summary", i)
		}
		if _, err := os.Stat(filepath.Join(s.Out, SummaryJSON)); !os.IsNotExist(err) {
			t.Errorf("shard %d wrote a summary", i)
		}
		shardDirs = append(shardDirs, s.Out)
	}
	merged := filepath.Join(root, "merged")
	msum, err := Merge(shardDirs, merged, full.Analysis, nil)
	if err != nil {
		t.Fatal(err)
	}
	// The runs are deterministic given their seeds: the same evaluations,
	// hence the same curves and the same summary numbers.
	if a, b := readCSV(t, filepath.Join(full.Out, CurvesCSV)), readCSV(t, filepath.Join(merged, CurvesCSV)); !reflect.DeepEqual(a, b) {
		t.Errorf("curves.csv differ:\nunsharded %v\nmerged    %v", a, b)
	}
	if !bytes.Equal(readFile(t, filepath.Join(full.Out, SummaryJSON)), readFile(t, filepath.Join(merged, SummaryJSON))) {
		t.Errorf("summary.json differ:\n%s\n%s", readFile(t, filepath.Join(full.Out, SummaryJSON)), readFile(t, filepath.Join(merged, SummaryJSON)))
	}
	if !reflect.DeepEqual(jsonOf(t, msum), jsonOf(t, sum)) {
		t.Errorf("merged summary differs")
	}
	if !bytes.Equal(readFile(t, filepath.Join(full.Out, SummaryMD)), readFile(t, filepath.Join(merged, SummaryMD))) {
		t.Errorf("summary.md differ")
	}
}

func jsonOf(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestSweepResumes interrupts a sweep in its first run and reruns it:
// every run finishes with its full budget, and the interrupted run's
// metrics continue from where it stopped.
func TestSweepResumes(t *testing.T) {
	s := testSweep(t, t.TempDir())
	s.Dynamics = []string{"deterministic"}
	s.Parallel = 1
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	const stopAt = 120
	s.onProgress = func(j Job, st agent.Status) {
		if j.Seed == 0 && st.EnvSteps >= stopAt {
			cancel()
		}
	}
	var log syncBuffer
	s.Log = &log
	_, err := s.Run(ctx)
	if !errors.Is(err, agent.ErrInterrupted) {
		t.Fatalf("interrupted sweep: error %v, want ErrInterrupted", err)
	}
	first := filepath.Join(s.Out, Job{Dynamics: "deterministic", Seed: 0}.Name())
	steps, ok, err := checkpointSteps(first)
	if err != nil || !ok || steps != stopAt {
		t.Fatalf("interrupted run's checkpoint at %d (%v, %v), want %d", steps, ok, err, stopAt)
	}
	if _, err := os.Stat(filepath.Join(s.Out, SummaryJSON)); !os.IsNotExist(err) {
		t.Errorf("an interrupted sweep wrote a summary")
	}

	// The rerun counts the resumed run from its checkpoint: 120 of its
	// steps and all 240 of the run not started are left.
	now := time.Now()
	if p := s.newTracker(s.Jobs(), now).snapshot(now); p.Steps != 2*testSteps || p.Left != 2*testSteps-stopAt || p.Done != 0 {
		t.Errorf("progress before the rerun %+v, want %d steps left of %d", p, 2*testSteps-stopAt, 2*testSteps)
	}

	s.onProgress = nil
	log = syncBuffer{}
	s.Log = &log
	sum, err := s.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(log.String(), "resuming deterministic-s0 at step 120 of 240") {
		t.Errorf("log does not show the resume:\n%s", log.String())
	}
	for _, j := range s.Jobs() {
		dir := filepath.Join(s.Out, j.Name())
		run, err := agent.Open(dir)
		if err != nil {
			t.Fatal(err)
		}
		if run.EnvSteps() != testSteps {
			t.Errorf("%s: %d steps, want %d", j.Name(), run.EnvSteps(), testSteps)
		}
		// Every log interval and evaluation appears once, in order.
		recs := readCSV(t, filepath.Join(dir, agent.MetricsFile))
		var got []string
		for _, rec := range recs[1:] {
			got = append(got, rec[0]+"@"+rec[1])
		}
		want := []string{"log@40", "eval@80", "log@120", "eval@160", "log@200", "eval@240"}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: metrics rows %v, want %v", j.Name(), got, want)
		}
	}
	if len(sum.Arms) != 1 || len(sum.Arms[0].Seeds) != 2 || len(sum.Comparisons) != 0 {
		t.Errorf("summary %+v", sum)
	}
}

// TestSweepReportsProgress runs two runs at a time and checks that the
// log has one line per finished run and that the progress given to
// Status only moves forward.
func TestSweepReportsProgress(t *testing.T) {
	s := testSweep(t, t.TempDir())
	s.Dynamics = []string{"deterministic"}
	s.StatusEvery = 20 * time.Millisecond
	var mu sync.Mutex
	var seen []Progress
	s.Status = func(p Progress) {
		mu.Lock()
		seen = append(seen, p)
		mu.Unlock()
	}
	var log syncBuffer
	s.Log = &log
	if _, err := s.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	finished := regexp.MustCompile(`(?m)^\[[12]/2\] deterministic-s([01]) finished in [0-9.]+m?s: 240 steps, final return \S+ \[\S+, \S+\], AUC \S+$`)
	lines := finished.FindAllStringSubmatch(log.String(), -1)
	if len(lines) != 2 || lines[0][1] == lines[1][1] {
		t.Errorf("want one finished line per seed:\n%s", log.String())
	}
	if strings.Contains(log.String(), "status after") {
		t.Errorf("the status line went to the log as well as to Status:\n%s", log.String())
	}
	mu.Lock()
	defer mu.Unlock()
	if len(seen) == 0 {
		t.Fatal("Status was never called")
	}
	rated := false
	for i, p := range seen {
		if p.Total != 2 || p.Steps != 2*testSteps || p.Done+p.Running > 2 || p.Left < 0 || p.Left > p.Steps {
			t.Errorf("progress %d: %+v", i, p)
		}
		if i > 0 && (p.Left > seen[i-1].Left || p.Done < seen[i-1].Done) {
			t.Errorf("progress went back: %+v after %+v", p, seen[i-1])
		}
		rated = rated || p.Rate > 0
	}
	if !rated {
		t.Errorf("no progress had a rate: %+v", seen)
	}
}

// A run directory whose config differs from the sweep's is an error and
// is left as it was.
func TestSweepRefusesOtherConfig(t *testing.T) {
	s := testSweep(t, t.TempDir())
	other := s.JobConfig(Job{Dynamics: "gaussian", Seed: 1})
	other.Steps = 2 * testSteps
	dir := filepath.Join(s.Out, Job{Dynamics: "gaussian", Seed: 1}.Name())
	if _, err := agent.New(other, dir); err != nil {
		t.Fatal(err)
	}
	before := readFile(t, filepath.Join(dir, agent.ConfigFile))
	_, err := s.Run(context.Background())
	if !errors.Is(err, ErrMismatch) {
		t.Fatalf("error %v, want ErrMismatch", err)
	}
	if msg := err.Error(); strings.Contains(msg, "\n") || !strings.Contains(msg, "gaussian-s1") || !strings.Contains(msg, "steps: 480 vs 240") {
		t.Errorf("error %q: want one line naming the run and the field", msg)
	}
	if !bytes.Equal(before, readFile(t, filepath.Join(dir, agent.ConfigFile))) {
		t.Errorf("config.json was changed")
	}
	if entries, _ := os.ReadDir(s.Out); len(entries) != 1 {
		t.Errorf("other runs were started: %v", entries)
	}
}

func TestSweepValidate(t *testing.T) {
	cases := []struct {
		name string
		edit func(*Sweep)
		want string
	}{
		{"unknown dynamics", func(s *Sweep) { s.Dynamics = []string{"gaussian", "mixturez"} }, `"mixturez"`},
		{"seeds", func(s *Sweep) { s.Seeds = -1 }, "seeds -1"},
		{"parallel", func(s *Sweep) { s.Parallel = -2 }, "parallel -2"},
		{"shard", func(s *Sweep) { s.Shard = Shard{Index: 3, Count: 2} }, "3/2"},
		{"no output", func(s *Sweep) { s.Out = "" }, "output"},
		{"threshold", func(s *Sweep) { inf := math.Inf(1); s.Analysis.Threshold = &inf }, "threshold"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := testSweep(t, t.TempDir())
			c.edit(&s)
			err := s.Validate()
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("Validate() = %v, want an error naming %s", err, c.want)
			}
		})
	}
}
