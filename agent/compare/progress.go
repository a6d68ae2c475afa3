package compare

import (
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/dreamrl/dream/agent"
)

// RateWindow is the span over which a sweep measures its rate of
// environment steps: recent enough to follow the training phase rather
// than the fast random seed phase at the start of each run, long enough
// to cover the pauses between runs.
const RateWindow = 30 * time.Second

// Progress is a snapshot of a sweep's progress (see Sweep.Status).
type Progress struct {
	// Total is the number of runs of the shard; Done of them have
	// finished (including runs found finished) and Running are training.
	Total, Done, Running int
	// Steps is the environment-step budget of all the runs and Left the
	// steps still to train: a run resumed from a checkpoint counts only
	// the steps after it, a finished run none.
	Steps, Left int
	// Rate is the environment steps per second of all runs together over
	// the last RateWindow; 0 before it can be measured.
	Rate float64
	// Elapsed is the time since the sweep started.
	Elapsed time.Duration
	// Runs lists the runs training now, sorted by name.
	Runs []RunProgress
}

// RunProgress is the progress of one run of a sweep.
type RunProgress struct {
	Job Job
	// Steps is the run's environment steps so far and Total its budget.
	Steps, Total int
}

// ETA is the time the sweep needs at its current rate, Left/Rate, and
// false while the rate is unknown.
func (p Progress) ETA() (time.Duration, bool) {
	if p.Left == 0 {
		return 0, true
	}
	secs := float64(p.Left) / p.Rate
	if !(p.Rate > 0) || secs > maxETA.Seconds() {
		return 0, false
	}
	return time.Duration(secs * float64(time.Second)).Round(time.Second), true
}

// maxETA is the longest ETA reported; a longer one (a rate that has
// barely started) is as good as unknown.
const maxETA = 10_000 * time.Hour

// Line formats the counts, the rate and the ETA on one short line, such
// as "1/4 runs done, 2 running, 1530 steps/s, ETA 1m5s" ("-" for a rate
// or an ETA not known yet; a rate below 10 steps/s with one decimal).
func (p Progress) Line() string {
	rate, eta := "-", "-"
	switch {
	case p.Rate >= 10:
		rate = fmt.Sprintf("%.0f", p.Rate)
	case p.Rate > 0:
		rate = fmt.Sprintf("%.1f", p.Rate)
	}
	if d, ok := p.ETA(); ok {
		eta = d.String()
	}
	return fmt.Sprintf("%d/%d runs done, %d running, %s steps/s, ETA %s", p.Done, p.Total, p.Running, rate, eta)
}

// StatusLine is the line a sweep writes to its log off a terminal: the
// elapsed time, Line and the steps of every run training, such as
// "status after 1m30s: 1/4 runs done, 2 running, 1530 steps/s, ETA 1m5s;
// training gaussian-s1 120/240, deterministic-s0 80/240".
func (p Progress) StatusLine() string {
	line := fmt.Sprintf("status after %s: %s", p.Elapsed.Round(time.Second), p.Line())
	if len(p.Runs) > 0 {
		parts := make([]string, len(p.Runs))
		for i, r := range p.Runs {
			parts[i] = fmt.Sprintf("%s %d/%d", r.Job.Name(), r.Steps, r.Total)
		}
		line += "; training " + strings.Join(parts, ", ")
	}
	return line
}

// Fraction is the share of the budget trained, (Steps − Left)/Steps; 1
// for an empty budget.
func (p Progress) Fraction() float64 {
	if p.Steps <= 0 {
		return 1
	}
	return math.Min(1, math.Max(0, float64(p.Steps-p.Left)/float64(p.Steps)))
}

// runState is what a tracker knows of one run.
type runState struct {
	start, steps, total int // env steps when first seen in this process, now, budget
	running, done       bool
}

// sample is the environment steps trained by the sweep at a time.
type sample struct {
	at      time.Time
	trained int
}

// tracker keeps the progress of the runs of a sweep and writes the log.
type tracker struct {
	mu      sync.Mutex
	out     io.Writer
	start   time.Time
	order   []Job
	runs    map[Job]*runState
	samples []sample // oldest first, spanning RateWindow or more
	// changed, when not nil, asks statusLoop for a report now: a run
	// started, stopped or finished.
	changed chan struct{}
}

// notify asks for a report at once if the tracker takes such requests.
func (t *tracker) notify() {
	select {
	case t.changed <- struct{}{}:
	default:
	}
}

// newTracker tracks jobs, each with its budget total[k] and the env steps
// it starts from (a resumed run's checkpoint), at[k].
func newTracker(out io.Writer, jobs []Job, at, total []int, now time.Time) *tracker {
	t := &tracker{out: out, start: now, order: jobs, runs: make(map[Job]*runState, len(jobs))}
	for k, j := range jobs {
		steps := min(at[k], total[k])
		t.runs[j] = &runState{start: steps, steps: steps, total: total[k]}
	}
	t.samples = []sample{{now, 0}}
	return t
}

func (t *tracker) printf(format string, args ...any) {
	if t.out == nil {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	fmt.Fprintf(t.out, format, args...)
}

// set records a run's env steps; the caller holds t.mu.
func (r *runState) set(steps, total int) {
	r.total = total
	r.steps = min(steps, total)
	r.start = min(r.start, r.steps)
}

func (t *tracker) started(j Job, steps, total int) {
	t.mu.Lock()
	r := t.runs[j]
	r.start, r.running = steps, true
	r.set(steps, total)
	t.mu.Unlock()
	verb := "training"
	if steps > 0 {
		verb = "resuming"
	}
	t.printf("%s %s at step %d of %d\n", verb, j.Name(), steps, total)
	t.notify()
}

func (t *tracker) progress(j Job, st agent.Status) {
	t.mu.Lock()
	t.runs[j].set(st.EnvSteps, st.TotalSteps)
	t.mu.Unlock()
}

func (t *tracker) stopped(j Job, steps, total int, err error) {
	t.mu.Lock()
	r := t.runs[j]
	r.running = false
	r.set(steps, total)
	t.mu.Unlock()
	if errors.Is(err, agent.ErrInterrupted) {
		t.printf("interrupted %s at step %d of %d (checkpoint written)\n", j.Name(), steps, total)
	} else {
		t.printf("failed %s at step %d of %d: %v\n", j.Name(), steps, total, err)
	}
	t.notify()
}

// finished records a finished run and logs its line: its run directory's
// name, how it finished (with its wall time), the final evaluation's
// return and success rate with their 95% intervals, and the AUC.
func (t *tracker) finished(j Job, res RunResult, how string) {
	t.mu.Lock()
	r := t.runs[j]
	r.running, r.done = false, true
	r.set(r.total, r.total)
	done := 0
	for _, r := range t.runs {
		if r.done {
			done++
		}
	}
	t.mu.Unlock()
	t.printf("[%d/%d] %s\n", done, len(t.order), finishedLine(j, res, how))
	t.notify()
}

// finishedLine formats what a finished run reached, named by its run
// directory, such as "gaussian-s0 finished in 12.3s: 240 steps, final
// return 0.25 [0, 0.5], success 0.25 [0.05, 0.7], AUC 0.1".
func finishedLine(j Job, res RunResult, how string) string {
	f := res.Final()
	line := fmt.Sprintf("%s %s: %d steps, final return %s", j.Name(), how, f.Steps, withInterval("%.4g", f.Return, f.ReturnLo, f.ReturnHi))
	if res.HasGoal {
		line += ", success " + withInterval("%.2f", f.Success, f.SuccessLo, f.SuccessHi)
	}
	return line + fmt.Sprintf(", AUC %.4g", AUC(res.Curve))
}

// withInterval formats v, followed by [lo, hi] when both are known.
func withInterval(format string, v, lo, hi float64) string {
	s := fmt.Sprintf(format, v)
	if math.IsNaN(lo) || math.IsNaN(hi) {
		return s
	}
	return s + " [" + fmt.Sprintf(format, lo) + ", " + fmt.Sprintf(format, hi) + "]"
}

// snapshot returns the progress at now, and records now's trained steps
// for the rate.
func (t *tracker) snapshot(now time.Time) Progress {
	t.mu.Lock()
	defer t.mu.Unlock()
	p := Progress{Total: len(t.order), Elapsed: now.Sub(t.start)}
	trained := 0
	for _, j := range t.order {
		r := t.runs[j]
		p.Steps += r.total
		p.Left += r.total - r.steps
		trained += r.steps - r.start
		switch {
		case r.done:
			p.Done++
		case r.running:
			p.Running++
			p.Runs = append(p.Runs, RunProgress{Job: j, Steps: r.steps, Total: r.total})
		}
	}
	slices.SortFunc(p.Runs, func(a, b RunProgress) int { return strings.Compare(a.Job.Name(), b.Job.Name()) })
	t.samples = append(t.samples, sample{now, trained})
	// Keep the newest sample at least RateWindow old, and those after it.
	for len(t.samples) > 2 && now.Sub(t.samples[1].at) >= RateWindow {
		t.samples = t.samples[1:]
	}
	p.Rate = rate(t.samples)
	return p
}

// rate is the steps per second between the first and the last sample,
// and 0 if no time passed between them.
func rate(s []sample) float64 {
	first, last := s[0], s[len(s)-1]
	dt := last.at.Sub(first.at).Seconds()
	if dt <= 0 {
		return 0
	}
	return float64(last.trained-first.trained) / dt
}

// statusLoop calls report with the progress every period, and whenever
// a run starts, stops or finishes if t.changed is set, until the returned
// function is called.
func (t *tracker) statusLoop(period time.Duration, report func(Progress)) (stop func()) {
	quit := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(period)
		defer tick.Stop()
		for {
			select {
			case <-quit:
				return
			case now := <-tick.C:
				report(t.snapshot(now))
			case <-t.changed:
				report(t.snapshot(time.Now()))
			}
		}
	}()
	return func() {
		close(quit)
		wg.Wait()
	}
}
