package compare

import (
	"math"
	"testing"
	"time"

	"github.com/dreamrl/dream/agent"
)

func TestProgressFormat(t *testing.T) {
	g0, d1 := Job{Dynamics: "gaussian", Seed: 0}, Job{Dynamics: "deterministic", Seed: 1}
	cases := []struct {
		name   string
		p      Progress
		line   string
		status string
		frac   float64
	}{
		{"no rate yet",
			Progress{Total: 4, Running: 2, Steps: 960, Left: 960, Runs: []RunProgress{{d1, 0, 240}, {g0, 0, 240}}},
			"0/4 runs done, 2 running, - steps/s, ETA -",
			"status after 0s: 0/4 runs done, 2 running, - steps/s, ETA -; training deterministic-s1 0/240, gaussian-s0 0/240", 0},
		// 600 steps left at 40 steps/s: 15 s.
		{"rate and ETA",
			Progress{Total: 4, Done: 1, Running: 2, Steps: 960, Left: 600, Rate: 40, Elapsed: 92400 * time.Millisecond, Runs: []RunProgress{{g0, 120, 240}}},
			"1/4 runs done, 2 running, 40 steps/s, ETA 15s",
			"status after 1m32s: 1/4 runs done, 2 running, 40 steps/s, ETA 15s; training gaussian-s0 120/240", 0.375},
		// 3 runs of 1000 steps, one resumed at 400: 2600 left at 1.3 steps/s.
		{"hours",
			Progress{Total: 3, Running: 1, Steps: 3000, Left: 2600, Rate: 1.3, Elapsed: time.Hour},
			"0/3 runs done, 1 running, 1.3 steps/s, ETA 33m20s",
			"status after 1h0m0s: 0/3 runs done, 1 running, 1.3 steps/s, ETA 33m20s", 400.0 / 3000},
		{"all done",
			Progress{Total: 2, Done: 2, Steps: 480, Elapsed: 30 * time.Second},
			"2/2 runs done, 0 running, - steps/s, ETA 0s",
			"status after 30s: 2/2 runs done, 0 running, - steps/s, ETA 0s", 1},
		{"rate too slow for an ETA",
			Progress{Total: 1, Running: 1, Steps: 1e9, Left: 1e9, Rate: 1e-3},
			"0/1 runs done, 1 running, 0.0 steps/s, ETA -",
			"status after 0s: 0/1 runs done, 1 running, 0.0 steps/s, ETA -", 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := c.p.Line(); got != c.line {
				t.Errorf("Line() = %q, want %q", got, c.line)
			}
			if got := c.p.StatusLine(); got != c.status {
				t.Errorf("StatusLine() = %q, want %q", got, c.status)
			}
			if got := c.p.Fraction(); math.Abs(got-c.frac) > 1e-12 {
				t.Errorf("Fraction() = %g, want %g", got, c.frac)
			}
		})
	}
}

// TestTrackerProgress drives a tracker through a sweep of three runs (one
// found finished, one resumed at step 400 of 1000, one new) at given
// times and checks the counts, the steps left and the rate.
func TestTrackerProgress(t *testing.T) {
	a, b, c := Job{Dynamics: "deterministic", Seed: 0}, Job{Dynamics: "gaussian", Seed: 0}, Job{Dynamics: "gaussian", Seed: 1}
	t0 := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }
	tr := newTracker(nil, []Job{a, b, c}, []int{1000, 400, 0}, []int{1000, 1000, 1000}, t0)
	status := func(j Job, steps int) { tr.progress(j, agent.Status{EnvSteps: steps, TotalSteps: 1000}) }
	steps := []struct {
		name    string
		do      func()
		now     float64
		done    int
		running int
		left    int
		rate    float64
	}{
		{"start", func() {}, 0, 0, 0, 1600, 0},
		{"first finished", func() { tr.finished(a, RunResult{}, "already finished") }, 1, 1, 0, 1600, 0},
		{"resumed", func() { tr.started(b, 400, 1000); status(b, 500) }, 10, 1, 1, 1500, 10},
		{"second starts", func() { status(b, 700); tr.started(c, 0, 1000); status(c, 300) }, 20, 1, 2, 1000, 30},
		// The window now starts at the sample of 10 s: 1100 − 100 steps
		// trained in 30 s.
		{"window slides", func() { status(b, 1000); status(c, 500) }, 40, 1, 2, 500, 1000.0 / 30},
		{"resumed finishes", func() { tr.finished(b, RunResult{}, "finished in 40s") }, 41, 2, 1, 500, 1000.0 / 31},
	}
	for _, s := range steps {
		s.do()
		p := tr.snapshot(at(s.now))
		if p.Total != 3 || p.Done != s.done || p.Running != s.running || p.Left != s.left || p.Steps != 3000 || math.Abs(p.Rate-s.rate) > 1e-9 {
			t.Errorf("%s: %+v, want %d done, %d running, %d left of 3000, rate %g", s.name, p, s.done, s.running, s.left, s.rate)
		}
		if len(p.Runs) != s.running {
			t.Errorf("%s: runs %v", s.name, p.Runs)
		}
	}
}

func TestFinishedLine(t *testing.T) {
	nan := math.NaN()
	curve := []Point{
		{Steps: 100, Return: 0, ReturnLo: 0, ReturnHi: 0, Success: 0, SuccessLo: 0, SuccessHi: 0.1611},
		{Steps: 200, Return: 0.45, ReturnLo: 0.2142, ReturnHi: 0.6858, Success: 0.45, SuccessLo: 0.2582, SuccessHi: 0.6579},
	}
	cases := []struct {
		name string
		res  RunResult
		how  string
		want string
	}{
		{"goal", RunResult{Curve: curve, HasGoal: true}, "finished in 12.3s",
			"gaussian-s3 finished in 12.3s: 200 steps, final return 0.45 [0.2142, 0.6858], success 0.45 [0.26, 0.66], AUC 0.225"},
		{"no goal", RunResult{Curve: []Point{{Steps: 240, Return: 21.5, ReturnLo: 18, ReturnHi: 25, Success: nan, SuccessLo: nan, SuccessHi: nan}}}, "already finished",
			"gaussian-s3 already finished: 240 steps, final return 21.5 [18, 25], AUC 21.5"},
		{"no intervals logged", RunResult{Curve: []Point{{Steps: 240, Return: 1, ReturnLo: nan, ReturnHi: nan, Success: 1, SuccessLo: nan, SuccessHi: nan}}, HasGoal: true}, "finished in 1s",
			"gaussian-s3 finished in 1s: 240 steps, final return 1, success 1.00, AUC 1"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := finishedLine(Job{Dynamics: "gaussian", Seed: 3}, c.res, c.how); got != c.want {
				t.Errorf("got  %q\nwant %q", got, c.want)
			}
		})
	}
	// A run of a variant is named by its directory too.
	j := Job{Variant: "planner.horizon=3", Dynamics: "gaussian", Seed: 3}
	if got, want := finishedLine(j, cases[1].res, cases[1].how), "planner.horizon=3_"+cases[1].want; got != want {
		t.Errorf("got  %q\nwant %q", got, want)
	}
}
