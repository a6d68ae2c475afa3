package compare

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/dreamrl/dream/agent"
)

// ErrSweep reports sweep settings that cannot be used.
var ErrSweep = errors.New("bad sweep")

// Sweep trains every dynamics, with every config variant, on the same
// seeds with everything else identical, each (variant, dynamics, seed)
// in its own run directory under Out, and summarises the comparison.
// The zero value of each field means the default written next to it.
type Sweep struct {
	// Config is the run config every run shares; each run sets its
	// Model.Dynamics and Seed.
	Config agent.Config
	// Variants, when not empty, are the configs compared, each in place
	// of Config (build them with Variants); the grid then runs every
	// dynamics and seed with each. Default: Config alone, unlabelled.
	Variants []Variant
	// Dynamics lists the latent dynamics to compare (any number; the
	// grid is sorted by name). Default: gaussian, deterministic.
	Dynamics []string
	// Seeds is the number of seeds, 0 … Seeds−1. Default 5.
	Seeds int
	// Out is the output directory; run j lives in Out/j.Name().
	Out string
	// Parallel is the number of runs trained at a time, each on its own
	// goroutine with its own Run. Default 1.
	Parallel int
	// Shard selects the part of the grid this process runs; the zero
	// value is the whole grid. A partial shard writes only its run
	// directories; merge them with Merge.
	Shard Shard
	// Analysis configures the summary.
	Analysis Analysis
	// Log receives one line per run started or finished and, unless
	// Status is set, a status line (Progress.StatusLine) every
	// StatusEvery; nil discards them.
	Log io.Writer
	// StatusEvery is the period of the status line. Default 30 s.
	StatusEvery time.Duration
	// Status, when set, receives the sweep's progress every StatusEvery
	// and whenever a run starts or ends, in place of the status line on
	// Log (a terminal redraws it). It is called from a goroutine of its
	// own, never twice at once.
	Status func(Progress)

	// onProgress, when set, also receives every run's progress (tests
	// interrupt a sweep through it).
	onProgress func(Job, agent.Status)
}

// WithDefaults returns s with its zero fields set to their defaults.
func (s Sweep) WithDefaults() Sweep {
	if len(s.Dynamics) == 0 {
		s.Dynamics = []string{"gaussian", "deterministic"}
	}
	if s.Seeds == 0 {
		s.Seeds = 5
	}
	if s.Parallel == 0 {
		s.Parallel = 1
	}
	if s.StatusEvery == 0 {
		s.StatusEvery = 30 * time.Second
	}
	s.Analysis = s.Analysis.WithDefaults()
	return s
}

// labels lists the labels of the sweep's variants (nil without any).
func (s Sweep) labels() []string {
	var out []string
	for _, v := range s.Variants {
		out = append(out, v.Label)
	}
	return out
}

// Grid returns the jobs of the whole grid, in order (see Grid).
func (s Sweep) Grid() []Job {
	s = s.WithDefaults()
	return Grid(s.labels(), s.Dynamics, s.Seeds)
}

// Jobs returns the jobs of the sweep's shard, in grid order.
func (s Sweep) Jobs() []Job {
	return s.Shard.Select(s.Grid())
}

// JobConfig is the resolved config of one run of the sweep. It panics if
// the job's variant is not one of the sweep's.
func (s Sweep) JobConfig(j Job) agent.Config {
	c := s.Config
	if len(s.Variants) > 0 || j.Variant != "" {
		k := slices.IndexFunc(s.Variants, func(v Variant) bool { return v.Label == j.Variant })
		if k < 0 {
			panic(fmt.Sprintf("compare: job %s has a variant the sweep does not have", j.Name()))
		}
		c = s.Variants[k].Config
	}
	c.Model.Dynamics = j.Dynamics
	c.Seed = j.Seed
	return c.WithDefaults()
}

// Validate checks the sweep and every run config of its grid.
func (s Sweep) Validate() error {
	s = s.WithDefaults()
	switch {
	case s.Out == "":
		return fmt.Errorf("%w: no output directory", ErrSweep)
	case s.Seeds < 1 || s.Seeds > 1_000_000:
		return fmt.Errorf("%w: seeds %d (allowed: 1 to 1000000)", ErrSweep, s.Seeds)
	case s.Parallel < 1 || s.Parallel > 1024:
		return fmt.Errorf("%w: parallel %d (allowed: 1 to 1024)", ErrSweep, s.Parallel)
	case s.Shard.Count < 0 || (!s.Shard.Whole() && (s.Shard.Index < 0 || s.Shard.Index >= s.Shard.Count)):
		return fmt.Errorf("%w: %w %s (allowed: i/n with 0 ≤ i < n)", ErrSweep, ErrShard, s.Shard)
	case s.StatusEvery < 0:
		return fmt.Errorf("%w: status period %v (allowed: positive)", ErrSweep, s.StatusEvery)
	}
	if err := s.checkVariants(); err != nil {
		return err
	}
	for _, d := range s.Dynamics {
		if d == "" || strings.ContainsAny(d, `/\`) {
			return fmt.Errorf("%w: dynamics %q (allowed: a dynamics name)", ErrSweep, d)
		}
	}
	for _, j := range Grid(s.labels(), s.Dynamics, 1) {
		if err := s.JobConfig(j).Validate(); err != nil {
			if j.Variant == "" {
				return fmt.Errorf("%w: dynamics %s: %w", ErrSweep, j.Dynamics, err)
			}
			return fmt.Errorf("%w: variant %s with dynamics %s: %w", ErrSweep, j.Variant, j.Dynamics, err)
		}
	}
	return s.Analysis.Validate()
}

// checkVariants checks that the variants share their environment, that
// every variant's label is the one a merge derives from the variants'
// configs (VariedKeys, VariantLabel) and that no two variants share one.
func (s Sweep) checkVariants() error {
	configs := make([]agent.Config, len(s.Variants))
	for i, v := range s.Variants {
		configs[i] = v.Config.WithDefaults()
	}
	keys := VariedKeys(configs)
	for _, k := range keys {
		if why, fixed := fixedKey(k); fixed {
			return fmt.Errorf("%w: the variants differ in %s, and %s", ErrSweep, k, why)
		}
	}
	seen := map[string]bool{}
	for i, v := range s.Variants {
		want, err := VariantLabel(configs[i], keys)
		if err != nil {
			return fmt.Errorf("%w: variant %q: %w", ErrSweep, v.Label, err)
		}
		if v.Label != want {
			return fmt.Errorf("%w: variant %q is labelled otherwise than its config, %q (allowed: variants built by Variants)", ErrSweep, v.Label, want)
		}
		if seen[v.Label] {
			return fmt.Errorf("%w: variant %q is given twice (allowed: variants whose configs differ)", ErrSweep, v.Label)
		}
		seen[v.Label] = true
	}
	return nil
}

// Run trains the runs of the sweep's shard, up to Parallel at a time, and
// for the whole grid writes the report (WriteReport) into Out and returns
// its summary; a partial shard returns a nil summary.
//
// Existing run directories are reused: a finished run is not trained
// again, a half-finished one resumes from its newest checkpoint, and one
// whose config differs from the sweep's is an error wrapping ErrMismatch
// (nothing is overwritten). When ctx is cancelled every training run
// writes a checkpoint and Run returns an error wrapping
// agent.ErrInterrupted; running the same sweep again resumes them.
func (s Sweep) Run(ctx context.Context) (*Summary, error) {
	s = s.WithDefaults()
	if err := s.Validate(); err != nil {
		return nil, err
	}
	jobs := s.Jobs()
	for _, j := range jobs {
		if err := s.checkExisting(j); err != nil {
			return nil, err
		}
	}
	if err := os.MkdirAll(s.Out, 0o755); err != nil {
		return nil, fmt.Errorf("compare: output %s: %w", s.Out, err)
	}
	t := s.newTracker(jobs, time.Now())
	report := s.Status
	if report == nil {
		report = func(p Progress) { t.printf("%s\n", p.StatusLine()) }
	} else {
		// A redrawn line follows every run that starts or ends; a log
		// gets its lines only every StatusEvery.
		t.changed = make(chan struct{}, 1)
	}
	stop := t.statusLoop(s.StatusEvery, report)
	results := make([]RunResult, len(jobs))
	errs := make([]error, len(jobs))
	next := make(chan int)
	var wg sync.WaitGroup
	for w := 0; w < min(s.Parallel, len(jobs)); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := range next {
				results[k], errs[k] = s.runJob(ctx, jobs[k], t)
			}
		}()
	}
feed:
	for k := range jobs {
		select {
		case next <- k:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	stop()

	var failed []error
	interrupted := ctx.Err() != nil
	done := 0
	for k, err := range errs {
		switch {
		case err == nil && results[k].Dir != "":
			done++
		case errors.Is(err, agent.ErrInterrupted):
			interrupted = true
		case err != nil:
			failed = append(failed, err)
		}
	}
	if len(failed) > 0 {
		return nil, fmt.Errorf("%w (%d of %d runs failed; the others are kept)", failed[0], len(failed), len(jobs))
	}
	if interrupted || done < len(jobs) {
		return nil, fmt.Errorf("%w: %d of %d runs finished; run the same command again to resume", agent.ErrInterrupted, done, len(jobs))
	}
	if !s.Shard.Whole() {
		t.printf("shard %s: %d runs finished in %s; merge the shards with: dream compare --merge DIR... --out DIR\n", s.Shard, done, s.Out)
		return nil, nil
	}
	sum, err := Analyze(results, s.Analysis)
	if err != nil {
		return nil, err
	}
	if err := WriteReport(s.Out, results, sum); err != nil {
		return nil, err
	}
	return sum, nil
}

// newTracker tracks the progress of jobs, each counted from its newest
// checkpoint (where it resumes).
func (s Sweep) newTracker(jobs []Job, now time.Time) *tracker {
	at, total := make([]int, len(jobs)), make([]int, len(jobs))
	for k, j := range jobs {
		total[k] = s.JobConfig(j).Steps
		if steps, ok, err := checkpointSteps(filepath.Join(s.Out, j.Name())); err == nil && ok {
			at[k] = steps
		}
	}
	return newTracker(s.Log, jobs, at, total, now)
}

// checkExisting fails if the job's run directory exists with another
// config.
func (s Sweep) checkExisting(j Job) error {
	dir := filepath.Join(s.Out, j.Name())
	entries, err := os.ReadDir(dir)
	if os.IsNotExist(err) || (err == nil && len(entries) == 0) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("compare: run %s: %w", dir, err)
	}
	have, err := agent.LoadConfig(dir)
	if err != nil {
		return fmt.Errorf("compare: run %s exists but is not a usable run directory (%w); move it away or choose another output directory", dir, err)
	}
	if d := ConfigDiff(have, s.JobConfig(j)); d != nil {
		return fmt.Errorf("compare: %w: run %s has another config than the one requested (%s, existing vs requested); choose another output directory", ErrMismatch, dir, describeDiff(d))
	}
	return nil
}

// runJob trains (or resumes, or skips) one run and loads its result.
func (s Sweep) runJob(ctx context.Context, j Job, t *tracker) (RunResult, error) {
	dir := filepath.Join(s.Out, j.Name())
	if ctx.Err() != nil {
		return RunResult{}, agent.ErrInterrupted
	}
	eps := s.Analysis.CalibrationEpisodes
	cfg := s.JobConfig(j)
	if steps, ok, err := checkpointSteps(dir); err == nil && ok && steps >= cfg.Steps {
		if _, ok := readCalibration(dir, steps, eps, HeldOutSeed); ok {
			res, err := LoadRun(dir, eps)
			if err == nil {
				res.Job = j
				t.finished(j, res, "already finished")
			}
			return res, err
		}
	}
	var run *agent.Run
	var err error
	if _, serr := os.Stat(filepath.Join(dir, agent.ConfigFile)); serr == nil {
		run, err = agent.Open(dir)
	} else {
		run, err = agent.New(cfg, dir)
	}
	if err != nil {
		return RunResult{}, fmt.Errorf("compare: run %s: %w", j.Name(), err)
	}
	defer run.Close() // a Gymnasium environment's child
	start := time.Now()
	how := "already finished"
	if run.EnvSteps() < run.Config().Steps {
		t.started(j, run.EnvSteps(), run.Config().Steps)
		run.Progress = func(st agent.Status) {
			t.progress(j, st)
			if s.onProgress != nil {
				s.onProgress(j, st)
			}
		}
		if err := run.Train(ctx); err != nil {
			t.stopped(j, run.EnvSteps(), run.Config().Steps, err)
			if errors.Is(err, agent.ErrInterrupted) {
				return RunResult{}, err
			}
			return RunResult{}, fmt.Errorf("compare: run %s: %w", j.Name(), err)
		}
		how = fmt.Sprintf("finished in %s", time.Since(start).Round(time.Second/10))
	}
	if _, err := measureCalibration(run, dir, eps); err != nil {
		return RunResult{}, err
	}
	res, err := LoadRun(dir, eps)
	if err != nil {
		return RunResult{}, err
	}
	res.Job = j
	t.finished(j, res, how)
	return res, nil
}

// Merge collects the finished runs in dirs (run directories, or
// directories holding them, such as the outputs of the shards of a
// sweep; see CollectRuns), writes their report into out and returns the
// summary. Unfinished runs are skipped and listed on log, and the
// variants are derived from the run configs. A merge of the shards of a
// sweep equals the unsharded sweep: both analyse the same runs, label
// their variants by the same rule, and every run depends only on its
// config and seed.
func Merge(dirs []string, out string, a Analysis, log io.Writer) (*Summary, error) {
	if err := a.Validate(); err != nil {
		return nil, err
	}
	a = a.WithDefaults()
	runs, skipped, err := CollectRuns(dirs, a.CalibrationEpisodes)
	if err != nil {
		return nil, err
	}
	if log != nil {
		for _, d := range skipped {
			fmt.Fprintf(log, "skipping unfinished run %s\n", d)
		}
	}
	if len(runs) == 0 {
		return nil, fmt.Errorf("compare: merge: %w: no finished run in %s", ErrMismatch, strings.Join(dirs, ", "))
	}
	sum, err := Analyze(runs, a)
	if err != nil {
		return nil, err
	}
	if err := WriteReport(out, runs, sum); err != nil {
		return nil, err
	}
	if log != nil {
		varied := ""
		if len(sum.Varied) > 0 {
			varied = ", varying " + strings.Join(sum.Varied, ", ")
		}
		fmt.Fprintf(log, "merged %d runs into %s%s\n", len(runs), out, varied)
	}
	return sum, nil
}
