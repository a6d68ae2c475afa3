package compare

import (
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/dreamrl/dream/agent"
	"github.com/dreamrl/dream/internal/atomicfile"
	"github.com/dreamrl/dream/worldmodel/loss"
)

// Errors a caller branches on.
var (
	// ErrUnfinished reports a run directory whose run has not taken all
	// its steps.
	ErrUnfinished = errors.New("run not finished")
	// ErrMismatch reports run directories that cannot be compared, or a
	// run directory whose config is not the one a sweep asks for.
	ErrMismatch = errors.New("runs do not match")
)

// CalibrationFile is the name of the held-out calibration a comparison
// stores in each finished run directory, so that merging and rerunning do
// not play the episodes again.
const CalibrationFile = "calibration.json"

// HeldOutSeed is the seed of the first episode of the held-out
// calibration (episode i uses HeldOutSeed+i): far from the seeds dream
// eval uses by default, and training draws its episode seeds from the
// run's random stream, so these episodes are new to the model.
const HeldOutSeed uint64 = 1 << 40

// Calibration is the held-out calibration of a world model (see
// agent.Run.HeldOutCalibration and loss.Calibration), or its mean over
// seeds.
type Calibration struct {
	// N is the number of held-out transitions (summed over seeds in a
	// mean).
	N int `json:"n"`
	// NLLPerDim is the negative log-likelihood per latent dimension.
	NLLPerDim Float `json:"nll_per_dim"`
	// Within1 and Within2 are the shares of normalised residuals inside
	// ±1σ and ±2σ (0.683 and 0.954 when calibrated).
	Within1 Float `json:"within_1sigma"`
	Within2 Float `json:"within_2sigma"`
	// ECE is the expected calibration error of the central intervals.
	ECE Float `json:"ece"`
}

func fromLoss(c loss.Calibration) Calibration {
	return Calibration{N: c.N, NLLPerDim: Float(c.NLLPerDim), Within1: Float(c.Within1), Within2: Float(c.Within2), ECE: Float(c.ECE)}
}

// calibrationRecord is the content of CalibrationFile.
type calibrationRecord struct {
	EnvSteps  int    `json:"env_steps"`
	Episodes  int    `json:"episodes"`
	FirstSeed uint64 `json:"first_seed"`
	Calibration
}

// RunResult is what one finished run contributes to a comparison.
type RunResult struct {
	Job Job
	// Dir is the run directory.
	Dir    string
	Config agent.Config
	// Curve holds the run's evaluations, sorted by steps.
	Curve []Point
	// HasGoal tells whether the environment reports success.
	HasGoal     bool
	Calibration Calibration
}

// Final is the run's last evaluation (zero Point for an empty curve).
func (r RunResult) Final() Point {
	if len(r.Curve) == 0 {
		nan := math.NaN()
		return Point{Return: nan, ReturnLo: nan, ReturnHi: nan, Success: nan, SuccessLo: nan, SuccessHi: nan}
	}
	return r.Curve[len(r.Curve)-1]
}

// ReadCurve reads the evaluation rows of a run directory's metrics.csv
// (kind "eval"): steps, mean return and success rate with their
// intervals (NaN where a column is empty or, in a log written by an
// older version, missing). It also reports whether any row had a success
// rate.
func ReadCurve(dir string) (curve []Point, hasGoal bool, err error) {
	return ReadCurveFile(filepath.Join(dir, agent.MetricsFile))
}

// ReadCurveFile is ReadCurve of a metrics file by its path, such as one
// kept apart from its run directory.
func ReadCurveFile(path string) (curve []Point, hasGoal bool, err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, false, fmt.Errorf("compare: curve %s: %w", path, err)
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.FieldsPerRecord = -1
	recs, err := r.ReadAll()
	if err != nil {
		return nil, false, fmt.Errorf("compare: curve %s: %w", path, err)
	}
	if len(recs) == 0 {
		return nil, false, fmt.Errorf("compare: curve %s: empty file", path)
	}
	col := map[string]int{}
	for i, name := range recs[0] {
		col[name] = i
	}
	for _, name := range []string{"kind", "env_steps", "eval_return", "success"} {
		if _, ok := col[name]; !ok {
			return nil, false, fmt.Errorf("compare: curve %s: no %s column", path, name)
		}
	}
	for i, rec := range recs[1:] {
		if len(rec) != len(recs[0]) {
			return nil, false, fmt.Errorf("compare: curve %s line %d: %d fields, want %d", path, i+2, len(rec), len(recs[0]))
		}
		if rec[col["kind"]] != "eval" {
			continue
		}
		p := Point{}
		if p.Steps, err = strconv.Atoi(rec[col["env_steps"]]); err != nil {
			return nil, false, fmt.Errorf("compare: curve %s line %d: env_steps: %w", path, i+2, err)
		}
		if p.Return, err = strconv.ParseFloat(rec[col["eval_return"]], 64); err != nil {
			return nil, false, fmt.Errorf("compare: curve %s line %d: eval_return: %w", path, i+2, err)
		}
		for _, f := range []struct {
			name string
			v    *float64
		}{{"eval_return_lo", &p.ReturnLo}, {"eval_return_hi", &p.ReturnHi},
			{"success", &p.Success}, {"success_lo", &p.SuccessLo}, {"success_hi", &p.SuccessHi}} {
			*f.v = math.NaN()
			k, ok := col[f.name]
			if !ok || rec[k] == "" {
				continue
			}
			if *f.v, err = strconv.ParseFloat(rec[k], 64); err != nil {
				return nil, false, fmt.Errorf("compare: curve %s line %d: %s: %w", path, i+2, f.name, err)
			}
		}
		if !math.IsNaN(p.Success) {
			hasGoal = true
		}
		curve = append(curve, p)
	}
	slices.SortStableFunc(curve, func(a, b Point) int { return a.Steps - b.Steps })
	return curve, hasGoal, nil
}

// fillSuccessIntervals gives the points of a log written before
// metrics.csv had success_lo and success_hi the Wilson interval of their
// success rate: every evaluation of a run plays episodes episodes, so the
// rate is a count of wins over them.
func fillSuccessIntervals(curve []Point, episodes int) {
	for i, p := range curve {
		if math.IsNaN(p.Success) || !math.IsNaN(p.SuccessLo) || episodes < 1 {
			continue
		}
		wins := min(max(int(math.Round(p.Success*float64(episodes))), 0), episodes)
		curve[i].SuccessLo, curve[i].SuccessHi = agent.WilsonInterval(wins, episodes)
	}
}

// checkpointSteps is the env step of a run directory's newest checkpoint
// (its name is ckpt-<steps>.ckpt), and false if it has none.
func checkpointSteps(dir string) (int, bool, error) {
	ckpts, err := agent.Checkpoints(dir)
	if err != nil {
		return 0, false, fmt.Errorf("compare: run %s: %w", dir, err)
	}
	if len(ckpts) == 0 {
		return 0, false, nil
	}
	name := strings.TrimSuffix(strings.TrimPrefix(filepath.Base(ckpts[len(ckpts)-1]), "ckpt-"), filepath.Ext(ckpts[len(ckpts)-1]))
	n, err := strconv.Atoi(name)
	if err != nil {
		return 0, false, fmt.Errorf("compare: run %s: checkpoint name %s", dir, ckpts[len(ckpts)-1])
	}
	return n, true, nil
}

// readCalibration returns the stored calibration of a run directory if
// it was measured at envSteps with the given episodes and seed.
func readCalibration(dir string, envSteps, episodes int, seed uint64) (Calibration, bool) {
	data, err := os.ReadFile(filepath.Join(dir, CalibrationFile))
	if err != nil {
		return Calibration{}, false
	}
	var rec calibrationRecord
	if err := json.Unmarshal(data, &rec); err != nil {
		return Calibration{}, false
	}
	if rec.EnvSteps != envSteps || rec.Episodes != episodes || rec.FirstSeed != seed {
		return Calibration{}, false
	}
	return rec.Calibration, true
}

// measureCalibration measures a finished run's held-out calibration and
// stores it in its directory.
func measureCalibration(run *agent.Run, dir string, episodes int) (Calibration, error) {
	c, err := run.HeldOutCalibration(episodes, HeldOutSeed)
	if err != nil {
		return Calibration{}, fmt.Errorf("compare: run %s: %w", dir, err)
	}
	rec := calibrationRecord{EnvSteps: run.EnvSteps(), Episodes: episodes, FirstSeed: HeldOutSeed, Calibration: fromLoss(c)}
	path := filepath.Join(dir, CalibrationFile)
	err = atomicfile.Write(path, func(w io.Writer) error {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(rec)
	})
	if err != nil {
		return Calibration{}, fmt.Errorf("compare: run %s: write %s: %w", dir, CalibrationFile, err)
	}
	return rec.Calibration, nil
}

// LoadRun reads a finished run directory: its config, its learning curve
// and its held-out calibration with the given number of episodes
// (measured with the trained agent and stored in CalibrationFile the
// first time). A run that has not taken all its steps is an error
// wrapping ErrUnfinished.
func LoadRun(dir string, calibrationEpisodes int) (RunResult, error) {
	cfg, err := agent.LoadConfig(dir)
	if err != nil {
		return RunResult{}, err
	}
	res := RunResult{Job: Job{Dynamics: cfg.Model.Dynamics, Seed: cfg.Seed}, Dir: dir, Config: cfg}
	steps, ok, err := checkpointSteps(dir)
	if err != nil {
		return res, err
	}
	if !ok || steps < cfg.Steps {
		return res, fmt.Errorf("compare: run %s: %w (%d of %d steps)", dir, ErrUnfinished, steps, cfg.Steps)
	}
	if res.Curve, res.HasGoal, err = ReadCurve(dir); err != nil {
		return res, err
	}
	if len(res.Curve) == 0 {
		return res, fmt.Errorf("compare: run %s: no evaluation in %s", dir, agent.MetricsFile)
	}
	fillSuccessIntervals(res.Curve, cfg.EvalEpisodes)
	if c, ok := readCalibration(dir, steps, calibrationEpisodes, HeldOutSeed); ok {
		res.Calibration = c
		return res, nil
	}
	run, err := agent.Open(dir)
	if err != nil {
		return res, err
	}
	res.Calibration, err = measureCalibration(run, dir, calibrationEpisodes)
	return res, err
}

// FindRuns lists the run directories in dirs: each dir that holds a run
// (a config.json) and each immediate subdirectory of one that does not.
// The result is sorted and has no duplicates.
func FindRuns(dirs []string) ([]string, error) {
	var out []string
	isRun := func(d string) bool {
		st, err := os.Stat(filepath.Join(d, agent.ConfigFile))
		return err == nil && st.Mode().IsRegular()
	}
	for _, d := range dirs {
		if isRun(d) {
			out = append(out, filepath.Clean(d))
			continue
		}
		entries, err := os.ReadDir(d)
		if err != nil {
			return nil, fmt.Errorf("compare: find runs in %s: %w", d, err)
		}
		for _, e := range entries {
			if sub := filepath.Join(d, e.Name()); e.IsDir() && isRun(sub) {
				out = append(out, filepath.Clean(sub))
			}
		}
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// shared is a run config with the fields a comparison varies cleared.
func shared(c agent.Config) agent.Config {
	c.Model.Dynamics = ""
	c.Seed = 0
	return c
}

// ConfigDiff lists the fields (JSON names, dotted) in which two configs
// differ, as "field: a vs b", sorted; nil if they are equal.
func ConfigDiff(a, b agent.Config) []string {
	fa, fb := flatten(a), flatten(b)
	var out []string
	for _, k := range diffKeys(fa, fb) {
		out = append(out, fmt.Sprintf("%s: %s vs %s", k, jsonText(fa[k]), jsonText(fb[k])))
	}
	return out
}

func jsonText(v any) string {
	if v == nil {
		return "unset"
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// describeDiff formats at most three differences for a one-line error.
func describeDiff(diff []string) string {
	if len(diff) > 3 {
		return strings.Join(diff[:3], "; ") + fmt.Sprintf("; and %d more", len(diff)-3)
	}
	return strings.Join(diff, "; ")
}

// CollectRuns loads the finished runs among the run directories in dirs
// (see FindRuns and LoadRun) for a comparison. Unfinished runs are
// skipped and listed in skipped. Besides their dynamics and seed, the
// runs may differ in any keys but env and map (one environment per
// comparison): the keys in which they differ (VariedKeys) are the ones
// the comparison varies, and each run's Job.Variant labels its values
// there (VariantLabel). Runs in other environments, or two runs of one
// (variant, dynamics, seed), are an error wrapping ErrMismatch. The
// result is sorted by variant (VariantOrder), dynamics, then seed.
func CollectRuns(dirs []string, calibrationEpisodes int) (runs []RunResult, skipped []string, err error) {
	found, err := FindRuns(dirs)
	if err != nil {
		return nil, nil, err
	}
	for _, dir := range found {
		r, err := LoadRun(dir, calibrationEpisodes)
		if errors.Is(err, ErrUnfinished) {
			skipped = append(skipped, dir)
			continue
		}
		if err != nil {
			return nil, nil, err
		}
		runs = append(runs, r)
	}
	configs := make([]agent.Config, len(runs))
	for i, r := range runs {
		configs[i] = r.Config
	}
	keys := VariedKeys(configs)
	for _, k := range keys {
		if why, fixed := fixedKey(k); fixed {
			for _, r := range runs[1:] {
				for _, d := range ConfigDiff(shared(runs[0].Config), shared(r.Config)) {
					if strings.HasPrefix(d, k+": ") {
						return nil, nil, fmt.Errorf("compare: %w: %s and %s differ in %s, and %s", ErrMismatch, runs[0].Dir, r.Dir, d, why)
					}
				}
			}
		}
	}
	seen := map[Job]string{}
	for i := range runs {
		if runs[i].Job.Variant, err = VariantLabel(runs[i].Config, keys); err != nil {
			return nil, nil, fmt.Errorf("compare: %w: run %s: %w", ErrMismatch, runs[i].Dir, err)
		}
		if prev, ok := seen[runs[i].Job]; ok {
			return nil, nil, fmt.Errorf("compare: %w: run %s is in both %s and %s", ErrMismatch, runs[i].Job.Name(), prev, runs[i].Dir)
		}
		seen[runs[i].Job] = runs[i].Dir
	}
	sortRuns(runs)
	return runs, skipped, nil
}

func sortRuns(runs []RunResult) {
	slices.SortFunc(runs, func(a, b RunResult) int { return compareJobs(a.Job, b.Job) })
}

// Float is a float64 that JSON encodes NaN and ±Inf as null (and decodes
// null as NaN), since JSON has no such numbers.
type Float float64

// MarshalJSON writes the number, or null if it is not finite.
func (f Float) MarshalJSON() ([]byte, error) {
	v := float64(f)
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return []byte("null"), nil
	}
	return json.Marshal(v)
}

// UnmarshalJSON reads a number, or null as NaN.
func (f *Float) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*f = Float(math.NaN())
		return nil
	}
	var v float64
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*f = Float(v)
	return nil
}
